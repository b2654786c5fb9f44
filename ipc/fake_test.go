package ipc

import (
	"context"
	"errors"
	"sync"
)

// call is one Publish the fake saw; a nil payload is recorded as noPayload
// so tests can tell "absent" from "empty".
type call struct {
	Channel, Type, Payload string
}

const noPayload = "<none>"

// fakePublisher records calls. CheckEvent rejects the channel "forbidden";
// Publish fails with failErr on the call numbered failAt (0-based).
type fakePublisher struct {
	mu      sync.Mutex
	calls   []call
	checked int
	failAt  int
	failErr error
}

var _ Publisher = (*fakePublisher)(nil)

func (f *fakePublisher) CheckEvent(channel, _ string, _ []byte) error {
	f.mu.Lock()
	f.checked++
	f.mu.Unlock()
	if channel == "forbidden" {
		return errors.New("channel not allowed")
	}
	return nil
}

func (f *fakePublisher) PublishBatch(ctx context.Context, n int, event func(int) (string, string, []byte)) (int, error) {
	for i := range n {
		channel, eventType, payload := event(i)
		if err := f.publish(ctx, channel, eventType, payload); err != nil {
			return i, err
		}
	}
	return n, nil
}

func (f *fakePublisher) publish(_ context.Context, channel, eventType string, payload []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil && len(f.calls) == f.failAt {
		return f.failErr
	}
	p := noPayload
	if payload != nil {
		p = string(payload)
	}
	f.calls = append(f.calls, call{Channel: channel, Type: eventType, Payload: p})
	return nil
}

func (f *fakePublisher) Stats() any {
	return map[string]any{"sessions": 3, "channels": []string{"a"}}
}

func (f *fakePublisher) checks() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checked
}

func (f *fakePublisher) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// pubError carries the behaviours the Publisher contract documents.
type pubError struct {
	msg         string
	invalid     bool
	unavailable bool
}

func (e *pubError) Error() string     { return e.msg }
func (e *pubError) Invalid() bool     { return e.invalid }
func (e *pubError) Unavailable() bool { return e.unavailable }
