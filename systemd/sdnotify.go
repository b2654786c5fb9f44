package systemd

import (
	"net"
)

// sdNotify writes one datagram to the notify socket. go-systemd's
// daemon.SdNotify only takes the path from the process environment (and
// can unset it); this takes it from the Notifier.
func sdNotify(socket, state string) (bool, error) {
	addr := &net.UnixAddr{Name: socket, Net: "unixgram"}
	if socket[0] == '@' {
		addr.Name = "\x00" + socket[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}
