// Package systemd is fanoutd's side of the service manager's protocols, and
// the home of the unit files that go with them (fanoutd.service,
// fanoutd.socket, sysusers.d and tmpfiles.d entries, the default
// configuration and the Debian package's description and scripts).
//
//   - Notifier speaks sd_notify: READY=1 once every listener is bound,
//     RELOADING=1 (with MONOTONIC_USEC) and READY=1 around a reload,
//     STOPPING=1 and EXTEND_TIMEOUT_USEC when draining, WATCHDOG=1 when
//     alive. Without NOTIFY_SOCKET
//     every call is a no-op, so the daemon runs the same under systemd, in a
//     terminal, or embedded.
//   - RunWatchdog feeds WatchdogSec= from a probe of real work, never from a
//     bare ticker.
//   - Listeners takes the sockets of socket activation (LISTEN_FDS), so
//     that the listening sockets outlive a restart of the daemon. It skips
//     descriptors named "fconn" or "fanoutd-…": those come back from the fd store and
//     belong to package handoff (Restore), which hands live connections
//     to the next process.
//
// Nothing here keeps package-level state: the environment is read through
// the getenv the caller passes. Notifier methods may be called from any
// goroutine; Listeners is called once, at start-up, before any other
// goroutine could open a descriptor.
//
//	n := systemd.NewNotifier(os.Getenv)
//	lns, err := systemd.Listeners(os.Getenv, handoff.IsHandoffName) // nil unless socket-activated
//	… bind the rest, then:
//	_ = n.Ready()
//	if wd, _ := n.WatchdogInterval(); wd > 0 {
//		go systemd.RunWatchdog(ctx, systemd.WatchdogOptions{Interval: wd / 2, Probe: srv.Probe, Ping: n.Watchdog})
//	}
package systemd
