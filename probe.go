package fanoutd

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"

	"github.com/fanoutd/fanoutd/daemon"
)

// probeEventType is the type of the events the watchdog's probe publishes.
const probeEventType = "watchdog.probe"

// Probe proves that the daemon still does its work, for a service
// manager's watchdog (systemd.RunWatchdog): the transport's event loop and
// a worker answer (netpoll.Server.Probe), and an event published on a
// private channel reaches an in-process subscriber through the hub, the
// path an application's publish takes to a browser. The channel's name is
// random per probe, so no client can subscribe to it by guessing. Each
// probe counts in Stats as one connection (gone when Probe returns) and one
// publish. It returns the first failure, or ctx's error when something did
// not answer in time. Called from one goroutine at a time.
func (s *Server) Probe(ctx context.Context) error {
	if err := s.ws.Probe(ctx); err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	if err := s.probeHub(ctx); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return nil
}

// probeHub subscribes an in-process session to a fresh channel, publishes
// to it and waits for the event.
func (s *Server) probeHub(ctx context.Context) error {
	channel := probeChannelPrefix + rand.Text()
	t := probeTransport{msgs: make(chan []byte, 4)} // welcome, subscribed, event
	sess := s.node.Connect(t, daemon.Identity{Subject: "fanoutd-watchdog", Channels: []string{channel}, Internal: true})
	defer sess.Closed(closeNormal)
	sess.Message(false, []byte(`{"action":"subscribe","channel":"`+channel+`"}`))
	if err := s.node.PublishReserved(ctx, channel, probeEventType, nil); err != nil {
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
			return fmt.Errorf("the probe's event was not delivered: %w", ctx.Err())
		}
	}
}

// probeChannelPrefix starts the probe's channels, which keep no history
// (see channelOptions): a probe must leave nothing behind.
const probeChannelPrefix = "fanoutd.watchdog."

// closeNormal is RFC 6455's 1000, what the probe's session reports when it
// goes away.
const closeNormal = 1000

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

// QueueEvent is Queue: the probe's channel never backs up.
func (p probeTransport) QueueEvent(msg []byte, _ uint64, _ int) (ok, first bool, dropped int) {
	return p.Send(msg), false, 0
}

func (probeTransport) Flush() {}

func (probeTransport) Close(int, string) {}
