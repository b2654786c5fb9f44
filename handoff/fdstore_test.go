package handoff

import (
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/fakesystemd"
	"golang.org/x/sys/unix"
)

// waitStored polls the fake manager (it handles datagrams on its own
// goroutine) until its store holds want, for at most 10 s.
func waitStored(t *testing.T, m *fakesystemd.Manager, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !maps.Equal(m.Stored(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("stored %v, want %v", m.Stored(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// 1,000 connections and the image go into the store; the next process,
// started as systemd would with a socket unit's listener beside them, gets
// every connection and the image back, leaves the listener to
// systemd.Listeners, writes through each connection and clears the store.
func TestStoreRestoreThousand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := fakesystemd.New(t)
	cs := connect(t, *connsFlag)
	if err := Store(m.Getenv, bundleOf(t, cs)); err != nil {
		t.Fatal(err)
	}
	waitStored(t, m, map[string]int{ConnName: *connsFlag, StateName: 1})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lf.Close() }()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"=restore", "HANDOFF_TEST_LISTENER="+ln.Addr().String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := m.Start(cmd, fakesystemd.NamedFile{Name: "ws", File: lf}); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitState(ctx, "READY=1"); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	cs.expectNonblocking(t)
	cs.expectGreetings(t)
	waitStored(t, m, map[string]int{})
	cs.expectAlive(t)
}

// A store smaller than the bundle: Store refuses before sending anything.
func TestStoreTooSmall(t *testing.T) {
	m := fakesystemd.New(t, fakesystemd.Options{StoreMax: 10})
	cs := connect(t, 10)
	err := Store(m.Getenv, bundleOf(t, cs))
	if !errors.Is(err, ErrStoreTooSmall) {
		t.Fatalf("Store: %v, want ErrStoreTooSmall", err)
	}
	if got := m.Stored(); len(got) != 0 {
		t.Fatalf("stored %v after a refusal", got)
	}
}

// A second Store (a generation that never called ClearStore) replaces the
// first instead of adding to it.
func TestStoreReplacesLeftovers(t *testing.T) {
	m := fakesystemd.New(t)
	cs := connect(t, 300)
	if err := Store(m.Getenv, bundleOf(t, cs)); err != nil {
		t.Fatal(err)
	}
	waitStored(t, m, map[string]int{ConnName: 300, StateName: 1})
	b := bundleOf(t, cs)
	b.Files = b.Files[:5]
	if err := Store(m.Getenv, b); err != nil {
		t.Fatal(err)
	}
	waitStored(t, m, map[string]int{ConnName: 5, StateName: 1})
}

func TestStoreWithoutNotifySocket(t *testing.T) {
	if err := Store(func(string) string { return "" }, Bundle{}); !errors.Is(err, ErrNoNotifySocket) {
		t.Fatalf("Store: %v", err)
	}
	if err := ClearStore(func(string) string { return "" }); !errors.Is(err, ErrNoNotifySocket) {
		t.Fatalf("ClearStore: %v", err)
	}
}

func listenEnv(pid, n int, names string) func(string) string {
	vars := map[string]string{"LISTEN_PID": itoa(pid), "LISTEN_FDS": itoa(n), "LISTEN_FDNAMES": names}
	return func(k string) string { return vars[k] }
}

// Restore in-process: takes the image and the connection, leaves the
// listener, closes the memfd.
func TestRestoreTakesOnlyItsOwn(t *testing.T) {
	cs := connect(t, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	image, _ := Encode(map[string]any{"keys": cs.keys})
	memfd, err := sealedImage(image)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Close(memfd) }()
	first := fakesystemd.PassFds(t, fakesystemd.RawFd(t, ln.(*net.TCPListener)), memfd, cs.fds[0])
	defer func() { _ = unix.Close(first) }()

	b, err := restore(listenEnv(42, 3, "ws:"+StateName+":"+ConnName), 42, first)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := matchImage(*b); err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 1 || b.Files[0] != first+2 {
		t.Fatalf("files %v, want [%d]", b.Files, first+2)
	}
	if !fakesystemd.IsOpen(first) || fakesystemd.IsOpen(first+1) {
		t.Fatalf("listener open %v (want true), memfd open %v (want false)", fakesystemd.IsOpen(first), fakesystemd.IsOpen(first+1))
	}
}

func TestRestoreWithoutImage(t *testing.T) {
	cs := connect(t, 1)
	first := fakesystemd.PassFds(t, cs.fds[0])
	if _, err := restore(listenEnv(42, 1, ConnName), 42, first); !errors.Is(err, ErrNoImage) {
		t.Fatalf("restore: %v, want ErrNoImage", err)
	}
	if fakesystemd.IsOpen(first) {
		t.Error("the connection without an image was left open")
	}
}

func TestRestoreNothingToDo(t *testing.T) {
	for name, getenv := range map[string]func(string) string{
		"not activated":   func(string) string { return "" },
		"another process": listenEnv(7, 1, ConnName),
		"unnamed":         listenEnv(42, 1, ""),
		"listeners only":  listenEnv(42, 1, "ws"),
	} {
		b, err := restore(getenv, 42, 1<<20) // fd numbers no test holds
		if b != nil || err != nil {
			t.Errorf("%s: %v, %v; want nothing", name, b, err)
		}
	}
}

// A bundle whose names would overflow the next exec's LISTEN_FDNAMES is
// refused before anything is stored: systemd could not start the next
// process at all.
func TestStoreNamesBudget(t *testing.T) {
	m := fakesystemd.New(t)
	cs := connect(t, 1)
	b := Bundle{Image: []byte("x")}
	for range 12000 {
		b.Files = append(b.Files, cs.fds[0])
		b.Names = append(b.Names, "fanoutd-conn")
	}
	if err := Store(m.Getenv, b); !errors.Is(err, ErrStoreTooSmall) {
		t.Fatalf("Store: %v, want ErrStoreTooSmall", err)
	}
	if got := m.Stored(); len(got) != 0 {
		t.Fatalf("stored %v after a refusal", got)
	}
}

// The budget leaves room: the process limit's worth of ConnName, plus a
// socket unit's names, fits it, and a LISTEN_FDNAMES filled to it execs; twice the budget does not (the limit
// the budget guards is real on this kernel).
func TestFDNamesBudgetExecs(t *testing.T) {
	names := strings.Repeat(ConnName+":", 20000) + StateName + ":websocket:publish"
	if len(names) > maxFDNames {
		t.Fatalf("20,000 connections take %d bytes, over the %d budget", len(names), maxFDNames)
	}
	run := func(v string) error {
		cmd := exec.Command("/bin/true")
		cmd.Env = []string{"LISTEN_FDNAMES=" + v + strings.Repeat("x", max(0, maxFDNames-len(v)))}
		return cmd.Run()
	}
	if err := run(names); err != nil {
		t.Fatalf("exec with a full LISTEN_FDNAMES: %v", err)
	}
	if err := run(strings.Repeat("x", 2*maxFDNames)); err == nil {
		t.Fatal("exec with twice the budget worked: the kernel limit is not what the budget assumes")
	}
}
