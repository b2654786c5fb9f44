package handoff

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// startUpgrade starts the test binary as the new process in role and
// waits for its hello.
func startUpgrade(t *testing.T, ctx context.Context, o ChildOptions) *Child {
	t.Helper()
	c, err := StartChild(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	h, err := c.WaitHello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Pid != c.Pid() || h.Version != "test" {
		t.Fatalf("hello %+v from pid %d", h, c.Pid())
	}
	return c
}

// bundleOf hands off every server socket, shuffled: the receiver must
// match by SocketKey, not by position.
func bundleOf(t *testing.T, c *conns) Bundle {
	t.Helper()
	// The padding makes the image span many packets (and a memfd of 1 MiB).
	image, err := Encode(map[string]any{"keys": c.keys, "pad": strings.Repeat("x", 1<<20)})
	if err != nil {
		t.Fatal(err)
	}
	fds := append([]int(nil), c.fds...)
	rand.Shuffle(len(fds), func(i, j int) { fds[i], fds[j] = fds[j], fds[i] })
	return Bundle{Files: fds, Image: image}
}

// 1,000 real sockets go to a real child in batches of 253; it finds each
// one by its key and writes through it after the commit; the connections
// stay open after it exits (this process still holds them).
func TestUpgradePassesThousandSockets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := connect(t, *connsFlag)
	c := startUpgrade(t, ctx, childOptions("upgrade"))
	if err := c.Send(ctx, bundleOf(t, cs)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServing(ctx); err != nil {
		t.Fatal(err)
	}
	cs.expectGreetings(t)
	select {
	case <-c.Exited():
	case <-ctx.Done():
		t.Fatal("the child did not exit")
	}
	if err := c.Err(); err != nil {
		t.Fatalf("child: %v", err)
	}
	cs.expectNonblocking(t)
	cs.expectAlive(t)
}

// An abort before the commit: the child exits without writing or closing
// anything on the wire, and this process serves on.
func TestUpgradeAbortBeforeCommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := connect(t, 50)
	c := startUpgrade(t, ctx, childOptions("upgrade"))
	if err := c.Send(ctx, bundleOf(t, cs)); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Abort()
	if code := exitCode(c.Err()); code != exitAborted {
		t.Fatalf("child exit %v (code %d), want %d: it did not see the abort", c.Err(), code, exitAborted)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("abort took %v: the child was killed, not told", d)
	}
	if err := c.Commit(); err == nil {
		t.Error("commit after abort succeeded")
	}
	cs.expectAlive(t) // the first byte each client sees is ours: no greeting, no EOF
}

// A child that dies at start fails WaitHello at once, with its status.
func TestUpgradeChildExitsAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := StartChild(ctx, childOptions("exit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	start := time.Now()
	_, err = c.WaitHello(ctx)
	if !errors.Is(err, ErrChildExited) || !strings.Contains(err.Error(), "exit status 2") {
		t.Fatalf("WaitHello: %v, want ErrChildExited with exit status 2", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WaitHello took %v", d)
	}
}

// A child that cannot read the image refuses with a reason: WaitReady
// returns it, and the old process keeps every socket.
func TestUpgradeChildRefuses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := connect(t, 10)
	c := startUpgrade(t, ctx, childOptions("refuse"))
	if err := c.Send(ctx, bundleOf(t, cs)); err != nil {
		t.Fatal(err)
	}
	err := c.WaitReady(ctx)
	var re *RefusedError
	if !errors.As(err, &re) || !errors.Is(err, ErrRefused) || re.Reason != "cannot read image version 1" {
		t.Fatalf("WaitReady: %v, want the child's refusal", err)
	}
	c.Abort()
	cs.expectAlive(t)
}

// A child that never speaks: WaitHello ends with the context, and Abort
// kills it after the grace period.
func TestUpgradeDeadlines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := childOptions("silent")
	o.AbortGrace = 200 * time.Millisecond
	c, err := StartChild(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort) // a failure must not leave it holding go test's output
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	if _, err := c.WaitHello(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitHello: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitHello returned after %v, deadline 300ms", d)
	}
	start = time.Now()
	c.Abort()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Abort took %v, grace 200ms", d)
	}
	if !strings.Contains(c.Err().Error(), "killed") {
		t.Errorf("child status %v, want killed", c.Err())
	}
}
