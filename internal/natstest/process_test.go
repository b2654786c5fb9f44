package natstest

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestProcessRunsJetStream: the built server takes a JetStream stream and
// a publish, and its CPU time is readable and grows.
func TestProcessRunsJetStream(t *testing.T) {
	p := StartProcess(t)
	js := JetStream(t, p.URL)
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	cpu0, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		if _, err := js.Publish(ctx, "t.x", []byte("x")); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	cpu1, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	if cpu1 <= cpu0 {
		t.Fatalf("server CPU did not move over 2,000 stored publishes: %v → %v", cpu0, cpu1)
	}
}
