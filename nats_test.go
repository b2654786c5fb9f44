package fanoutd

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/natstest"
	"github.com/fanoutd/fanoutd/ipc"
)

func onNATS(n *natstest.Server) func(*config.Config) {
	return func(c *config.Config) {
		c.Broker.Type = "nats"
		c.Broker.NATS.URL = n.URL
	}
}

// TestThreeNodesShareChannelsThroughNATS: a publish to any node reaches
// the subscribers on every node, in order, with one contiguous numbering.
func TestThreeNodesShareChannelsThroughNATS(t *testing.T) {
	threeNodesShareAChannel(t, onNATS(natstest.Start(t)))
}

// TestNATSRecoveryAndRestart: recovery across nodes from JetStream; with the
// server down a publish is a 503; after it restarts (the stream survives)
// publishes and deliveries resume with the numbering intact.
func TestNATSRecoveryAndRestart(t *testing.T) {
	n := natstest.Start(t)
	a, b := startDaemon(t, onNATS(n)), startDaemon(t, onNATS(n))
	tok := token(t, "sam", "*")
	w := a.dial(tok)
	w.subscribe("c")
	b.publish("c", "t", "1")
	epoch := w.expectEvent("c", "t")["epoch"].(string)
	_ = w.c.CloseNow()
	publishMany(t, b, "c", 2, 11)
	w2 := b.dial(tok)
	if r := w2.subscribeSince("c", 1, epoch); r["recovered"] != true {
		t.Fatalf("reply %v, want recovered", r)
	}
	for want := 2; want <= 11; want++ {
		if m := w2.expectEvent("c", "story.status.changed"); m["offset"] != float64(want) {
			t.Fatalf("replayed %v, want offset %d", m, want)
		}
	}

	n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := b.pub.Publish(ctx, "c", "t", json.RawMessage("12"))
	var apiErr *ipc.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("publish with NATS down: %v, want a 503", err)
	}
	n.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err = b.pub.Publish(ctx, "c", "t", json.RawMessage("12")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish still failing 15 s after NATS came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := w2.expectEvent("c", "t"); m["offset"] != float64(12) || m["epoch"] != epoch {
		t.Fatalf("after the restart: %v, want offset 12 in the same epoch", m)
	}
}
