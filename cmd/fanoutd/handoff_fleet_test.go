package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

// fleet is the clients of a hand-off test: each a WebSocket (coder/websocket,
// a client we did not write) subscribed to one of the channels, recording
// every event's position and how long after its publish it arrived.
type fleet struct {
	clients  []*fleetClient
	channels int
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

type fleetClient struct {
	c       *websocket.Conn
	channel string
	mu      sync.Mutex
	epoch   string
	first   uint64 // the subscribed reply's offset: events follow from first+1
	got     []uint64
	maxLag  time.Duration
	readErr error // why reading stopped: nil while it runs, or after the test closed it
}

// handOffEvent is a test event's payload: its publish time.
type handOffEvent struct {
	Sent int64 `json:"sent"`
	Seq  int   `json:"seq"`
}

// openFleet opens n clients over channels channels, at most 200
// handshakes at a time, from consecutive 127.0.0.x (15,000 each) so that
// large fleets do not run out of ephemeral ports.
func openFleet(wsURL, secret string, n, channels int) (*fleet, error) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{channels: channels, cancel: cancel, clients: make([]*fleetClient, n)}
	sem := make(chan struct{}, 200)
	// A source address of its own per fleet (127.0.0.2–.203): the ports a
	// previous fleet left in TIME_WAIT are not this one's.
	base := byte(2 + rand.IntN(200))
	errs := make(chan error, n)
	var dialing sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		dialing.Go(func() {
			defer func() { <-sem }()
			fc, err := dialFleetClient(ctx, wsURL, secret, i, channels, base)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			f.clients[i] = fc
			f.wg.Go(func() { fc.read(ctx) })
		})
	}
	dialing.Wait()
	close(errs)
	for err := range errs {
		f.close()
		return nil, err
	}
	return f, nil
}

func dialFleetClient(ctx context.Context, wsURL, secret string, i, channels int, base byte) (*fleetClient, error) {
	ch := "handoff:" + strconv.Itoa(i%channels)
	tok, err := jwtauth.Mint([]byte(secret), "u"+strconv.Itoa(i), []string{"handoff:*"}, time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, base+byte(i/15000))}
	dialer := &net.Dialer{LocalAddr: src}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPClient: hc,
		Subprotocols: []string{"fanout.v1", "bearer." + tok}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	fc := &fleetClient{c: c, channel: ch}
	if _, err := fc.next(dctx, `"welcome"`); err != nil {
		return nil, err
	}
	if err := c.Write(dctx, websocket.MessageText, []byte(`{"action":"subscribe","channel":"`+ch+`"}`)); err != nil {
		return nil, err
	}
	b, err := fc.next(dctx, `"subscribed"`)
	if err != nil {
		return nil, err
	}
	var r struct {
		Offset uint64 `json:"offset"`
		Epoch  string `json:"epoch"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	fc.first, fc.epoch = r.Offset, r.Epoch
	return fc, nil
}

func (fc *fleetClient) next(ctx context.Context, want string) ([]byte, error) {
	_, b, err := fc.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte(want)) {
		return nil, fmt.Errorf("got %s, want %s", b, want)
	}
	return b, nil
}

// read records events until the connection fails or the test ends.
func (fc *fleetClient) read(ctx context.Context) {
	for {
		_, b, err := fc.c.Read(ctx)
		now := time.Now()
		if err != nil {
			fc.mu.Lock()
			if ctx.Err() == nil {
				fc.readErr = err
			}
			fc.mu.Unlock()
			return
		}
		var ev struct {
			Type    string       `json:"type"`
			Offset  uint64       `json:"offset"`
			Epoch   string       `json:"epoch"`
			Payload handOffEvent `json:"payload"`
		}
		if err := json.Unmarshal(b, &ev); err != nil || ev.Type != "tick" {
			fc.mu.Lock()
			fc.readErr = fmt.Errorf("unexpected frame %s", b)
			fc.mu.Unlock()
			return
		}
		fc.mu.Lock()
		if ev.Epoch != fc.epoch {
			fc.readErr = fmt.Errorf("epoch %q, subscribed at %q", ev.Epoch, fc.epoch)
		}
		fc.got = append(fc.got, ev.Offset)
		fc.maxLag = max(fc.maxLag, now.Sub(time.Unix(0, ev.Payload.Sent)))
		fc.mu.Unlock()
	}
}

func (f *fleet) close() {
	f.cancel()
	for _, fc := range f.clients {
		if fc != nil {
			_ = fc.c.CloseNow()
		}
	}
	f.wg.Wait()
}

// tickPublisher publishes "tick" events round-robin over the fleet's channels
// at rate per second over the publish socket, each with an idempotency
// key: a hand-off may close an idle keep-alive connection, and Go's
// client resends a request with a key when that happens.
type tickPublisher struct {
	socket   string
	channels int
	rate     int
	sent     []atomic.Int64 // per channel: events answered 200
	stop     chan struct{}
	done     chan error
	maxRTT   atomic.Int64
}

func startPublisher(t *testing.T, socket string, channels, rate int) *tickPublisher {
	p := &tickPublisher{socket: socket, channels: channels, rate: rate, sent: make([]atomic.Int64, channels),
		stop: make(chan struct{}), done: make(chan error, 1)}
	go func() { p.done <- p.run() }()
	t.Cleanup(func() { p.finish() })
	return p
}

func (p *tickPublisher) run() error {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p.socket)
		}}}
	tick := time.NewTicker(time.Second / time.Duration(p.rate))
	defer tick.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-p.stop:
			return nil
		case <-tick.C:
		}
		ch := seq % p.channels
		payload, _ := json.Marshal(handOffEvent{Sent: time.Now().UnixNano(), Seq: seq})
		body := `{"channel":"handoff:` + strconv.Itoa(ch) + `","type":"tick","payload":` + string(payload) + `}`
		req, _ := http.NewRequest(http.MethodPost, "http://fanoutd/v1/publish", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "tick-"+strconv.Itoa(seq))
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("publish %d: %w", seq, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("publish %d: %s", seq, resp.Status)
		}
		p.sent[ch].Add(1)
		if rtt := int64(time.Since(start)); rtt > p.maxRTT.Load() {
			p.maxRTT.Store(rtt)
		}
	}
}

// finish stops publishing and returns the first error.
func (p *tickPublisher) finish() error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	err := <-p.done
	p.done <- err
	return err
}

// check waits (bounded) until every client has every event of its
// channel (sent[i]: the events published to channel i), then checks the
// promises: no client closed, every event once, in order, at continuous
// offsets in the epoch it subscribed in. It returns the longest
// publish→deliver time seen.
func (f *fleet) check(sent []int64) (time.Duration, error) {
	deadline := time.Now().Add(60 * time.Second)
	var lag time.Duration
	for i, fc := range f.clients {
		ch, _ := strconv.Atoi(strings.TrimPrefix(fc.channel, "handoff:"))
		want := int(sent[ch])
		for {
			fc.mu.Lock()
			n, rerr := len(fc.got), fc.readErr
			fc.mu.Unlock()
			if n >= want || rerr != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		fc.mu.Lock()
		got, rerr := append([]uint64(nil), fc.got...), fc.readErr
		lag = max(lag, fc.maxLag)
		fc.mu.Unlock()
		if rerr != nil {
			return lag, fmt.Errorf("client %d (%s): %w", i, fc.channel, rerr)
		}
		if err := continuous(got, fc.first, want); err != nil {
			return lag, fmt.Errorf("client %d (%s): %w", i, fc.channel, err)
		}
	}
	return lag, nil
}

// continuous checks that got is first+1 … first+want, each once, in order.
func continuous(got []uint64, first uint64, want int) error {
	if len(got) != want {
		return fmt.Errorf("%d events, %d published", len(got), want)
	}
	for i, off := range got {
		if off != first+uint64(i)+1 {
			return fmt.Errorf("event %d at offset %d, want %d (%v…)", i, off, first+uint64(i)+1, got[max(0, i-3):min(len(got), i+3)])
		}
	}
	return nil
}

var errNoRSS = errors.New("no VmRSS")

// rssKiB reads a process's resident set from /proc.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errNoRSS
}
