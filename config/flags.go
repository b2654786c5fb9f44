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
	for _, name := range []string{"listen", "socket", "ws-path", "log-level", "dev", "workers"} {
		MarkKeyFlag(fs, name)
	}
}

// keyFlagAnnotation marks the flags that set a configuration key.
const keyFlagAnnotation = "fanoutd.config.key"

// MarkKeyFlag declares that the flag name of fs sets the key of the same
// name (folded: --heartbeat-interval sets heartbeat.interval), so a command
// can expose more keys than RegisterFlags does. Only marked flags are
// applied: a subcommand's own flag that happens to share a key's name (the
// token command's --channels, a list of patterns, vs the channels key, a
// list of classes) must not be read as configuration.
func MarkKeyFlag(fs *pflag.FlagSet, name string) {
	_ = fs.SetAnnotation(name, keyFlagAnnotation, []string{"true"})
}

// applyFlags sets each key named by a marked flag that was given (see
// MarkKeyFlag).
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
		if _, marked := f.Annotations[keyFlagAnnotation]; !marked {
			return
		}
		if key, ok := byFlag[flagName(f.Name)]; ok {
			v.Set(key, f.Value.String())
			origin[key] = "flag --" + f.Name
		}
	})
}
