// Package config turns a YAML file, FANOUTD_* environment variables and
// command-line flags into one plain, validated [Config].
//
// It is the only package of fanoutd that imports viper. Nothing viper-shaped
// leaks out: callers get a Config value with builtin-typed fields, so the
// daemon, the transport and the publish API can be configured (and tested)
// without a file, a flag set or an environment.
//
// # Precedence
//
// Each key is resolved from the highest layer that sets it:
//
//	defaults  <  YAML file  <  environment FANOUTD_*  <  flags that were set
//
// A key's variable is its name upper-cased with dots turned into
// underscores: auth.hmac_secret is FANOUTD_AUTH_HMAC_SECRET, heartbeat.interval
// is FANOUTD_HEARTBEAT_INTERVAL. An empty variable counts as unset, so a
// stray "FANOUTD_API_KEY=" in a unit file cannot blank a value from the file.
// A flag applies only when it was given on the command line (pflag's
// Changed); its name is the key with dots and underscores written as dashes
// (--ws-path, --log-level, and --limits-max-connections if a caller defines
// it and marks it with [MarkKeyFlag]). [RegisterFlags] defines and marks the
// flags fanoutd documents; unmarked flags are never configuration. A
// FANOUTD_* variable that names no key is ignored by Load and reported by
// [UnknownEnvironment]. In dev mode the default log_level is debug.
//
// # Errors
//
// [Load] reports every problem at once, joined with [errors.Join], one per
// line, each naming its dotted key: unknown keys in the file (wrapping
// [ErrUnknownKey]), values that do not decode and values that break a rule
// (both wrapping [ErrInvalidValue]; a decoding error set by the environment
// or a flag says so, e.g. "(from FANOUTD_HEARTBEAT_INTERVAL)"). Secrets
// never appear in error text.
// Validation does no I/O: the secret file is read by [Config.HMACKey] when
// the daemon starts.
//
// # Concurrency
//
// Load builds a private viper instance per call and keeps no package state,
// so concurrent calls are safe and two daemons in one process do not share
// configuration. A Config is an immutable value: to reload, Load again and
// swap the new value in atomically; never mutate a Config in use.
//
// # Usage
//
//	fs := pflag.NewFlagSet("fanoutd", pflag.ContinueOnError)
//	path := fs.String("config", "", "YAML configuration file")
//	config.RegisterFlags(fs)
//	if err := fs.Parse(os.Args[1:]); err != nil { ... }
//	cfg, err := config.Load(config.Source{File: *path, Flags: fs})
//	if err != nil {
//		return fmt.Errorf("invalid configuration:\n%w", err)
//	}
//	key, err := cfg.HMACKey() // ErrNoHMACSecret in --dev without a secret
package config
