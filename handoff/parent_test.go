package handoff

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/fakesystemd"
	"golang.org/x/sys/unix"
)

// inProcess returns the new process's side (from Inherited, as in a real
// child) and a raw old-process side of one socket pair, both in this
// process, for the protocol's edge cases.
func inProcess(t *testing.T) (*Parent, *wire) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Inherited(func(k string) string {
		if k == EnvFD {
			return strconv.Itoa(fds[1])
		}
		return ""
	})
	if err != nil || p == nil {
		t.Fatalf("Inherited: %v, %v", p, err)
	}
	t.Cleanup(func() { _ = p.w.close() })
	if fakesystemd.IsOpen(fds[1]) {
		t.Error("the inherited descriptor was left open (it would leak into the new process's children)")
	}
	old, err := newWire(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.close() })
	return p, old
}

func TestInheritedNotStarted(t *testing.T) {
	p, err := Inherited(func(string) string { return "" })
	if p != nil || err != nil {
		t.Fatalf("%v, %v; want nil, nil", p, err)
	}
	cs := connect(t, 1)
	for _, v := range []string{"x", "1", strconv.Itoa(cs.fds[0])} {
		if _, err := Inherited(func(string) string { return v }); err == nil {
			t.Errorf("%s=%s accepted", EnvFD, v)
		}
	}
}

// The old process gone before the commit: the new one must give up.
func TestWaitCommitOldProcessGone(t *testing.T) {
	p, old := inProcess(t)
	_ = old.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitCommit(ctx); !errors.Is(err, ErrAborted) {
		t.Fatalf("WaitCommit: %v, want ErrAborted", err)
	}
}

func TestWaitCommitDeadline(t *testing.T) {
	p, _ := inProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.WaitCommit(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCommit: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitCommit returned after %v", d)
	}
}

func TestReceiveAbortMidway(t *testing.T) {
	p, old := inProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs := connect(t, 3)
	if err := old.sendJSON(ctx, kindHeader, bundleHeader{Files: 6, Image: 10}, nil); err != nil {
		t.Fatal(err)
	}
	if err := old.sendJSON(ctx, kindFiles, []string{ConnName, ConnName, ConnName}, cs.fds); err != nil {
		t.Fatal(err)
	}
	if err := old.send(ctx, kindAbort, nil, nil); err != nil {
		t.Fatal(err)
	}
	b, err := p.Receive(ctx)
	if !errors.Is(err, ErrAborted) || len(b.Files) != 0 {
		t.Fatalf("Receive: %v, %v; want ErrAborted and nothing", b, err)
	}
	cs.expectAlive(t) // the received copies were closed, the sockets live on
}

func TestReceiveMalformed(t *testing.T) {
	for name, send := range map[string]func(context.Context, *wire) error{
		"header": func(ctx context.Context, w *wire) error { return w.send(ctx, kindHeader, []byte("{"), nil) },
		"huge image": func(ctx context.Context, w *wire) error {
			return w.sendJSON(ctx, kindHeader, bundleHeader{Image: maxImage + 1}, nil)
		},
		"names do not match": func(ctx context.Context, w *wire) error {
			if err := w.sendJSON(ctx, kindHeader, bundleHeader{Files: 2}, nil); err != nil {
				return err
			}
			return w.sendJSON(ctx, kindFiles, []string{ConnName}, []int{0, 0})
		},
		"image too long": func(ctx context.Context, w *wire) error {
			if err := w.sendJSON(ctx, kindHeader, bundleHeader{Image: 2}, nil); err != nil {
				return err
			}
			return w.send(ctx, kindImage, []byte("abc"), nil)
		},
		"out of order": func(ctx context.Context, w *wire) error { return w.send(ctx, kindCommit, nil, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			p, old := inProcess(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := send(ctx, old); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Receive(ctx); !errors.Is(err, ErrProtocol) {
				t.Fatalf("Receive: %v, want ErrProtocol", err)
			}
		})
	}
}

// A full batch of the longest names systemd allows fits one packet.
func TestSendLongNames(t *testing.T) {
	p, old := inProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs := connect(t, 1)
	long := NamePrefix + strings.Repeat("n", 255-len(NamePrefix))
	b := Bundle{Image: []byte("img")}
	for range 2 * maxFDsPerMsg {
		b.Files = append(b.Files, cs.fds[0])
		b.Names = append(b.Names, long)
	}
	errc := make(chan error, 1)
	go func() { errc <- (&Child{w: old}).Send(ctx, b) }()
	got, err := p.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != len(b.Files) || got.Name(505) != long || string(got.Image) != "img" {
		t.Fatalf("received %d descriptors, name %q, image %q", len(got.Files), got.Name(505), got.Image)
	}
	if k, err := SocketKey(got.Files[300]); err != nil || k != cs.keys[0] {
		t.Fatalf("key %q, %v", k, err)
	}
}

func TestSendRejectsForeignNames(t *testing.T) {
	_, old := inProcess(t)
	b := Bundle{Files: []int{0}, Names: []string{"websocket"}}
	if err := (&Child{w: old}).Send(context.Background(), b); err == nil {
		t.Fatal("a descriptor named outside fanoutd-… was sent")
	}
}

// Listeners travel like connections, under their own names, and the
// receiver's copy accepts on the same address.
func TestSendListeners(t *testing.T) {
	p, old := inProcess(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	b := Bundle{Files: []int{fakesystemd.RawFd(t, ln.(*net.TCPListener))}, Names: []string{NamePrefix + "listen-ws"}}
	errc := make(chan error, 1)
	go func() { errc <- (&Child{w: old}).Send(ctx, b) }()
	got, err := p.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if k, err := SocketKey(got.Files[0]); err != nil || k != "listen tcp "+ln.Addr().String() || got.Name(0) != "fanoutd-listen-ws" {
		t.Fatalf("key %q, %v, name %q", k, err, got.Name(0))
	}
	f := os.NewFile(uintptr(got.Files[0]), "ws")
	theirs, err := net.FileListener(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = theirs.Close() }()
	_ = ln.Close() // the old process lets go: the socket lives on in the new one
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	sc, err := theirs.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = sc.Close()
}
