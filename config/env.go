package config

import (
	"os"
	"strings"

	"github.com/spf13/viper"
)

// applyEnv sets each key whose FANOUTD_* variable is present and non-empty.
// The lookup is done here rather than with viper.AutomaticEnv, which reads
// the real process environment: Load must honour an explicit Environ.
func applyEnv(v *viper.Viper, environ []string, origin map[string]string) {
	env := envMap(environ)
	for key := range knownKeys().leaves {
		name := envName(key)
		if val := env[name]; val != "" {
			v.Set(key, val)
			origin[key] = name
		}
	}
}

// envMap indexes "KEY=value" strings. The first entry for a name wins, as
// with os.Getenv, so that nil (os.Environ) and an explicit slice agree.
func envMap(environ []string) map[string]string {
	if environ == nil {
		environ = os.Environ()
	}
	m := make(map[string]string)
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if _, seen := m[name]; ok && !seen && strings.HasPrefix(name, envPrefix) {
			m[name] = val
		}
	}
	return m
}
