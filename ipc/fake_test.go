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
	keys    []string // idempotency key of each call
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

// PublishBatch numbers the events of each channel from 1 in epoch "e1", so
// tests can check the positions the API returns.
func (f *fakePublisher) PublishBatch(ctx context.Context, n int, event func(int) (string, string, []byte, string),
	done func(int, uint64, string, bool)) (int, error) {
	for i := range n {
		channel, eventType, payload, key := event(i)
		offset, err := f.publish(ctx, channel, eventType, payload, key)
		if err != nil {
			return i, err
		}
		done(i, offset, "e1", false)
	}
	return n, nil
}

func (f *fakePublisher) publish(_ context.Context, channel, eventType string, payload []byte, key string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil && len(f.calls) == f.failAt {
		return 0, f.failErr
	}
	p := noPayload
	if payload != nil {
		p = string(payload)
	}
	f.calls = append(f.calls, call{Channel: channel, Type: eventType, Payload: p})
	f.keys = append(f.keys, key)
	var offset uint64
	for _, c := range f.calls {
		if c.Channel == channel {
			offset++
		}
	}
	return offset, nil
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
	unknown     bool // a broker that got the event and did not answer
}

func (e *pubError) OutcomeUnknown() bool { return e.unknown }

func (e *pubError) Error() string     { return e.msg }
func (e *pubError) Invalid() bool     { return e.invalid }
func (e *pubError) Unavailable() bool { return e.unavailable }
