package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// TestDisconnectSelectors: each selector closes exactly its connections,
// once, with the given code; the daemon's own sessions are never touched.
func TestDisconnectSelectors(t *testing.T) {
	n := New(Options{})
	a1, fa1 := connect(t, n, "ann", "*")
	_, fa2 := connect(t, n, "ann", "*")
	b, fb := connect(t, n, "bob", "*")
	subscribe(t, b, fb, "room:1")
	ftj := &fakeTransport{}
	n.Connect(ftj, Identity{Subject: "cat", TokenID: "t-9", Channels: []string{"*"}})
	if cs := n.Connections("cat", ""); len(cs) != 1 || cs[0].TokenID != "t-9" {
		t.Fatalf("connections of cat: %+v", cs)
	}
	fint := &fakeTransport{}
	n.Connect(fint, Identity{Internal: true, Channels: []string{"*"}})

	for _, c := range []struct {
		by, value string
		want      int
		closed    *fakeTransport
	}{
		{ByConnectionID, a1.ID(), 1, fa1},
		{ByUser, "ann", 1, fa2}, // a1 is closing already: counted once
		{ByChannel, "room:1", 1, fb},
		{ByTokenID, "t-9", 1, ftj},
		{ByTokenID, "", 0, nil},
		{ByUser, "nobody", 0, nil},
	} {
		if got := n.Disconnect(c.by, c.value, CloseDisconnected, "x"); got != c.want {
			t.Errorf("Disconnect(%s=%s) = %d, want %d", c.by, c.value, got, c.want)
		}
		if c.closed != nil {
			if cc := c.closed.closeCalls(); len(cc) != 1 || cc[0].code != CloseDisconnected {
				t.Errorf("%s=%s: closes %v", c.by, c.value, cc)
			}
		}
	}
	if len(fint.closeCalls()) != 0 || len(fa1.closeCalls()) != 1 {
		t.Fatal("an internal session was closed, or one was closed twice")
	}
}

// TestServerSubscribeBypassesTheToken: the backend's subscribe needs no
// permission from the token, tells the client its position, and the
// unsubscribe says who did it.
func TestServerSubscribeBypassesTheToken(t *testing.T) {
	n := New(Options{})
	s, ft := connect(t, n, "ann", "user:ann")
	if r := roundTrip(t, s, ft, `{"action":"subscribe","channel":"project:x"}`); r.str(t, "code") != "forbidden" {
		t.Fatalf("client subscribe: %v", r)
	}
	if err := n.Publish(context.Background(), "project:x", "t", nil); err != nil {
		t.Fatal(err)
	}
	if got := n.SubscribeServer(ByUser, "ann", "project:x"); got != 1 {
		t.Fatalf("SubscribeServer = %d", got)
	}
	r := ft.only(t)
	if r.str(t, "type") != "subscribed" || r.rawField("offset") != "0" && r.rawField("offset") != "1" {
		t.Fatalf("pushed %v", r)
	}
	if err := n.Publish(context.Background(), "project:x", "t", nil); err != nil {
		t.Fatal(err)
	}
	if e := ft.only(t); e.str(t, "type") != "t" {
		t.Fatalf("event %v", e)
	}
	if got := n.UnsubscribeServer(ByUser, "ann", "project:x", "moved"); got != 1 {
		t.Fatalf("UnsubscribeServer = %d", got)
	}
	if u := ft.only(t); u.str(t, "type") != "unsubscribed" || u.str(t, "code") != "server" || u.str(t, "message") != "moved" {
		t.Fatalf("pushed %v", u)
	}
	if got := n.UnsubscribeServer(ByUser, "ann", "project:x", "again"); got != 0 {
		t.Fatalf("second UnsubscribeServer = %d", got)
	}
	if st := n.Stats(); st.Subscriptions != 0 {
		t.Fatalf("subscriptions %d", st.Subscriptions)
	}
}

// TestConnectionsList: filters and details.
func TestConnectionsList(t *testing.T) {
	n := New(Options{})
	s, ft := connect(t, n, "ann", "*")
	subscribe(t, s, ft, "b")
	subscribe(t, s, ft, "a")
	connect(t, n, "bob", "*")
	cs := n.Connections("", "")
	if len(cs) != 2 {
		t.Fatalf("connections %v", cs)
	}
	cs = n.Connections("", "a")
	if len(cs) != 1 || cs[0].User != "ann" || fmt.Sprint(cs[0].Channels) != "[a b]" || cs[0].ID != s.ID() {
		t.Fatalf("on a: %+v", cs)
	}
	s.Closed(1000)
	if cs := n.Connections("ann", ""); len(cs) != 0 {
		t.Fatalf("a closed session listed: %v", cs)
	}
}

// TestHistoryReadAndClear: the history route's pages, in memory.
func TestHistoryReadAndClear(t *testing.T) {
	n := New(Options{DefaultChannel: ChannelOptions{HistorySize: 10}})
	for i := 1; i <= 5; i++ {
		if err := n.Publish(context.Background(), "project:h", "t", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	all, err := n.History(ctx, "project:h", nil, 0)
	if err != nil || len(all.Events) != 5 || all.Offset != 5 || !all.Complete {
		t.Fatalf("all: %+v %v", all, err)
	}
	var e struct {
		Offset  uint64 `json:"offset"`
		Payload int    `json:"payload"`
	}
	if err := json.Unmarshal(all.Events[4], &e); err != nil || e.Offset != 5 || e.Payload != 5 {
		t.Fatalf("last event %s: %v", all.Events[4], err)
	}
	page, _ := n.History(ctx, "project:h", &Position{Offset: 3, Epoch: all.Epoch}, 1)
	if len(page.Events) != 1 || !page.Complete {
		t.Fatalf("since 3 limit 1: %+v", page)
	}
	other, _ := n.History(ctx, "project:h", &Position{Offset: 3, Epoch: "elsewhere"}, 0)
	if other.Complete || len(other.Events) != 5 {
		t.Fatalf("another epoch: %+v", other)
	}
	if _, err := n.History(ctx, "bad channel", nil, 0); err == nil {
		t.Fatal("an invalid channel was read")
	}
	if err := n.ClearHistory(ctx, "project:h"); err != nil {
		t.Fatal(err)
	}
	if st := n.Stats(); st.HistoryBytes != 0 {
		t.Fatalf("history bytes %d after clear", st.HistoryBytes)
	}
	cleared, _ := n.History(ctx, "project:h", nil, 0)
	if len(cleared.Events) != 0 {
		t.Fatalf("after clear: %+v", cleared)
	}
}

// TestControlRacesTheTransport: control operations from other goroutines
// while the transport drives the session; run with -race.
func TestControlRacesTheTransport(t *testing.T) {
	n := New(Options{})
	s, _ := connect(t, n, "ann", "*")
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			s.Message(false, []byte(fmt.Sprintf(`{"action":"subscribe","channel":"c%d"}`, i%10)))
			s.Message(false, []byte(fmt.Sprintf(`{"action":"unsubscribe","channel":"c%d"}`, i%7)))
		}
	})
	wg.Go(func() {
		for i := range 200 {
			n.SubscribeServer(ByUser, "ann", fmt.Sprintf("c%d", i%5))
			n.UnsubscribeServer(ByUser, "ann", fmt.Sprintf("c%d", i%3), "x")
			_ = n.Connections("ann", "")
		}
	})
	wg.Wait()
	s.Closed(1000)
	if st := n.Stats(); st.Subscriptions != 0 || st.Connections != 0 {
		t.Fatalf("stats after close: %+v", st)
	}
}
