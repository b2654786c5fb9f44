package daemon

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeAuth maps tokens to identities, standing in for jwtauth.
type fakeAuth map[string]Identity

func (a fakeAuth) Verify(token string) (Identity, error) {
	id, ok := a[token]
	if !ok {
		return Identity{}, errors.New("token is malformed")
	}
	return id, nil
}

var epoch = time.Unix(1_800_000_000, 0)

// expiringNode returns a node whose clock starts at epoch, warning 60 s
// ahead, and a session of "alice" whose token expires at epoch+10m.
func expiringNode(t *testing.T, auth fakeAuth) (*Node, *fakeClock, *Session, *fakeTransport) {
	t.Helper()
	clock := &fakeClock{now: epoch}
	n := New(Options{Now: clock.Now, Auth: auth, ExpiryWarning: time.Minute, PublicChannels: []string{"news"}})
	ft := &fakeTransport{}
	s := n.Connect(ft, Identity{Subject: "alice", Channels: []string{"project:*", "user:{sub}"}, Expires: epoch.Add(10 * time.Minute)})
	w := ft.only(t)
	if got, want := w.rawField("expires_at"), strconv.FormatInt(epoch.Add(10*time.Minute).Unix(), 10); got != want {
		t.Fatalf("welcome expires_at = %s, want %s (%v)", got, want, w)
	}
	return n, clock, s, ft
}

func TestExpiryWarnsOnceThenCloses(t *testing.T) {
	n, clock, _, ft := expiringNode(t, nil)

	clock.advance(8 * time.Minute)
	n.SweepExpiries()
	if msgs := ft.take(t); len(msgs) != 0 {
		t.Fatalf("2 min before expiry: sent %v, want nothing", msgs)
	}

	clock.advance(90 * time.Second) // 30 s left
	n.SweepExpiries()
	w := ft.only(t)
	if w.str(t, "type") != "expiring" || w.rawField("expires_in_ms") != "30000" ||
		w.rawField("expires_at") != strconv.FormatInt(epoch.Add(10*time.Minute).Unix(), 10) {
		t.Fatalf("warning = %v, want expiring in 30000 ms", w)
	}
	clock.advance(10 * time.Second)
	n.SweepExpiries()
	if msgs := ft.take(t); len(msgs) != 0 || len(ft.closeCalls()) != 0 {
		t.Fatalf("second sweep in the window: sent %v, closes %v; want one warning only", msgs, ft.closeCalls())
	}

	clock.advance(20 * time.Second) // exactly at expiry
	n.SweepExpiries()
	if got := ft.closeCalls(); len(got) != 1 || got[0].code != CloseTokenExpired {
		t.Fatalf("at expiry: closes %v, want one with %d", got, CloseTokenExpired)
	}
}

func TestRefreshMovesExpiryAndRearmsWarning(t *testing.T) {
	later := epoch.Add(30 * time.Minute)
	auth := fakeAuth{"newer": {Subject: "alice", Channels: []string{"project:*"}, Expires: later}}
	n, clock, s, ft := expiringNode(t, auth)

	clock.advance(9*time.Minute + 30*time.Second)
	n.SweepExpiries()
	if w := ft.only(t); w.str(t, "type") != "expiring" {
		t.Fatalf("got %v, want the warning", w)
	}
	r := roundTrip(t, s, ft, `{"action":"refresh","token":"newer","id":4}`)
	if r.str(t, "type") != "refreshed" || r.rawField("id") != "4" || r.rawField("expires_at") != strconv.FormatInt(later.Unix(), 10) {
		t.Fatalf("refresh reply = %v", r)
	}

	clock.advance(time.Minute) // past the old expiry
	n.SweepExpiries()
	if msgs, closes := ft.take(t), ft.closeCalls(); len(msgs) != 0 || len(closes) != 0 {
		t.Fatalf("after refresh, past the old expiry: sent %v, closes %v", msgs, closes)
	}
	clock.advance(19 * time.Minute) // 30 s before the new expiry
	n.SweepExpiries()
	if w := ft.only(t); w.str(t, "type") != "expiring" {
		t.Fatalf("got %v, want a new warning before the new expiry", w)
	}
	clock.advance(30 * time.Second)
	n.SweepExpiries()
	if got := ft.closeCalls(); len(got) != 1 || got[0].code != CloseTokenExpired {
		t.Fatalf("closes %v, want %d at the new expiry", got, CloseTokenExpired)
	}
}

func TestRefreshRefusals(t *testing.T) {
	auth := fakeAuth{
		"bob":     {Subject: "bob", Channels: []string{"*"}, Expires: epoch.Add(time.Hour)},
		"earlier": {Subject: "alice", Channels: []string{"*"}, Expires: epoch.Add(5 * time.Minute)},
	}
	for _, tc := range []struct{ name, msg, message string }{
		{"invalid token", `{"action":"refresh","token":"garbage","id":1}`, "refresh refused: token is malformed"},
		{"missing token", `{"action":"refresh","id":1}`, "refresh refused: token is malformed"},
		{"another user", `{"action":"refresh","token":"bob","id":1}`, "refresh refused: the token is for another user"},
		{"expires earlier", `{"action":"refresh","token":"earlier","id":1}`, "refresh refused: the token expires before the current one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, clock, s, ft := expiringNode(t, auth)
			r := roundTrip(t, s, ft, tc.msg)
			errReply("unauthorized", "1").check(t, r)
			if got := r.str(t, "message"); got != tc.message {
				t.Errorf("message = %q, want %q", got, tc.message)
			}
			// The refusal changed nothing: the old token still rules.
			clock.advance(10 * time.Minute)
			n.SweepExpiries()
			if got := ft.closeCalls(); len(got) != 1 || got[0].code != CloseTokenExpired {
				t.Fatalf("closes %v, want %d at the original expiry", got, CloseTokenExpired)
			}
		})
	}
}

func TestRefreshRevokesSubscriptionsTheNewTokenForbids(t *testing.T) {
	auth := fakeAuth{"narrower": {Subject: "alice", Channels: []string{"project:a"}, Expires: epoch.Add(time.Hour)}}
	n, _, s, ft := expiringNode(t, auth)
	for _, ch := range []string{"project:a", "project:b", "user:alice", "news"} {
		subscribe(t, s, ft, ch)
	}
	s.Message(false, []byte(`{"action":"refresh","token":"narrower"}`))
	msgs := ft.take(t)
	var revoked []string
	for _, m := range msgs[:len(msgs)-1] {
		if m.str(t, "type") != "unsubscribed" || m.str(t, "code") != "forbidden" {
			t.Fatalf("before the reply: %v, want unsubscribed/forbidden frames", m)
		}
		revoked = append(revoked, m.str(t, "channel"))
	}
	if last := msgs[len(msgs)-1]; last.str(t, "type") != "refreshed" {
		t.Fatalf("last message %v, want refreshed", last)
	}
	if want := []string{"project:b", "user:alice"}; !slices.Equal(revoked, want) {
		t.Fatalf("revoked %v, want %v (news is public, project:a still allowed)", revoked, want)
	}
	if got := n.Stats().Subscriptions; got != 2 {
		t.Errorf("Subscriptions = %d, want 2", got)
	}
	publishAll(t, n, "project:b", "user:alice", "project:a")
	if msgs := ft.take(t); len(msgs) != 1 || msgs[0].str(t, "channel") != "project:a" {
		t.Fatalf("after revocation got %v, want only the project:a event", msgs)
	}
}

func TestAnonymousReadsPublicChannelsOnlyAndCannotRefresh(t *testing.T) {
	n := New(Options{PublicChannels: []string{"status:*"}, Auth: fakeAuth{}})
	s, ft := connect(t, n, "")
	subscribe(t, s, ft, "status:api")
	errReply("forbidden", "").check(t, roundTrip(t, s, ft, `{"action":"subscribe","channel":"user:"}`))
	errReply("unauthorized", "").check(t, roundTrip(t, s, ft, `{"action":"refresh","token":"x"}`))
	n.SweepExpiries()
	if got := ft.closeCalls(); len(got) != 0 {
		t.Fatalf("a connection without expiry was closed: %v", got)
	}
}

func TestRefreshWithoutAuthenticatorIsRefused(t *testing.T) {
	n := New(Options{})
	s, ft := connect(t, n, "alice", "*")
	errReply("unauthorized", "9").check(t, roundTrip(t, s, ft, `{"action":"refresh","token":"t","id":9}`))
}

func TestClosedSessionLeavesTheExpirySweep(t *testing.T) {
	n, clock, s, ft := expiringNode(t, nil)
	s.Closed(1000)
	clock.advance(time.Hour)
	n.SweepExpiries()
	if got := ft.closeCalls(); len(got) != 0 {
		t.Fatalf("a closed session was swept: %v", got)
	}
}

func publishAll(t *testing.T, n *Node, channels ...string) {
	t.Helper()
	for _, ch := range channels {
		if err := n.Publish(context.Background(), ch, "e", nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTokenExpiry: the expiry and its warning share a word; a warning is
// marked once per expiry, and a new expiry re-arms it.
func TestTokenExpiry(t *testing.T) {
	var e tokenExpiry
	if at, warned := e.load(); at != 0 || warned {
		t.Fatalf("zero value = %d, %v; want none", at, warned)
	}
	if e.warn(0) {
		t.Fatal("warned without an expiry")
	}
	const at = int64(1_700_000_000_123_456_789)
	e.set(at, false)
	if !e.warn(at) || e.warn(at) {
		t.Fatal("the warning is not marked exactly once")
	}
	if got, warned := e.load(); got != at || !warned {
		t.Fatalf("after the warning = %d, %v; want %d, true", got, warned, at)
	}
	e.set(at+1, false) // a refresh
	if e.warn(at) {
		t.Fatal("a warning for the old expiry marked the new one")
	}
	if got, warned := e.load(); got != at+1 || warned {
		t.Fatalf("after a refresh = %d, %v; want %d, false", got, warned, at+1)
	}
	for _, warned := range []bool{false, true} {
		e.set(-5, warned) // before 1970: expired all the same
		if got, w := e.load(); got != 1 || w != warned {
			t.Fatalf("an expiry before 1970, warned %v = %d, %v; want 1, %v", warned, got, w, warned)
		}
	}
}
