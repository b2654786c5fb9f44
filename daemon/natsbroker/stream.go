package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// streamConfig is the stream every node creates or updates to: the events
// of every channel, the last MaxPerChannel per channel, and each stored
// event republished on the live subject ({prefix}.l.…) in stored order,
// which is how nodes receive events (see doc.go).
func (b *Broker) streamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              b.opts.Stream,
		Subjects:          []string{b.opts.Prefix + ".s.>"},
		MaxMsgsPerSubject: int64(b.opts.MaxPerChannel),
		MaxAge:            b.opts.MaxAge,
		Duplicates:        b.opts.IdempotencyWindow,
		Discard:           jetstream.DiscardOld,
		RePublish:         &jetstream.RePublish{Source: b.opts.Prefix + ".s.>", Destination: b.opts.Prefix + ".l.>"},
	}
}

// ensureStream creates or updates the stream when it is not known to
// exist (first use, or a lost stream detected by streamLost), and returns
// the current stream generation. Concurrent callers wait for one attempt.
func (b *Broker) ensureStream(ctx context.Context) (uint64, error) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if b.streamOK {
		return b.gen, nil
	}
	if !b.nc.IsConnected() {
		return 0, ErrNotConnected
	}
	err := b.createStream(ctx)
	if err != nil {
		reason := "stream " + b.opts.Stream + " cannot be created: " + err.Error()
		// Nobody answering JetStream's API on a live link: JetStream is off.
		if isJetStreamOff(err) || errors.Is(err, nats.ErrNoResponders) {
			reason = "JetStream not enabled on the NATS server"
		}
		if old := b.reason.Load(); old == nil || *old != reason {
			b.log.Warn("NATS stream not usable", zap.String("why", reason))
		}
		b.setReason(reason)
		return 0, fmt.Errorf("nats stream: %s: %w", reason, err)
	}
	b.streamOK = true
	b.gen++
	b.setReason("")
	if b.gen > 1 {
		b.log.Warn("NATS stream recreated: channels start a new epoch", zap.String("stream", b.opts.Stream))
	}
	return b.gen, nil
}

// createStream creates or updates the stream, but not within
// deletionSettle of the deletion's advisory, and tries again after a pause
// (50, then 100 ms, within ctx) while nats-server answers with an internal
// error: right after a deletion it may still be removing the old stream's
// store, and a creation then fails once ("error creating store for
// stream"). Called with b.smu held.
func (b *Broker) createStream(ctx context.Context) error {
	wait := time.Until(b.deleted.Add(deletionSettle))
	for attempt := 1; ; attempt++ {
		if wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		_, err := b.js.CreateOrUpdateStream(ctx, b.streamConfig())
		var ae *jetstream.APIError
		if err == nil || attempt == createAttempts || !errors.As(err, &ae) || ae.Code < 500 {
			return err
		}
		wait = time.Duration(attempt) * 50 * time.Millisecond
	}
}

// createAttempts bounds createStream's tries.
const createAttempts = 3

// deletionSettle is how long after the deletion's advisory a node waits
// before creating the stream again. JetStream announces the deletion before
// it has finished removing the stream, and a creation in that window
// (every node that hears the advisory recreates the stream) can leave
// nats-server (2.15) with a broken stream: listed, but its files gone; it
// stores nothing, answers no publish, and updating it fails with a server
// error ("meta.inf.tmp: no such file or directory"). The deletion itself
// takes milliseconds.
const deletionSettle = 250 * time.Millisecond

// streamLost reacts to err from a JetStream call: when it says the
// stream or JetStream is gone, the stream is marked unknown so that the
// next call recreates it (a new generation, so every channel queue reads
// its position again), and
// the node is asked to catch up (it sees the new epochs). It reports
// whether err was such an error.
func (b *Broker) streamLost(gen uint64, err error) bool {
	if !isStreamGone(err) {
		return false
	}
	b.smu.Lock()
	if b.gen != gen || !b.streamOK {
		b.smu.Unlock()
		return true // someone else saw it first
	}
	b.streamOK = false
	reason := "stream " + b.opts.Stream + " not found, recreating"
	if isJetStreamOff(err) {
		reason = "JetStream not enabled on the NATS server"
	}
	b.setReason(reason)
	b.smu.Unlock()
	b.log.Warn("NATS stream lost", zap.String("why", reason), zap.Error(err))
	b.resync()
	return true
}

// deletedAdvisory is the subject, less the stream's name, on which
// JetStream announces that a stream was deleted.
const deletedAdvisory = "$JS.EVENT.ADVISORY.STREAM.DELETED."

// streamDeleted runs on nats.go's callback goroutine when JetStream says
// the stream was deleted (an operator, a tool). Another node may recreate
// it at once, and its chains may reach the sequences this node's channel
// queues keep: a compare-and-set on a kept sequence would then succeed in
// the new stream, behind another node's chain. So the stream is marked
// unknown, as a lost one is (a new generation: every queue reads its
// position again), recreated, and the node catches up. A stream lost with
// the server's store needs no advisory: the reconnect does the same.
func (b *Broker) streamDeleted() {
	b.log.Warn("NATS stream deleted; recreating it", zap.String("stream", b.opts.Stream))
	b.smu.Lock()
	b.deleted = time.Now()
	b.smu.Unlock()
	b.recheck("stream "+b.opts.Stream+" deleted, recreating", "after its deletion")
}

// setReason records why the broker is not ready; "" means it is. Called
// with b.smu held.
func (b *Broker) setReason(r string) {
	b.reason.Store(&r)
}

// NotReady says why the broker cannot serve ("" when it can): the link is
// down, JetStream is off, the stream is being recreated. For /readyz.
func (b *Broker) NotReady() string {
	if !b.nc.IsConnected() {
		return "not connected to NATS (" + b.nc.Status().String() + ")"
	}
	if r := b.reason.Load(); r != nil {
		return *r
	}
	return ""
}

// isStreamGone: the error says the stream (or JetStream) does not exist,
// so a publish went nowhere and the stream must be made again. A publish
// with no stream listening on its subject gets no responders.
func isStreamGone(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.ErrCode {
		case int(jetstream.JSErrCodeStreamNotFound), int(jetstream.JSErrCodeJetStreamNotEnabled),
			int(jetstream.JSErrCodeJetStreamNotEnabledForAccount):
			return true
		}
	}
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || isJetStreamOff(err)
}

func isJetStreamOff(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) && (ae.ErrCode == int(jetstream.JSErrCodeJetStreamNotEnabled) ||
		ae.ErrCode == int(jetstream.JSErrCodeJetStreamNotEnabledForAccount)) {
		return true
	}
	return errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrJetStreamNotEnabled)
}
