package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Publishes are pipelined: Publish queues a request, and each of the
// pipelines goroutines takes every request queued at that moment (up to
// maxBatch) and sends them as one pipeline of EVALSHA calls, one round
// trip for many publishes. Each script still runs atomically and has its
// own outcome. While one pipeline waits for Redis the next fills up, so
// batches grow with the load and a lone publish waits for nobody.
//
// A request is sent at most once. Before sending, a pipeline marks it taken;
// a caller whose context ends first marks it abandoned and it is never
// sent. Once taken, a missing answer is an OutcomeUnknownError, never a
// retry. Only answers that prove the script did not run (NOSCRIPT, MOVED,
// ASK, TRYAGAIN) lead to sending it again.
const (
	pipelines = 2
	maxBatch  = 256
	queueSize = 4096
	// resends bounds the sends of one request refused before running.
	resends = 3
)

// Request states.
const (
	queued int32 = iota
	taken
	abandoned
)

type pubReq struct {
	channel, typ, key string
	payload           []byte
	state             atomic.Int32
	done              chan pubResult // buffered: the pipeline never blocks
}

type pubResult struct {
	offset uint64
	epoch  string
	dup    bool
	err    error
}

// Publish implements daemon.Broker. An error that is not an
// *OutcomeUnknownError means the event was not published.
func (b *Broker) Publish(ctx context.Context, channel, eventType string, payload []byte, key string) (uint64, string, bool, error) {
	if b.runCtx == nil {
		return 0, "", false, errors.New("redis publish: broker not started")
	}
	r := &pubReq{channel: channel, typ: eventType, payload: payload, key: key, done: make(chan pubResult, 1)}
	select {
	case b.queue <- r:
	case <-ctx.Done():
		return 0, "", false, fmt.Errorf("redis publish: %w", ctx.Err())
	case <-b.runCtx.Done():
		return 0, "", false, errors.New("redis publish: broker closed")
	}
	select {
	case res := <-r.done:
		return res.offset, res.epoch, res.dup, res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return 0, "", false, fmt.Errorf("redis publish: %w", ctx.Err())
		}
		return 0, "", false, &OutcomeUnknownError{ctx.Err()}
	case <-b.runCtx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return 0, "", false, errors.New("redis publish: broker closed")
		}
		// Taken: the pipeline that took it answers, whatever happens.
		res := <-r.done
		return res.offset, res.epoch, res.dup, res.err
	}
}

// pipeline sends queued publishes until ctx ends, then fails what is left.
func (b *Broker) pipeline(ctx context.Context) {
	batch := make([]*pubReq, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-b.queue:
			batch = append(batch, r)
		case <-ctx.Done():
			b.failQueued()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-b.queue:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.sendBatch(ctx, batch)
	}
}

// failQueued answers the requests no pipeline will send.
func (b *Broker) failQueued() {
	for {
		select {
		case r := <-b.queue:
			r.done <- pubResult{err: errors.New("redis publish: broker closed")}
		default:
			return
		}
	}
}

// sendBatch takes the requests not abandoned and sends them, grouped by
// the Redis server that holds their channel.
func (b *Broker) sendBatch(ctx context.Context, batch []*pubReq) {
	todo := batch[:0:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(queued, taken) {
			todo = append(todo, r)
		}
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt > 0 {
			// A cluster's slots are moving: give its new map a moment.
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
		todo = b.sendOnce(ctx, todo, attempt+1 >= resends)
	}
}

// sendOnce sends reqs and answers each, except those refused before their
// script ran, which it returns for another try (unless last).
func (b *Broker) sendOnce(ctx context.Context, reqs []*pubReq, last bool) (again []*pubReq) {
	groups, err := b.group(ctx, reqs)
	if err != nil {
		for _, r := range reqs {
			b.answer(r, pubResult{err: fmt.Errorf("redis publish: %w", err)})
		}
		return nil
	}
	for client, rs := range groups {
		again = append(again, b.sendGroup(ctx, client, rs, last)...)
	}
	return again
}

// group maps requests to the client of the server that holds their
// channel: one for a single server, a slot's master in a cluster.
func (b *Broker) group(ctx context.Context, reqs []*pubReq) (map[redis.Scripter][]*pubReq, error) {
	if b.cluster == nil {
		return map[redis.Scripter][]*pubReq{b.rdb: reqs}, nil
	}
	out := map[redis.Scripter][]*pubReq{}
	for _, r := range reqs {
		m, err := b.cluster.MasterForKey(ctx, b.key("m", r.channel))
		if err != nil {
			return nil, err
		}
		out[m] = append(out[m], r)
	}
	return out, nil
}

// sendGroup sends one pipeline to one server.
func (b *Broker) sendGroup(ctx context.Context, c redis.Scripter, reqs []*pubReq, last bool) (again []*pubReq) {
	pipe := c.(interface{ Pipeline() redis.Pipeliner }).Pipeline()
	cmds := make([]*redis.Cmd, len(reqs))
	for i, r := range reqs {
		keys, args := b.publishArgs(r)
		cmds[i] = pipe.EvalSha(ctx, publishScript.Hash(), keys, args...)
	}
	_, execErr := pipe.Exec(ctx)
	var noScript []int
	for i, cmd := range cmds {
		r := reqs[i]
		res, err := cmd.Slice()
		if cmd.Err() == nil && cmd.Val() == nil && execErr != nil {
			// No connection: go-redis fails the pipeline, not its commands.
			err = execErr
		}
		switch {
		case err == nil:
			b.answer(r, b.parsePublished(r.channel, res))
		case redis.HasErrorPrefix(err, "NOSCRIPT"):
			noScript = append(noScript, i)
		case !last && refusedBeforeRunning(err):
			if b.cluster != nil {
				b.cluster.ReloadState(ctx)
			}
			again = append(again, r)
		default:
			b.answer(r, pubResult{err: classify(err)})
		}
	}
	if len(noScript) > 0 {
		// Redis lost its script cache (a restart): EVAL loads it again.
		// NOSCRIPT proves nothing ran, so sending these again is safe.
		pipe := c.(interface{ Pipeline() redis.Pipeliner }).Pipeline()
		evals := make([]*redis.Cmd, len(noScript))
		for j, i := range noScript {
			keys, args := b.publishArgs(reqs[i])
			evals[j] = publishScript.Eval(ctx, pipe, keys, args...)
		}
		_, execErr := pipe.Exec(ctx)
		for j, i := range noScript {
			res, err := evals[j].Slice()
			if evals[j].Err() == nil && evals[j].Val() == nil && execErr != nil {
				err = execErr
			}
			if err != nil {
				b.answer(reqs[i], pubResult{err: classify(err)})
				continue
			}
			b.answer(reqs[i], b.parsePublished(reqs[i].channel, res))
		}
	}
	return again
}

// publishArgs are the publish script's KEYS and ARGV for r.
func (b *Broker) publishArgs(r *pubReq) ([]string, []any) {
	size, _ := b.opts.History(r.channel)
	keys := []string{b.key("m", r.channel), b.key("s", r.channel)}
	if r.key != "" {
		keys = append(keys, b.key("i", r.channel)+":"+r.key)
	}
	seenEpoch, seenOffset := b.seen.get(r.channel)
	cmd := "PUBLISH"
	if b.sharded() {
		cmd = "SPUBLISH"
	}
	return keys, []any{b.key("c", r.channel), r.typ, r.payload, size, b.opts.IdempotencyWindow.Milliseconds(),
		newEpoch(), b.opts.Now().UnixMilli(), seenEpoch, seenOffset, cmd}
}

func (b *Broker) parsePublished(channel string, res []any) pubResult {
	pos, _ := res[0].(string)
	dup, _ := res[1].(int64)
	offset, epoch, err := parsePosition(pos)
	if err != nil {
		return pubResult{err: err}
	}
	if dup == 0 {
		b.seen.note(channel, epoch, offset)
	}
	return pubResult{offset: offset, epoch: epoch, dup: dup == 1}
}

func (b *Broker) answer(r *pubReq, res pubResult) {
	b.noteErr(res.err)
	r.done <- res
}

// refusedBeforeRunning: answers that prove the script did not run and that
// another try may succeed (a cluster's slot moved or is moving).
func refusedBeforeRunning(err error) bool {
	for _, p := range []string{"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"} {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}

// classify tells a publish that certainly did not run (Redis answered
// with an error, or nothing was sent: no connection) from one whose
// outcome is unknown (sent, and then the connection failed or timed out).
func classify(err error) error {
	var rerr redis.Error
	var op *net.OpError
	switch {
	case errors.As(err, &rerr):
		// An error reply: the script refused before writing (NOAUTH,
		// LOADING, READONLY, OOM, a full cluster slot…).
		return fmt.Errorf("redis publish: %w", err)
	case errors.Is(err, redis.ErrClosed), err.Error() == errPoolTimeout,
		errors.As(err, &op) && op.Op == "dial":
		return fmt.Errorf("redis publish: %w", err)
	}
	return &OutcomeUnknownError{err}
}

// errPoolTimeout is go-redis's (unexported) error for no free connection:
// nothing was sent.
const errPoolTimeout = "redis: connection pool timeout"

func parsePosition(s string) (uint64, string, error) {
	off, epoch, ok := strings.Cut(s, "\n")
	if !ok {
		return 0, "", fmt.Errorf("redis: malformed position %q", s)
	}
	n, err := strconv.ParseUint(off, 10, 64)
	return n, epoch, err
}
