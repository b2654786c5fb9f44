package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/nats-io/nats.go/jetstream"
)

// last returns the channel's last stored event: its stream sequence and
// position; seq 0 when the channel has none.
func (b *Broker) last(ctx context.Context, subj string) (seq, offset uint64, epoch string, err error) {
	s, gen, err := b.stream(ctx)
	if err != nil {
		return 0, 0, "", err
	}
	m, err := s.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, 0, "", nil
	}
	if err != nil {
		b.streamLost(gen, err)
		return 0, 0, "", err
	}
	return m.Sequence, lastOffset(m.Header), m.Header.Get(hdrEpoch), nil
}

// stream returns a handle on the stream, making the stream first if need
// be. The handle is kept per generation: reading it costs a round trip.
func (b *Broker) stream(ctx context.Context) (jetstream.Stream, uint64, error) {
	gen, err := b.ensureStream(ctx)
	if err != nil {
		return nil, 0, err
	}
	b.smu.Lock()
	s := b.handle
	if b.handleGen != gen {
		s = nil
	}
	b.smu.Unlock()
	if s != nil {
		return s, gen, nil
	}
	s, err = b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		b.streamLost(gen, err)
		return nil, 0, fmt.Errorf("nats stream: %w", err)
	}
	b.smu.Lock()
	b.handle, b.handleGen = s, gen
	b.smu.Unlock()
	return s, gen, nil
}

// Position implements daemon.Broker.
func (b *Broker) Position(ctx context.Context, channel string) (uint64, string, error) {
	_, offset, epoch, err := b.last(ctx, b.subject(channel))
	return offset, epoch, err
}

// History implements daemon.Broker: an ordered consumer reads the
// channel's stored events.
func (b *Broker) History(ctx context.Context, channel string, after uint64, epoch string) ([]daemon.BrokerEvent, bool, error) {
	s, _, err := b.stream(ctx)
	if err != nil {
		return nil, false, err
	}
	subj := b.subject(channel)
	_, offset, current, err := b.last(ctx, subj)
	switch {
	case err != nil:
		return nil, false, err
	case current != epoch || after > offset:
		return nil, false, nil
	case after == offset:
		return nil, true, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return nil, false, fmt.Errorf("nats history: %w", err)
	}
	var events []daemon.BrokerEvent
	want := after + 1
	for range offset - after + 1 { // each fetch returns at least one message or ends the loop
		if want > offset {
			break
		}
		batch, err := cons.Fetch(b.opts.MaxPerChannel, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, false, fmt.Errorf("nats history: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			held, err := unpack(nil, m.Headers(), m.Data())
			if err != nil {
				return nil, false, fmt.Errorf("nats history: %w", err)
			}
			for _, ev := range held {
				switch {
				case ev.Epoch != epoch || ev.Offset < want:
				case ev.Offset == want:
					events = append(events, ev)
					want++
				default:
					return nil, false, nil // trimmed: not all kept
				}
			}
		}
		if n == 0 {
			break
		}
	}
	return events, want > offset, nil
}
