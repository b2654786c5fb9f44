package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Source says where Load reads configuration from. The zero value means
// defaults plus the process environment: no file, no flags.
type Source struct {
	// File is the path of a YAML file; empty means no file. A path that is
	// given but missing is an error: a daemon silently running on defaults
	// because of a typo in --config is worse than one that refuses to start.
	File string
	// Flags, when not nil, overrides keys with the flags that were set on the
	// command line (see RegisterFlags). Flags that name no key, such as
	// --config, are ignored.
	Flags *pflag.FlagSet
	// Environ is the environment as "KEY=value" strings; nil means
	// os.Environ(). Only FANOUTD_* variables that name a key are read, so
	// tests can pass an explicit slice and stay hermetic.
	Environ []string
}

// Load resolves the configuration from src (defaults < file < environment <
// flags), decodes it into a Config and validates it. On error the returned
// Config is the zero value and the error lists every problem found, joined
// with errors.Join; see the package documentation.
func Load(src Source) (Config, error) {
	v := viper.New()
	fileErrs, err := readFile(v, src.File)
	if err != nil {
		return Config{}, err
	}
	setDefaults(v)
	origin := overrides(v, src)
	cfg, decodeErrs := decode(v, origin)
	if cfg.Dev && !v.InConfig("log_level") && origin["log_level"] == "" {
		// Dev mode's default level is debug: a newcomer whose browser is
		// refused (origin, token, limits) sees why in the terminal. A level
		// the file, environment or a flag gives wins.
		cfg.LogLevel = "debug"
	}
	errs := append(append(fileErrs, decodeErrs...), cfg.check()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Resolve is Load without the validation: defaults < file < environment <
// flags, decoded, with unknown keys and undecodable values still reported.
// It is for clients of a daemon (fanoutd publish) that need one key of a
// configuration that may not be valid where they run: its secret file is
// unreadable to them, or it has none because the daemon gets it from the
// environment. Never start a daemon from it.
func Resolve(src Source) (Config, error) {
	v := viper.New()
	fileErrs, err := readFile(v, src.File)
	if err != nil {
		return Config{}, err
	}
	setDefaults(v)
	cfg, decodeErrs := decode(v, overrides(v, src))
	if err := errors.Join(append(fileErrs, decodeErrs...)...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// readFile loads the YAML file into v and checks its keys. It must run
// before setDefaults: at that point v.AllKeys() lists the file's keys only.
// The first return holds problems with keys, reported together with the
// others; the second is fatal (unreadable or unparsable file).
func readFile(v *viper.Viper, path string) ([]error, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	// Always YAML, whatever the extension: the format is documented as
	// YAML, and JSON files parse as YAML too.
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return checkKeys(v.AllKeys(), v.Get, knownKeys()), nil
}

func setDefaults(v *viper.Viper) {
	def := Default()
	for _, f := range fieldsOf(&def) {
		v.SetDefault(f.key, f.val.Interface())
	}
}

// overrides applies the environment, then the flags, as viper overrides.
// viper ranks Set above flags, so the order of the two Set passes is what
// gives flags precedence over the environment. The result maps each
// overridden key to where its value came from, for error messages.
func overrides(v *viper.Viper, src Source) map[string]string {
	origin := map[string]string{}
	applyEnv(v, src.Environ, origin)
	applyFlags(v, src.Flags, origin)
	return origin
}

// decode reads every known key from v into a Config that starts from the
// defaults, so that a key that fails to decode keeps a valid value and does
// not trigger a second, misleading validation error.
func decode(v *viper.Viper, origin map[string]string) (Config, []error) {
	cfg := Default()
	var errs []error
	for _, f := range fieldsOf(&cfg) {
		if err := setValue(f.val, v.Get(f.key)); err != nil {
			errs = append(errs, decodeError(f.key, err, origin[f.key]))
		}
	}
	return cfg, errs
}

func decodeError(key string, err error, from string) error {
	reason := err.Error()
	if from != "" {
		reason += " (from " + from + ")"
	}
	return &keyError{key: key, reason: reason, kind: ErrInvalidValue}
}
