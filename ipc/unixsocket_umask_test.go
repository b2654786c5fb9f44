package ipc

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestListenUnixNeverWorldWritable: under umask 000 a socket bound in
// place is 0777 until the chmod that follows, and anyone may connect in
// between. The socket must have its final mode from the moment the path
// exists. A watcher goroutine looks at the path in a tight loop while the
// socket is created and removed again and again, and records every mode
// it sees. Bounded: 300 creations, and the watcher stops with them.
func TestListenUnixNeverWorldWritable(t *testing.T) {
	old := syscall.Umask(0) // process-wide: this test does not run in parallel
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "api.sock")
	var stop atomic.Bool
	var seen, bad atomic.Int64
	var badMode atomic.Uint32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode().Type() != fs.ModeSocket {
				continue
			}
			seen.Add(1)
			if perm := fi.Mode().Perm(); perm != 0o600 {
				bad.Add(1)
				badMode.Store(uint32(perm))
			}
		}
	}()
	for i := range 300 {
		ln, err := ListenUnix(path, 0o600)
		if err != nil {
			stop.Store(true)
			<-done
			t.Fatalf("listen %d: %v", i, err)
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	<-done
	if bad.Load() > 0 {
		t.Fatalf("the socket was seen %d times (of %d) with mode %04o, want 0600 always", bad.Load(), seen.Load(), badMode.Load())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
