package config

import (
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// RegisterFlags defines on fs the flags that fanoutd documents: --listen,
// --socket, --ws-path, --log-level, --dev and --workers. Load maps them to
// their keys. The defaults shown in help are the built-in ones; a value is
// applied only when the flag is actually given, so an unset flag never
// hides the file or the environment.
func RegisterFlags(fs *pflag.FlagSet) {
	d := Default()
	fs.String("listen", d.Listen, "TCP address (host:port) of the WebSocket listener")
	fs.String("socket", d.Socket, "path of the publish API's Unix socket; empty disables it")
	fs.String("ws-path", d.WSPath, "request path that upgrades to WebSocket")
	fs.String("log-level", d.LogLevel, "log level: debug, info, warn or error")
	fs.Bool("dev", d.Dev, "development mode: random HMAC secret if none is configured, dev token printed")
	fs.Int("workers", d.Workers, "transport worker pool size; 0 means 2 x GOMAXPROCS (at least 4)")
}

// applyFlags sets each key named by a flag that was given. Any flag whose
// folded name matches a key counts, not only those from RegisterFlags, so
// the command can expose more keys without changing this package.
func applyFlags(v *viper.Viper, fs *pflag.FlagSet, origin map[string]string) {
	if fs == nil {
		return
	}
	byFlag := map[string]string{}
	for key := range knownKeys().leaves {
		byFlag[flagName(key)] = key
	}
	// Visit walks only the flags that were set (Changed).
	fs.Visit(func(f *pflag.Flag) {
		if key, ok := byFlag[flagName(f.Name)]; ok {
			v.Set(key, f.Value.String())
			origin[key] = "flag --" + f.Name
		}
	})
}
