package fanoutd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/control"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/ipc"
	"golang.org/x/sys/unix"
)

// inProcessRoute hands over to another Server of this process the way a
// new process takes over: it gets copies of the descriptors, reads the
// image (TakeOver) and adopts at the commit.
type inProcessRoute struct {
	to      *Server
	take    *TakeOver
	fail    error // send fails with it, after the image was read
	reverse bool  // the descriptors arrive in reverse order
	inOrder bool  // TakeOver is told they come in order (a lie when reverse)
}

func (r *inProcessRoute) send(_ context.Context, b handoff.Bundle) error {
	copies := handoff.Bundle{Image: b.Image, Names: b.Names}
	for _, fd := range b.Files {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			copies.Close()
			return err
		}
		copies.Files = append(copies.Files, d)
	}
	if r.reverse {
		slices.Reverse(copies.Files)
		slices.Reverse(copies.Names)
	}
	t, err := r.to.TakeOver(copies, r.inOrder)
	if err != nil {
		copies.Close()
		return err
	}
	r.take = t
	if r.fail != nil {
		t.Release()
		return r.fail
	}
	return nil
}

func (r *inProcessRoute) commit(context.Context) error { r.take.Adopt(); return nil }
func (r *inProcessRoute) abort()                       {}
func (r *inProcessRoute) pid() int                     { return os.Getpid() }

// TestHandOffCarriesEverything: after a hand-off between two Servers, the
// clients of the first are served by the second without a frame of their
// own: positions continue in the same epoch, history recovers events
// published before it, an idempotency key seen before it is still a
// duplicate, a revocation still holds, and the first Server's Run returns
// nil without draining anyone.
func TestHandOffCarriesEverything(t *testing.T) {
	a := startDaemon(t)
	b := startDaemon(t)
	alice := a.dial(token(t, "alice", "news"))
	alice.subscribe("news")
	bob := a.dial(token(t, "bob", "news"))
	bob.subscribe("news")
	for range 3 {
		a.publish("news", "tick", `{}`)
	}
	first := alice.expectEvent("news", "tick")
	epoch := first["epoch"]
	alice.expectEvent("news", "tick")
	alice.expectEvent("news", "tick")
	for range 3 {
		bob.expectEvent("news", "tick")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.pub.PublishEvents(ctx, []ipc.Event{{Channel: "news", Type: "keyed", IdempotencyKey: "k1"}}); err != nil {
		t.Fatal(err)
	}
	alice.expectEvent("news", "keyed")
	bob.expectEvent("news", "keyed")
	if _, err := a.srv.ctl.Do(ctx, control.Action{Op: control.OpRevoke, By: "user", Value: "mallory", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	r := &inProcessRoute{to: b.srv, inOrder: true}
	rep, err := a.srv.handOff(ctx, r)
	if err != nil {
		t.Fatalf("hand-off: %v", err)
	}
	if rep.Connections != 2 {
		t.Fatalf("handed over %d connections, want 2", rep.Connections)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("the old Server's Run: %v", err)
	}

	b.publish("news", "after", `{}`)
	for _, c := range []*wsClient{alice, bob} {
		ev := c.expectEvent("news", "after")
		if ev["offset"] != float64(5) || ev["epoch"] != epoch {
			t.Fatalf("after the hand-off: %v, want offset 5 in epoch %v", ev, epoch)
		}
	}
	res, err := b.pub.PublishEvents(ctx, []ipc.Event{{Channel: "news", Type: "keyed", IdempotencyKey: "k1"}})
	if err != nil || len(res) != 1 || !res[0].Duplicate || res[0].Offset != 4 {
		t.Fatalf("the key published before the hand-off, again: %+v, %v; want a duplicate at offset 4", res, err)
	}
	late := b.dial(token(t, "carol", "news"))
	late.send(`{"action":"subscribe","channel":"news","id":"r","since":{"offset":1,"epoch":"` + epoch.(string) + `"}}`)
	if m := late.next(); m["type"] != "subscribed" || m["recovered"] != true {
		t.Fatalf("recovery across the hand-off: %v", m)
	}
	for _, want := range []float64{2, 3, 4, 5} {
		if ev := late.next(); ev["offset"] != want {
			t.Fatalf("replayed %v, want offset %v", ev, want)
		}
	}
	if st := b.dialStatus(subprotocol(token(t, "mallory", "news")), ""); st != http.StatusUnauthorized {
		t.Fatalf("a user revoked before the hand-off connects with %d, want 401", st)
	}
	if st := b.srv.Stats(); st.Transport.Adopted != 2 || st.HandOff.FromPID != os.Getpid() || st.HandOff.Connections != 2 {
		t.Fatalf("stats after the hand-off: adopted %d, %+v", st.Transport.Adopted, st.HandOff)
	}
}

// TestTakeOverMatchesEachSocketToItsSession: however the descriptors
// arrive (in order; shuffled, as the service manager's store passes them;
// shuffled while the receiver was told they were in order), each client
// keeps its own session: alice gets her channel's events, bob his.
func TestTakeOverMatchesEachSocketToItsSession(t *testing.T) {
	for _, r := range []struct {
		name             string
		reverse, inOrder bool
	}{{"in order", false, true}, {"any order", true, false}, {"said in order, not", true, true}} {
		t.Run(r.name, func(t *testing.T) {
			a, b := startDaemon(t), startDaemon(t)
			var clients []*wsClient
			for _, user := range []string{"alice", "bob", "carol"} {
				c := a.dial(token(t, user, user))
				c.subscribe(user)
				clients = append(clients, c)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := a.srv.handOff(ctx, &inProcessRoute{to: b.srv, reverse: r.reverse, inOrder: r.inOrder}); err != nil {
				t.Fatal(err)
			}
			for i, user := range []string{"alice", "bob", "carol"} {
				b.publish(user, "for-"+user, `{}`)
				ev := clients[i].expectEvent(user, "for-"+user)
				if ev["offset"] != float64(1) {
					t.Fatalf("%s got %v", user, ev)
				}
			}
		})
	}
}

// TestFailedHandOffServesOn: a hand-off whose receiver fails after it read
// everything leaves the first Server serving every client as before, with
// the publish API back; the failure is in its stats.
func TestFailedHandOffServesOn(t *testing.T) {
	a := startDaemon(t)
	b := startDaemon(t)
	c := a.dial(token(t, "alice", "news"))
	c.subscribe("news")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.srv.handOff(ctx, &inProcessRoute{to: b.srv, fail: errors.New("test: the new process died")}); err == nil {
		t.Fatal("hand-off succeeded")
	}
	a.publish("news", "tick", `{}`)
	if ev := c.expectEvent("news", "tick"); ev["offset"] != float64(1) {
		t.Fatalf("after the failed hand-off: %v", ev)
	}
	c.send(`{"action":"ping","id":"p"}`)
	if m := c.next(); m["type"] != "pong" {
		t.Fatalf("ping after the failed hand-off: %v", m)
	}
	if h := a.srv.Stats().HandOff; !strings.Contains(h.LastError, "the new process died") {
		t.Fatalf("stats: %+v", h)
	}
}

// TestUpgradeToABinaryThatFails: Upgrade to a binary that does not start
// (or does not exist) fails with the reason, and the Server serves on.
func TestUpgradeToABinaryThatFails(t *testing.T) {
	a := startDaemon(t)
	c := a.dial(token(t, "alice", "news"))
	c.subscribe("news")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, path := range []string{"/bin/false", "/nonexistent/fanoutd"} {
		if _, err := a.srv.Upgrade(ctx, UpgradeOptions{Path: path}); err == nil {
			t.Fatalf("upgrade to %s succeeded", path)
		}
	}
	a.publish("news", "tick", `{}`)
	c.expectEvent("news", "tick")
}

// TestHandOffDisabled: with handoff.enabled false, a hand-off is refused
// and nothing stops.
func TestHandOffDisabled(t *testing.T) {
	a := startDaemon(t, func(c *config.Config) { c.HandOff.Enabled = false })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.srv.Upgrade(ctx, UpgradeOptions{Path: "/bin/true"}); !errors.Is(err, ErrHandOffDisabled) {
		t.Fatalf("Upgrade = %v, want ErrHandOffDisabled", err)
	}
	a.publish("news", "tick", `{}`)
}

// TestTakeOverRefusesAnUnknownImage: an image of another version is
// refused with handoff.ErrVersion and changes nothing.
func TestTakeOverRefusesAnUnknownImage(t *testing.T) {
	b := startDaemon(t)
	img, err := handoff.Encode(map[string]any{"meta": 1})
	if err != nil {
		t.Fatal(err)
	}
	img = []byte(strings.Replace(string(img), "image\n1 ", "image\n99 ", 1))
	if _, err := b.srv.TakeOver(handoff.Bundle{Image: img}, false); !errors.Is(err, handoff.ErrVersion) && !errors.Is(err, handoff.ErrCorrupt) {
		t.Fatalf("TakeOver of a version 99 image = %v, want ErrVersion", err)
	}
	if _, err := b.srv.TakeOver(handoff.Bundle{Image: []byte("garbage")}, false); err == nil {
		t.Fatal("TakeOver of garbage succeeded")
	}
}

// TestDrainFilesSendsACloseFrame: connections handed over in an image the
// new process cannot read get a close frame with the code and reason, as
// a drain sends, then the end of the stream.
func TestDrainFilesSendsACloseFrame(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Close() }()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := server.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	_ = server.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	DrainFiles([]int{fd}, 1012, `{"reconnect_after_ms":1000}`)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x88, 2 + 27, 0x03, 0xf4}, `{"reconnect_after_ms":1000}`...)
	if !bytes.Equal(got, want) {
		t.Fatalf("the client read %q, want a close frame %q and the end", got, want)
	}
}
