package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
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
// own outcome. While one pipeline waits for Redis the next fills up, and
// lingers a moment for more (linger), so batches grow with the load and a
// lone publish waits for nobody.
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
	b.pending.Add(1)
	defer b.pending.Add(-1)
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
		batch = b.linger(b.take(batch))
		b.sendBatch(ctx, batch)
	}
}

// take appends the requests queued now to batch, up to maxBatch.
func (b *Broker) take(batch []*pubReq) []*pubReq {
	for len(batch) < maxBatch {
		select {
		case r := <-b.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// lingerRounds bounds the yields of one linger.
const lingerRounds = 4

// linger lets publishes on their way join a small batch. Each call costs
// a round trip whose system calls and wake-ups (tens of µs on loopback)
// outweigh an event's work in Redis, so under load fewer, fuller calls
// leave more processor to the publishers. With 16 publishers on 2 cores
// (BenchmarkPublishThroughput) calls grew from ~3.7 to ~5.9 events, the
// processor time per publish (daemon and Redis) fell ~7%, publishes/s
// rose ~10%.
//
// It waits only while other Publish calls are pending (queued, or
// answered and not yet returned: their callers are the ones who come
// back), by yielding the processor so that their goroutines run, and
// stops at the first yield that brings nothing. A lone publish never
// waits.
func (b *Broker) linger(batch []*pubReq) []*pubReq {
	for range lingerRounds {
		if len(batch) >= maxPerCall || b.pending.Load() <= int64(len(batch)) {
			return batch
		}
		runtime.Gosched()
		n := len(batch)
		if batch = b.take(batch); len(batch) == n {
			return batch
		}
	}
	return batch
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

// sendGroup sends one pipeline to one server: one script call per chunk
// of requests (calls), each call numbering several events at once.
func (b *Broker) sendGroup(ctx context.Context, c redis.Scripter, reqs []*pubReq, last bool) (again []*pubReq) {
	calls := b.calls(reqs)
	cmds := b.runCalls(ctx, c, calls, false)
	var noScript [][]*pubReq
	for i, call := range calls {
		res, err := cmds[i].Text()
		switch {
		case err == nil:
			b.answerCall(call, res)
		case redis.HasErrorPrefix(err, "NOSCRIPT"):
			noScript = append(noScript, call)
		case !last && refusedBeforeRunning(err):
			if b.cluster != nil {
				b.cluster.ReloadState(ctx)
			}
			again = append(again, call...)
		default:
			b.failCall(call, classify(err))
		}
	}
	if len(noScript) > 0 {
		// Redis lost its script cache (a restart): EVAL loads it again.
		// NOSCRIPT proves nothing ran, so sending these again is safe.
		cmds := b.runCalls(ctx, c, noScript, true)
		for i, call := range noScript {
			res, err := cmds[i].Text()
			if err != nil {
				b.failCall(call, classify(err))
				continue
			}
			b.answerCall(call, res)
		}
	}
	return again
}

// maxPerCall bounds the events one script call numbers: Redis runs
// nothing else meanwhile.
const maxPerCall = 64

// calls splits reqs into script calls: in a cluster, one per channel (a
// script's keys must share a slot); otherwise chunks of maxPerCall.
func (b *Broker) calls(reqs []*pubReq) [][]*pubReq {
	if b.cluster == nil {
		var out [][]*pubReq
		for len(reqs) > 0 {
			n := min(len(reqs), maxPerCall)
			out = append(out, byChannel(reqs[:n]))
			reqs = reqs[n:]
		}
		return out
	}
	byChan := map[string]int{}
	var out [][]*pubReq
	for _, r := range reqs {
		i, ok := byChan[r.channel]
		if !ok || len(out[i]) == maxPerCall {
			i = len(out)
			byChan[r.channel] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// runCalls sends the calls in one pipeline (EVAL with the script's text
// when eval, EVALSHA otherwise) and returns their commands, each failed
// with the pipeline's error when go-redis did not get to it.
func (b *Broker) runCalls(ctx context.Context, c redis.Scripter, calls [][]*pubReq, eval bool) []*redis.Cmd {
	pipe := c.(interface{ Pipeline() redis.Pipeliner }).Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, call := range calls {
		keys, args := b.publishArgs(call)
		if eval {
			cmds[i] = publishScript.Eval(ctx, pipe, keys, args...)
		} else {
			cmds[i] = pipe.EvalSha(ctx, publishScript.Hash(), keys, args...)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		for _, cmd := range cmds {
			if cmd.Err() == nil && cmd.Val() == nil {
				// No connection: go-redis fails the pipeline, not its commands.
				cmd.SetErr(err)
			}
		}
	}
	return cmds
}

// publishArgs are the publish script's KEYS and ARGV for one call, whose
// events of one channel are next to each other (byChannel). The call has
// one epoch for a new numbering: a channel starts at most one per call,
// and an epoch only names numberings of its own channel.
func (b *Broker) publishArgs(call []*pubReq) ([]string, []any) {
	cmd := "PUBLISH"
	if b.sharded() {
		cmd = "SPUBLISH"
	}
	keys := make([]string, 0, 2*len(call))
	args := make([]any, 5, 5+5+3*len(call))
	args[1], args[2], args[3], args[4] = cmd, newEpoch(), b.opts.Now().UnixMilli(), b.opts.IdempotencyWindow.Milliseconds()
	channels := 0
	for i := 0; i < len(call); {
		ch := call[i].channel
		j := i + 1
		for j < len(call) && call[j].channel == ch {
			j++
		}
		size, _ := b.opts.History(ch)
		seenEpoch, seenOffset := b.seen.get(ch)
		keys = append(keys, b.key("m", ch), b.key("s", ch))
		args = append(args, j-i, b.key("c", ch), size, seenEpoch, seenOffset)
		for _, r := range call[i:j] {
			keyed := 0
			if r.key != "" {
				keys = append(keys, b.key("i", ch)+":"+r.key)
				keyed = 1
			}
			args = append(args, keyed, r.typ, r.payload)
		}
		channels++
		i = j
	}
	args[0] = channels
	return keys, args
}

// byChannel reorders reqs so that each channel's requests are next to
// each other, in their order: the publish script works per channel.
// Quadratic, on at most maxPerCall requests, without allocating a map.
func byChannel(reqs []*pubReq) []*pubReq {
	out := make([]*pubReq, 0, len(reqs))
	placed := make([]bool, len(reqs))
	for i, r := range reqs {
		if placed[i] {
			continue
		}
		for j := i; j < len(reqs); j++ {
			if !placed[j] && reqs[j].channel == r.channel {
				out = append(out, reqs[j])
				placed[j] = true
			}
		}
	}
	return out
}

// answerCall answers each request of a call from the script's answer
// (publishScript): per channel its epoch and "\n", then per event a flag
// and a text.
func (b *Broker) answerCall(call []*pubReq, res string) {
	rest, epoch := res, ""
	for i, r := range call {
		ok := true
		if i == 0 || call[i-1].channel != r.channel {
			epoch, rest, ok = strings.Cut(rest, "\n")
		}
		var flag byte
		var text string
		if ok {
			flag, text, rest, ok = nextAnswer(rest)
		}
		switch {
		case !ok || flag == '0' && epoch == "":
			rest = "" // what follows is no other event's answer
			b.answer(r, pubResult{err: fmt.Errorf("redis publish: malformed answer %q", res)})
		case flag == '2':
			// This event's commands failed inside the script: it was
			// not broadcast (PUBLISH is its last command), and an offset
			// it may have taken stays empty: subscribers see it missed.
			b.answer(r, pubResult{err: fmt.Errorf("redis publish: %s", text)})
		case flag == '1':
			offset, dupEpoch, _ := strings.Cut(text, "\n") // a position: "offset\nepoch"
			b.answer(r, b.published(r.channel, offset, dupEpoch, true))
		default:
			b.answer(r, b.published(r.channel, text, epoch, false))
		}
	}
}

// nextAnswer reads one event's answer off the front of s: "0", an offset
// and "\n"; or "1" or "2", the length of a text, ":" and the text.
func nextAnswer(s string) (flag byte, text, rest string, ok bool) {
	if len(s) < 3 {
		return 0, "", "", false
	}
	switch s[0] {
	case '0':
		if text, rest, ok = strings.Cut(s[1:], "\n"); ok {
			return '0', text, rest, true
		}
	case '1', '2':
		head, tail, ok := strings.Cut(s[1:], ":")
		n, err := strconv.Atoi(head)
		if !ok || err != nil || n < 0 || n > len(tail) {
			return 0, "", "", false
		}
		return s[0], tail[:n], tail[n:], true
	}
	return 0, "", "", false
}

func (b *Broker) failCall(call []*pubReq, err error) {
	for _, r := range call {
		b.answer(r, pubResult{err: err})
	}
}

// published is the result of an event published at offset (decimal) in
// epoch, by this call or, for a duplicate, an earlier one. What this call
// published is noted as seen.
func (b *Broker) published(channel, offset, epoch string, dup bool) pubResult {
	n, err := strconv.ParseUint(offset, 10, 64)
	if err != nil || epoch == "" {
		return pubResult{err: fmt.Errorf("redis publish: malformed position %q %q", offset, epoch)}
	}
	if !dup {
		b.seen.note(channel, epoch, n)
	}
	return pubResult{offset: n, epoch: epoch, dup: dup}
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
