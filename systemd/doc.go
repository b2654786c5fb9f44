// Package systemd tells a service manager about the daemon's state with the
// sd_notify protocol (READY=1 once every listener is bound, STOPPING=1 when
// draining). Without NOTIFY_SOCKET every call is a no-op, so the daemon runs
// the same under systemd, in a terminal, or embedded. The unit files that go
// with it live beside this package.
//
//	n := systemd.NewNotifier(os.Getenv)
//	_ = n.Ready()
package systemd
