package natsbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// positionTTL is how long a channel queue trusts the position it keeps
// without publishing. The compare-and-set catches a stale one, except in
// one case: the stream was recreated by another node (this one saw no
// error) and the channel's last sequence in the new stream happens to equal
// the kept one. The deletion's advisory (streamDeleted) makes every queue
// read its position again; reading it again after a pause as well leaves
// only a publish made within positionTTL of the recreation, before the
// advisory arrived. A busy channel keeps publishing on one round trip.
const positionTTL = time.Second

// contentionBudget bounds, in units of Options.Timeout, how long one batch
// that keeps losing the channel's compare-and-set to other nodes is tried
// again. A count of attempts was not enough: a node that publishes without
// pause on a channel keeps its position in hand and needs one round trip,
// the other needs two (read, then send), and lost twenty in a row about
// once in six two-node runs of TestNATSTwoNodesLiveEqualsHistory. Retried
// for a while with a growing, random pause, it gets its turn.
const contentionBudget = 2

// maxContentionPause caps the random pause between two attempts.
const maxContentionPause = 20 * time.Millisecond

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Stream    string    `json:"stream"`
	Sequence  uint64    `json:"seq"`
	Duplicate bool      `json:"duplicate"`
	Error     *apiError `json:"error"`
}

// Publish implements daemon.Broker. The event joins its channel's queue
// (chanq); the queue's runner sends it, with whatever else is waiting, in
// one round trip, and the answer comes back here.
func (b *Broker) Publish(ctx context.Context, channel, eventType string, payload []byte, key string) (uint64, string, bool, error) {
	if !b.nc.IsConnected() {
		return 0, "", false, ErrNotConnected
	}
	r := &pubReq{eventType: eventType, payload: payload, key: key, done: make(chan struct{})}
	q, lead := b.enqueue(channel, r)
	if lead {
		q.lead(b) // answers r among the first batch
	}
	select {
	case <-r.done:
		return r.offset, r.epoch, r.dup, r.err
	case <-ctx.Done():
		if q.withdraw(r) {
			return 0, "", false, fmt.Errorf("nats publish: %w", ctx.Err())
		}
		return 0, "", false, &OutcomeUnknownError{Err: ctx.Err()}
	}
}

// send stores reqs, all of channel, at the channel's next offsets: one
// message with a compare-and-set, holding one event or a chunk of them. When
// another node took the offsets meanwhile, the position is read again and
// the whole batch is numbered again; nothing was stored by the failed
// attempt, so nothing is delivered at an offset it did not get.
func (b *Broker) send(q *chanq, reqs []*pubReq) {
	err := b.sendErr(q, reqs)
	if err != nil {
		for _, r := range reqs {
			r.err = err
		}
	}
}

// sendErr tries again after a lost compare-and-set (with a random pause
// once several were lost), for contentionBudget timeouts at most, and once
// again after a lost stream (recreated by the next attempt); any other
// error, or a stream lost twice, ends it.
func (b *Broker) sendErr(q *chanq, reqs []*pubReq) error {
	lost := 0
	deadline := time.Now().Add(contentionBudget * b.opts.Timeout)
	for attempt := 0; attempt < 2 || time.Now().Before(deadline); attempt++ {
		if attempt > 1 {
			// Several nodes fight over the channel: spread their retries.
			pause := min(time.Duration(attempt)*time.Millisecond, maxContentionPause)
			time.Sleep(time.Duration(rand.Int64N(int64(pause))))
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
		err := b.attempt(ctx, q, reqs)
		cancel()
		if err == nil {
			return nil
		}
		q.known = false
		switch {
		case isWrongLast(err):
		case b.streamLost(q.gen, err) && lost == 0:
			lost++
		default:
			return err
		}
	}
	return ErrContention
}

// attempt makes one try at storing reqs.
func (b *Broker) attempt(ctx context.Context, q *chanq, reqs []*pubReq) error {
	gen, err := b.ensureStream(ctx)
	if err != nil {
		return err
	}
	now := b.opts.Now()
	if !q.known || q.gen != gen || now.Sub(q.at) > positionTTL {
		seq, offset, epoch, err := b.last(ctx, q.subj)
		if err != nil {
			return err
		}
		if seq == 0 {
			epoch = newEpoch()
		}
		q.seq, q.offset, q.epoch, q.gen, q.known = seq, offset, epoch, gen, true
	}
	q.at = now
	ack, err := b.store(ctx, q, reqs)
	if err != nil {
		return err
	}
	if ack.Duplicate {
		// Only a lone keyed event carries a message id (see chanq.take).
		offset, epoch, err := b.original(ctx, ack.Sequence)
		reqs[0].offset, reqs[0].epoch, reqs[0].dup, reqs[0].err = offset, epoch, true, err
		return nil
	}
	for i, r := range reqs {
		r.offset, r.epoch = q.offset+1+uint64(i), q.epoch
	}
	q.seq, q.offset = ack.Sequence, q.offset+uint64(len(reqs))
	return nil
}

// store sends reqs numbered from q's position, as one message with the
// compare-and-set on the channel's last one, and waits for the ack: a lone
// event as itself, several as a chunk (chunk.go).
func (b *Broker) store(ctx context.Context, q *chanq, reqs []*pubReq) (pubAck, error) {
	m := nats.NewMsg(q.subj)
	m.Header.Set(hdrOffset, strconv.FormatUint(q.offset+1, 10))
	m.Header.Set(hdrEpoch, q.epoch)
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(q.seq, 10))
	if len(reqs) == 1 {
		m.Header.Set(hdrType, reqs[0].eventType)
		m.Data = reqs[0].payload
		if k := reqs[0].key; k != "" {
			m.Header.Set(jetstream.MsgIDHeader, q.name+"\x00"+k)
		}
		return b.request(ctx, m)
	}
	m.Header.Set(hdrCount, strconv.Itoa(len(reqs)))
	size := 0
	for _, r := range reqs {
		size += chunkSize(r.eventType, r.payload)
	}
	body := make([]byte, 0, size)
	for _, r := range reqs {
		body = appendEvent(body, r.eventType, r.payload)
	}
	m.Data = body
	return b.request(ctx, m)
}

// request sends m and reads JetStream's answer. A request that was written
// but got no answer in time is an OutcomeUnknownError.
func (b *Broker) request(ctx context.Context, m *nats.Msg) (pubAck, error) {
	resp, err := b.nc.RequestMsgWithContext(ctx, m)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return pubAck{}, err // no stream took it: not stored
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.Canceled):
		return pubAck{}, &OutcomeUnknownError{Err: err}
	case err != nil:
		return pubAck{}, err
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return pubAck{}, &OutcomeUnknownError{Err: fmt.Errorf("unreadable JetStream ack: %w", err)}
	}
	if ack.Error != nil {
		return pubAck{}, ack.Error
	}
	return ack, nil
}

// isWrongLast: the compare-and-set failed (another node took the offset);
// nothing was stored.
func isWrongLast(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.ErrCode == int(jetstream.JSErrCodeStreamWrongLastSequence) ||
		ae.ErrCode == int(jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// original reads the position of the message a duplicate id points at.
func (b *Broker) original(ctx context.Context, seq uint64) (uint64, string, error) {
	s, _, err := b.stream(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("nats publish: %w", err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return 0, "", fmt.Errorf("nats publish: %w", err)
	}
	offset, _ := strconv.ParseUint(m.Header.Get(hdrOffset), 10, 64)
	return offset, m.Header.Get(hdrEpoch), nil
}
