package ops

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
)

// probeEventType is the type of the events the hub probe publishes.
const probeEventType = "watchdog.probe"

// ProbeChannelPrefix starts the probe's channels, which keep no history
// (the root's channel classes): a probe must leave nothing behind.
const ProbeChannelPrefix = "fanoutd.watchdog."

// closeNormal is RFC 6455's 1000, what the probe's session reports when it
// goes away.
const closeNormal = 1000

// ProbeHub proves that an event published on a private channel reaches an
// in-process subscriber through the hub, the path an application's
// publish takes to a browser: it subscribes an in-process session to a
// fresh channel (random per probe, so no client can subscribe to it by
// guessing), publishes to it and waits for the event. Each probe counts
// in the core's stats as one connection (gone when it returns) and one
// publish. Its duration is kept for the console and the metrics. Called
// by the watchdog's probe and the broker watch, from any goroutine.
func (p *Ops) ProbeHub(ctx context.Context) error {
	start := time.Now() // the real clock: a latency, not a timestamp
	err := p.probeHub(ctx)
	if err != nil {
		p.probeFails.Add(1)
		return err
	}
	p.probeNanos.Store(max(1, int64(time.Since(start))))
	return nil
}

func (p *Ops) probeHub(ctx context.Context) error {
	channel := ProbeChannelPrefix + rand.Text()
	t := probeTransport{msgs: make(chan []byte, 4)} // welcome, subscribed, event
	n := p.o.Node
	sess := n.Connect(t, daemon.Identity{Subject: "fanoutd-watchdog", Channels: []string{channel}, Internal: true})
	defer sess.Closed(closeNormal)
	sess.Message(false, []byte(`{"action":"subscribe","channel":"`+channel+`"}`))
	if err := n.PublishReserved(ctx, channel, probeEventType, nil); err != nil {
		return err
	}
	want := []byte(`"type":"` + probeEventType + `"`)
	for {
		select {
		case m := <-t.msgs:
			if bytes.Contains(m, want) {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrProbeNotDelivered, ctx.Err())
		}
	}
}

// probeTransport is the probe's connection: the hub queues to it as to any
// WebSocket, and it hands the messages to probeHub.
type probeTransport struct{ msgs chan []byte }

var _ daemon.Transport = probeTransport{}

// Send never blocks: a full buffer (not expected: a probe gets three
// messages) reports the message as not queued.
func (p probeTransport) Send(msg []byte) bool {
	select {
	case p.msgs <- msg:
		return true
	default:
		return false
	}
}

// Queue delivers at once, so there is never anything to flush.
func (p probeTransport) Queue(msg []byte) (ok, first bool) { return p.Send(msg), false }

// QueueEventAt is Queue: the probe's channel never backs up.
func (p probeTransport) QueueEventAt(msg []byte, _ uint64, _ int, _ int64) (ok, first bool, dropped int) {
	return p.Send(msg), false, 0
}

func (probeTransport) Flush() {}

func (probeTransport) Close(int, string) {}
