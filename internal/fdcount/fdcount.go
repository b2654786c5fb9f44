// Package fdcount counts a process's open descriptors for tests that check
// the transport's one-descriptor-per-connection promise. Counting every
// descriptor (/proc/self/fd) is exposed to whatever else the test binary
// opens or closes meanwhile (an earlier test's keep-alive connection
// closing, a probe); OnPort counts only the TCP sockets of one listener.
package fdcount

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// OnPort counts this process's descriptors on TCP sockets whose local or
// remote port is addr's: the listener, the connections it accepted and any
// client sockets of this process connected to it. A socket held by two
// descriptors (a dup) counts twice.
func OnPort(addr string) (int, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("fdcount: port %q: %w", port, err)
	}
	suffix := fmt.Sprintf(":%04X", p)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6 table: nothing there to count
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// local_address rem_address … inode (the 10th field)
			if len(f) > 9 && (strings.HasSuffix(f[1], suffix) || strings.HasSuffix(f[2], suffix)) {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if link, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && inodes[link] {
			n++
		}
	}
	return n, nil
}
