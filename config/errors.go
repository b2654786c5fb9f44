package config

import (
	"errors"
	"strconv"
)

// ErrUnknownKey is wrapped by each error that reports a key in the
// configuration file that fanoutd does not know, usually a typo that would
// otherwise silently leave the default in force.
var ErrUnknownKey = errors.New("unknown configuration key")

// ErrInvalidValue is wrapped by each error that reports a value that cannot
// be decoded into its key's type or that breaks a validation rule. Callers
// such as check-config use it to tell a bad configuration from an I/O error.
var ErrInvalidValue = errors.New("invalid configuration value")

// ErrNoHMACSecret is returned by [Config.HMACKey] when neither
// auth.hmac_secret nor auth.hmac_secret_file is set, which Validate allows
// only in dev mode: the caller then generates a random key.
var ErrNoHMACSecret = errors.New("no HMAC secret configured")

// keyError is one problem with one key. Its text is "key: reason" so that a
// joined list reads like a checklist; the sentinel is reachable via
// errors.Is without being printed.
type keyError struct {
	key    string
	reason string
	kind   error
}

func (e *keyError) Error() string { return e.key + ": " + e.reason }

func (e *keyError) Unwrap() error { return e.kind }

// unknownKeyError reports a key found in the file that is not in Config.
type unknownKeyError struct {
	key        string
	suggestion string
}

func (e *unknownKeyError) Error() string {
	if e.suggestion == "" {
		return "unknown key " + strconv.Quote(e.key)
	}
	return "unknown key " + strconv.Quote(e.key) + " (did you mean " + strconv.Quote(e.suggestion) + "?)"
}

func (e *unknownKeyError) Unwrap() error { return ErrUnknownKey }
