package systemd

import (
	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify states to the socket named by NOTIFY_SOCKET at
// construction time.
type Notifier struct {
	socket string
}

// NewNotifier reads NOTIFY_SOCKET through getenv (os.Getenv in production;
// tests pass their own).
func NewNotifier(getenv func(string) string) *Notifier {
	return &Notifier{socket: getenv("NOTIFY_SOCKET")}
}

// Enabled reports whether a service manager is listening.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// Ready tells the manager that the daemon serves: call it after every
// listener is bound.
func (n *Notifier) Ready() error { return n.send(daemon.SdNotifyReady) }

// Stopping tells the manager that the daemon is shutting down.
func (n *Notifier) Stopping() error { return n.send(daemon.SdNotifyStopping) }

func (n *Notifier) send(state string) error {
	if n.socket == "" {
		return nil
	}
	// go-systemd reads the socket path from the environment; passing it
	// explicitly keeps two embedded daemons from sharing a global.
	_, err := sdNotify(n.socket, state)
	return err
}
