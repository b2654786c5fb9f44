package fakesystemd

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// receive handles datagrams until the socket is closed.
func (m *Manager) receive() {
	defer close(m.done)
	buf := make([]byte, notifyBufferMax)
	oob := make([]byte, unix.CmsgSpace(4*maxFDsPerMsg)+unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, flags, _, err := m.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		fds := rights(oob[:oobn])
		m.mu.Lock()
		m.handle(string(buf[:n]), fds, flags)
		m.mu.Unlock()
	}
}

func rights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, msg := range msgs {
		if got, err := unix.ParseUnixRights(&msg); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// handle applies one datagram; m.mu is held.
func (m *Manager) handle(msg string, fds []int, flags int) {
	if flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		m.errs = append(m.errs, "datagram or its descriptors truncated (more than 253 descriptors, or over 4096 bytes?)")
		closeFds(fds)
		return
	}
	vars := map[string]string{}
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	for _, line := range lines {
		k, v, _ := strings.Cut(line, "=")
		vars[k] = v
	}
	name, named := vars["FDNAME"]
	if !named {
		name = defaultName
	}
	if vars["FDSTOREREMOVE"] == "1" {
		if !named {
			m.errs = append(m.errs, "FDSTOREREMOVE=1 without FDNAME=")
		}
		m.remove(name)
	}
	if vars["FDSTORE"] == "1" {
		m.add(name, fds)
	} else {
		closeFds(fds)
	}
	m.states = append(m.states, lines...)
	close(m.changed)
	m.changed = make(chan struct{})
}

// add stores fds under name, dropping duplicates and what does not fit.
func (m *Manager) add(name string, fds []int) {
	have := map[[2]uint64]bool{}
	for _, e := range m.store {
		have[e.id] = true
	}
	for _, fd := range fds {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || have[[2]uint64{st.Dev, st.Ino}] || len(m.store) >= m.max {
			if err == nil && len(m.store) >= m.max {
				m.dropped++
			}
			_ = unix.Close(fd)
			continue
		}
		id := [2]uint64{st.Dev, st.Ino}
		have[id] = true
		// os.NewFile leaves a non-blocking socket non-blocking and exec
		// passes it unchanged: O_NONBLOCK is shared by every process
		// holding the socket, and the fake must not flip it under the
		// daemon's feet (a net.Conn.File would).
		m.store = append(m.store, entry{name: name, f: os.NewFile(uintptr(fd), name), id: id})
	}
}

// remove closes and forgets every descriptor named name.
func (m *Manager) remove(name string) {
	kept := m.store[:0]
	for _, e := range m.store {
		if e.name == name {
			_ = e.f.Close()
			continue
		}
		kept = append(kept, e)
	}
	clear(m.store[len(kept):])
	m.store = kept
}

func closeFds(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}
