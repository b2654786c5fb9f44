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

// Headers of an atomic batch publish (JetStream ≥ 2.12).
const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"
)

// casRetries bounds the attempts of one batch that loses the channel's
// compare-and-set to other nodes (or meets a lost stream).
const casRetries = 20

// pubAck is JetStream's answer to a publish or a batch commit.
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
	q := b.enqueue(channel, r)
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
// publish with a compare-and-set for a single event, one atomic batch
// (whose first message carries the compare-and-set) for several. When
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

func (b *Broker) sendErr(q *chanq, reqs []*pubReq) error {
	for attempt := range casRetries {
		if attempt > 1 {
			// Several nodes fight over the channel: spread their retries.
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.Timeout)
		err := b.attempt(ctx, q, reqs)
		cancel()
		switch {
		case err == nil:
			return nil
		case isWrongLast(err):
			q.known = false
			continue
		case b.streamLost(q.gen, err):
			q.known = false
			continue
		default:
			q.known = false
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
	if !q.known || q.gen != gen {
		seq, offset, epoch, err := b.last(ctx, q.subj)
		if err != nil {
			return err
		}
		if seq == 0 {
			epoch = newEpoch()
		}
		q.seq, q.offset, q.epoch, q.gen, q.known = seq, offset, epoch, gen, true
	}
	ack, err := b.store(ctx, q, reqs)
	if err != nil {
		return err
	}
	if ack.Duplicate {
		// Only a lone keyed publish can be a duplicate (see chanq.take).
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

// store sends reqs numbered from q's position and waits for the ack. Only
// the last message asks for an answer: the others of a batch are plain
// publishes on the same connection, so the server reads them first.
func (b *Broker) store(ctx context.Context, q *chanq, reqs []*pubReq) (pubAck, error) {
	var id string
	if len(reqs) > 1 {
		id = newEpoch() + newEpoch()
	}
	for i, r := range reqs {
		m := nats.NewMsg(q.subj)
		m.Header.Set(hdrOffset, strconv.FormatUint(q.offset+1+uint64(i), 10))
		m.Header.Set(hdrEpoch, q.epoch)
		m.Header.Set(hdrType, r.eventType)
		m.Data = r.payload
		if i == 0 {
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(q.seq, 10))
		}
		if r.key != "" {
			m.Header.Set(jetstream.MsgIDHeader, q.name+"\x00"+r.key)
		}
		if id != "" {
			m.Header.Set(hdrBatchID, id)
			m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		}
		if i < len(reqs)-1 {
			if err := b.nc.PublishMsg(m); err != nil {
				return pubAck{}, err // nothing committed: the batch is incomplete
			}
			continue
		}
		if id != "" {
			m.Header.Set(hdrBatchCommit, "1")
		}
		return b.request(ctx, m)
	}
	return pubAck{}, errors.New("natsbroker: empty batch")
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

// JetStream error codes of atomic batches that leave nothing stored and are
// worth another try: a batch that lost a message (a reconnect in the
// middle), or all the stream's batch slots taken by other nodes.
const (
	errCodeBatchIncomplete      = 10176
	errCodeBatchTooManyInflight = 10210
)

// isWrongLast: the attempt stored nothing and should be made again with a
// fresh position: the compare-and-set failed (another node took the
// offset), or the batch was refused as a whole.
func isWrongLast(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrCode {
	case int(jetstream.JSErrCodeStreamWrongLastSequence), int(jetstream.JSErrCodeStreamWrongLastSequenceConstant),
		errCodeBatchIncomplete, errCodeBatchTooManyInflight:
		return true
	}
	return false
}

// original reads the position of the message a duplicate id points at.
func (b *Broker) original(ctx context.Context, seq uint64) (uint64, string, error) {
	s, err := b.js.Stream(ctx, b.opts.Stream)
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
