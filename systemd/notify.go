package systemd

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify states to the socket named by NOTIFY_SOCKET at
// construction time.
type Notifier struct {
	socket       string
	watchdogUsec string
	watchdogPID  string
	// monotonic reads CLOCK_MONOTONIC, which MONOTONIC_USEC is in.
	monotonic func() time.Duration
}

// NewNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID through
// getenv (os.Getenv in production; tests pass their own).
func NewNotifier(getenv func(string) string) *Notifier {
	return &Notifier{
		socket:       getenv("NOTIFY_SOCKET"),
		watchdogUsec: getenv("WATCHDOG_USEC"),
		watchdogPID:  getenv("WATCHDOG_PID"),
		monotonic:    monotonicNow,
	}
}

// Enabled reports whether a service manager is listening.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// Ready tells the manager that the daemon serves: call it after every
// listener is bound.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Reloading tells the manager that a configuration reload started; Ready
// must follow when it ended, applied or refused. MONOTONIC_USEC comes
// with it, as systemd 253's Type=notify-reload requires to match the
// reload to the SIGHUP it sent; older managers ignore it.
func (n *Notifier) Reloading() error {
	usec := n.monotonic().Microseconds()
	return n.send("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10))
}

// ExtendTimeout asks the manager for d more before it gives up on the
// current start, reload or stop (EXTEND_TIMEOUT_USEC): sent while a drain
// takes longer than TimeoutStopSec= alone would allow. Each call restarts
// the extension from now.
func (n *Notifier) ExtendTimeout(d time.Duration) error {
	return n.send("EXTEND_TIMEOUT_USEC=" + strconv.FormatInt(d.Microseconds(), 10))
}

// MainPID tells the manager that pid is the service's main process from
// now on (MAINPID=): an upgrade's new process, before the old one exits,
// so that the manager does not take the old one's exit for the service's.
func (n *Notifier) MainPID(pid int) error { return n.send("MAINPID=" + strconv.Itoa(pid)) }

// Stopping tells the manager that the daemon is shutting down.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

// Watchdog tells the manager that the daemon is alive. Send it only when
// that was just proven (RunWatchdog does), at least once per
// WatchdogInterval, or the manager kills the daemon.
func (n *Notifier) Watchdog() error { return n.send(daemon.SdNotifyWatchdog) }

// WatchdogInterval is the unit's WatchdogSec= as the manager passed it in
// WATCHDOG_USEC, or 0 when the watchdog is off: no variable, no notify
// socket, or a WATCHDOG_PID naming another process (the variables were
// inherited, not meant for us). A value that does not parse is an error
// wrapping ErrMalformedEnv.
func (n *Notifier) WatchdogInterval() (time.Duration, error) {
	if n.watchdogUsec == "" || n.socket == "" {
		return 0, nil
	}
	if n.watchdogPID != "" {
		pid, err := strconv.Atoi(n.watchdogPID)
		if err != nil {
			return 0, fmt.Errorf("%w: WATCHDOG_PID=%q", ErrMalformedEnv, n.watchdogPID)
		}
		if pid != os.Getpid() {
			return 0, nil
		}
	}
	usec, err := strconv.ParseInt(n.watchdogUsec, 10, 64)
	if err != nil || usec <= 0 {
		return 0, fmt.Errorf("%w: WATCHDOG_USEC=%q", ErrMalformedEnv, n.watchdogUsec)
	}
	return time.Duration(usec) * time.Microsecond, nil
}

func (n *Notifier) send(state string) error {
	if n.socket == "" {
		return nil
	}
	// go-systemd reads the socket path from the environment; passing it
	// explicitly keeps two embedded daemons from sharing a global.
	_, err := sdNotify(n.socket, state)
	return err
}
