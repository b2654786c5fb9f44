package fanoutd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/fanoutd/fanoutd/ipc"
)

// pos is an (epoch, offset) pair: the name of one event, forever.
type pos struct {
	epoch  string
	offset uint64
}

// record is what a checked subscriber read: an event, or a notice that
// events were missed.
type record struct {
	missed  bool
	at      pos
	payload string
}

// recorder reads everything a subscriber receives until stopped.
type recorder struct {
	mu      sync.Mutex
	start   pos // the subscribe reply's position
	records []record
	done    chan struct{}
}

func record1(t *testing.T, w *wsClient, channel string, stop <-chan struct{}) *recorder {
	t.Helper()
	offset, epoch := w.subscribePosition(channel)
	r := &recorder{start: pos{epoch, offset}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
	}()
	go func() {
		defer close(r.done)
		for {
			_, b, err := w.c.Read(ctx)
			if err != nil {
				return
			}
			var m struct {
				Type    string          `json:"type"`
				Offset  uint64          `json:"offset"`
				Epoch   string          `json:"epoch"`
				Payload json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(b, &m) != nil {
				continue
			}
			r.mu.Lock()
			switch m.Type {
			case "missed":
				r.records = append(r.records, record{missed: true})
			case "t": // the event type the publishers use
				r.records = append(r.records, record{at: pos{m.Epoch, m.Offset}, payload: string(m.Payload)})
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// span is a run of positions a subscriber was told it missed: offsets
// from..to of epoch (to 0: no end).
type span struct {
	epoch    string
	from, to uint64
}

// check returns the first broken promise in what r received, given every
// acknowledged publish (position → payload): a position received twice,
// content that is not what was acknowledged there, a jump in the sequence
// without a "missed" notice before it, or an acknowledged event neither
// received nor inside an announced gap.
func (r *recorder) check(acked map[pos]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := map[pos]bool{}
	var told []span
	cur, notice := r.start, false
	for _, rec := range r.records {
		if rec.missed {
			notice = true
			continue
		}
		if got[rec.at] {
			return fmt.Errorf("position %v received twice", rec.at)
		}
		got[rec.at] = true
		if want, ok := acked[rec.at]; ok && want != rec.payload {
			return fmt.Errorf("position %v carried %s, acknowledged with %s", rec.at, rec.payload, want)
		}
		switch {
		case rec.at.epoch == cur.epoch && rec.at.offset == cur.offset+1:
		case rec.at.epoch == cur.epoch && rec.at.offset <= cur.offset:
			return fmt.Errorf("position %v after %v: going backwards", rec.at, cur)
		case !notice:
			return fmt.Errorf("silent gap: %v after %v without a missed notice", rec.at, cur)
		case rec.at.epoch == cur.epoch:
			told = append(told, span{cur.epoch, cur.offset + 1, rec.at.offset - 1})
		default:
			told = append(told, span{cur.epoch, cur.offset + 1, 0}, span{rec.at.epoch, 1, rec.at.offset - 1})
		}
		cur, notice = rec.at, false
	}
	if notice {
		told = append(told, span{cur.epoch, cur.offset + 1, 0})
	}
	for p, payload := range acked {
		if got[p] || (p.epoch == r.start.epoch && p.offset <= r.start.offset) {
			continue
		}
		covered := false
		for _, s := range told {
			if s.epoch == p.epoch && p.offset >= s.from && (s.to == 0 || p.offset <= s.to) {
				covered = true
			}
		}
		if !covered {
			return fmt.Errorf("acknowledged %v (%s) neither received nor announced missed (received %d, last %v, start %v)",
				p, payload, len(r.records), cur, r.start)
		}
	}
	return nil
}

// complete reports whether r has every acknowledged position or has been
// told it missed something after its last event (then the rest may never
// come).
func (r *recorder) complete(acked map[pos]string) bool {
	return r.check(acked) == nil
}

// ledger collects acknowledged publishes from several publishers.
type ledger struct {
	mu     sync.Mutex
	acked  map[pos]string
	reused []string
	failed atomic.Int64
}

func (l *ledger) add(p ipc.Position, payload string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := pos{p.Epoch, p.Offset}
	if old, ok := l.acked[at]; ok && old != payload {
		l.reused = append(l.reused, fmt.Sprintf("%v acknowledged for %s and for %s", at, old, payload))
	}
	l.acked[at] = payload
}

func (l *ledger) snapshot() map[pos]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[pos]string, len(l.acked))
	for k, v := range l.acked {
		m[k] = v
	}
	return m
}

// runPublishers starts per node `per` publishers on channel, each
// publishing unique payloads until stop (at most 5,000 each), and returns a
// wait function.
func runPublishers(nodes []*testDaemon, per int, channel string, l *ledger, stop <-chan struct{}) func() {
	var wg sync.WaitGroup
	for ni, d := range nodes {
		for pi := range per {
			wg.Go(func() {
				c := ipc.NewClient(d.socket)
				defer c.Close()
				for i := range 5000 {
					select {
					case <-stop:
						return
					default:
					}
					payload := fmt.Sprintf(`"n%d-p%d-%d"`, ni, pi, i)
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					p, err := publishAt(ctx, d, c, channel, payload)
					cancel()
					if err != nil {
						l.failed.Add(1)
						time.Sleep(20 * time.Millisecond) // an outage: do not spin
						continue
					}
					l.add(p, payload)
				}
			})
		}
	}
	return wg.Wait
}

// checkAll waits (at most 15 s) until every recorder has what it is owed,
// then checks each.
func checkAll(t *testing.T, l *ledger, recs []*recorder) {
	t.Helper()
	acked := l.snapshot()
	if len(l.reused) > 0 {
		t.Fatalf("positions given twice: %v", l.reused)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, r := range recs {
		for !r.complete(acked) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i, r := range recs {
		if err := r.check(acked); err != nil {
			t.Errorf("subscriber %d: %v", i, err)
		}
	}
}

// TestNATSTwoNodesLiveEqualsHistory: two nodes publish to one channel at
// once, so compare-and-sets are lost all the time. What every subscriber
// receives at a position is what was acknowledged there, once, with no
// silent gap.
func TestNATSTwoNodesLiveEqualsHistory(t *testing.T) {
	n := natstest.Start(t)
	nodes := []*testDaemon{startDaemon(t, onNATS(n)), startDaemon(t, onNATS(n)), startDaemon(t, onNATS(n))}
	publishUntilOK(t, nodes[0], "race", `"first"`)
	var recs []*recorder
	for _, d := range nodes {
		recs = append(recs, record1(t, d.dial(token(t, "u", "*")), "race", t.Context().Done()))
	}
	stop := make(chan struct{})
	l := &ledger{acked: map[pos]string{}}
	wait := runPublishers(nodes[:2], 4, "race", l, stop)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wait()
	if len(l.acked) < 50 {
		t.Fatalf("only %d publishes acknowledged (%d failed)", len(l.acked), l.failed.Load())
	}
	if f := l.failed.Load(); f > 0 {
		t.Errorf("%d publishes failed with NATS up", f)
	}
	checkAll(t, l, recs)
}

// TestNATSCheckerAcrossRestarts: the checker across two nodes while
// nats-server restarts on the same store, then on an empty one. Every
// publish answered 200 reaches every subscriber exactly once at its
// acknowledged position, or the subscriber is told it missed events.
func TestNATSCheckerAcrossRestarts(t *testing.T) {
	n := natstest.Start(t)
	nodes := []*testDaemon{startDaemon(t, onNATS(n)), startDaemon(t, onNATS(n))}
	publishUntilOK(t, nodes[0], "ck", `"first"`)
	stopRead := make(chan struct{})
	var recs []*recorder
	for _, d := range nodes {
		for range 2 {
			recs = append(recs, record1(t, d.dial(token(t, "u", "*")), "ck", stopRead))
		}
	}
	l := &ledger{acked: map[pos]string{}}
	stopPub := make(chan struct{})
	wait := runPublishers(nodes, 2, "ck", l, stopPub)
	time.Sleep(700 * time.Millisecond)
	n.Stop()
	n.Restart()
	time.Sleep(1500 * time.Millisecond)
	n.Stop()
	n.RestartEmpty()
	time.Sleep(2 * time.Second)
	close(stopPub)
	wait()
	// Some publishes after the last restart must have gone through.
	epochs := map[string]int{}
	for p := range l.snapshot() {
		epochs[p.epoch]++
	}
	if len(epochs) < 2 {
		t.Fatalf("acknowledged positions in %d epoch(s), want a new one after the empty restart: %v (%d failed)", len(epochs), epochs, l.failed.Load())
	}
	checkAll(t, l, recs)
	close(stopRead)
	for _, r := range recs {
		<-r.done
	}
}
