package systemd

import "errors"

// ErrMalformedEnv is wrapped by the errors of Listeners and
// Notifier.WatchdogInterval when a variable the service manager sets
// (LISTEN_PID, LISTEN_FDS, WATCHDOG_USEC, WATCHDOG_PID) does not parse:
// the unit or a wrapper script is broken, and guessing would hide it.
var ErrMalformedEnv = errors.New("systemd: malformed environment variable")

// ErrInvalidOptions is returned by RunWatchdog when WatchdogOptions lack
// an interval, a probe or a ping: a programming error in the caller.
var ErrInvalidOptions = errors.New("systemd: invalid watchdog options")
