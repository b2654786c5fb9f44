package config

import (
	"fmt"

	"github.com/spf13/viper"
)

// SocketPath resolves the "socket" key alone, from src's file, environment
// and flags, with Load's precedence, without checking the rest: `fanoutd
// ctl` needs the daemon's socket, and an operator may not be allowed to
// read the secret files a full Load would want to see.
func SocketPath(src Source) (string, error) {
	v := viper.New()
	if _, err := readFile(v, src.File); err != nil {
		return "", err
	}
	path := Default().Socket
	if s := v.GetString("socket"); s != "" {
		path = s
	}
	if s := envMap(src.Environ)[envName("socket")]; s != "" {
		path = s
	}
	if src.Flags != nil {
		if f := src.Flags.Lookup("socket"); f != nil && f.Changed {
			path = f.Value.String()
		}
	}
	if path == "" {
		return "", fmt.Errorf("no socket configured (set socket: in the file, FANOUTD_SOCKET or --socket)")
	}
	return path, nil
}
