// Package fakesystemd is a test double of the service manager's side of
// the file-descriptor store and of socket activation, for tests that
// restart a daemon "under systemd" without systemd as PID 1.
//
// A Manager listens on a unixgram notify socket, as systemd does, and
// speaks the real protocol: sd_notify datagrams with descriptors attached
// (SCM_RIGHTS, at most 253 per datagram), "FDSTORE=1" with "FDNAME=" to
// store them (default name "stored", a descriptor already stored is
// dropped, beyond the store's maximum they are closed), "FDSTOREREMOVE=1"
// with "FDNAME=" to drop every descriptor of a name, descriptors sent
// without FDSTORE=1 closed, and every other line ("READY=1",
// "STOPPING=1", …) recorded for WaitState. Start then runs the next
// process as systemd would: the socket unit's listeners and the stored
// descriptors from fd 3 on, LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID
// (set by a /bin/sh wrapper that execs the program, so that it is the
// program's own pid), NOTIFY_SOCKET and FDSTORE.
//
// PassFds, IsOpen and RawFd are the in-process side of the same: they put
// descriptors where a manager would, for code under test that reads them
// from its own process (systemd.Listeners, handoff.Restore).
//
// What it does not do: check the sender's pid (NotifyAccess=), watch stored
// descriptors for POLLHUP (systemd drops a stored socket that hangs up),
// keep order (systemd does not either: it passes the store newest first,
// and so does Start).
//
// A protocol error by the process under test (descriptors truncated, a
// removal without a name) fails the test at cleanup. Methods are safe for
// concurrent use.
//
//	m := fakesystemd.New(t)
//	cmd := exec.Command(bin)
//	_ = m.Start(cmd, fakesystemd.NamedFile{Name: "ws", File: lnFile})
//	_ = m.WaitState(ctx, "READY=1")
//	… the daemon stores its connections, exits; Start the next one.
package fakesystemd
