// Package natsbroker is a daemon.Broker over NATS with JetStream: several
// fanoutd nodes share channels through a NATS server or cluster.
//
// # Storage and numbering
//
// Every channel is a subject, {prefix}.s.{base64url(channel)}, stored in one
// JetStream stream (Options.Stream) that keeps the last MaxPerChannel
// messages of each subject for Options.MaxAge. A stored message holds one
// event, or a chunk of consecutive events (chunk.go), with the first one's
// offset and the channel's epoch in headers. A publish is a JetStream
// publish with a compare-and-set on the subject's last sequence
// (Nats-Expected-Last-Subject-Sequence): offsets are contiguous per channel,
// and a publish that loses the race stores nothing and is numbered again.
// The first message of a chain (a new channel, one whose messages all
// expired, or any channel of a stream that was lost and recreated) starts a
// new random epoch, so an (epoch, offset) pair never names two events.
// Idempotency keys are JetStream message ids (Nats-Msg-Id), deduplicated
// within the stream's Duplicates window.
//
// # Ordering inside the node (queue.go)
//
// Publishes of one channel join the channel's queue; one runner goroutine
// per busy channel sends whatever waits as one message (a chunk) with one
// compare-and-set and one round trip, then the next. The node never races
// itself for a channel's offsets; only other nodes can make the
// compare-and-set fail, and then the runner reads the position again and
// retries (for a while, with random pauses: contentionBudget). The runner keeps the channel's last
// position between publishes, so a publish costs one round trip.
//
// # What limits throughput
//
// Round-trip latency, not CPU. A channel has at most one message in
// flight: the compare-and-set names the stream sequence of the channel's
// last message, which only the answer tells, so a channel cannot pipeline.
// Channels do not wait for each other (each queue's runner sends on its
// own; nats.go writes what they queued together). One channel's rate is
// its chunk size per round trip; a publisher that waits for its answer
// before the next publish, alone on its channel, gets one event per round
// trip however the broker is built. A round trip is about six goroutine
// hand-offs across two processes' schedulers (flusher, server reader,
// stream loop, server writer, reader, runner); measured in
// BenchmarkPublishers (bench_test.go) it is within ~10% of bare JetStream
// publishes of the same concurrency, and the root package's
// BenchmarkConcurrentPublishers shows the process using well under its two
// cores while NATS publishes run (BENCHMARKS.md). In CPU, a stored event
// costs ~45 µs on top of the ~70 µs of the HTTP publish around it (one
// event per message; chunks share it), about half of it in nats-server
// (in-process in the benchmarks): the compare-and-set and the republish
// each read the subject's last message, the store writes each message to
// its file (write, no fsync: the file store syncs every 2 minutes). The
// stream's other settings cost nothing per publish: the duplicate window
// only for events with an idempotency key, AllowDirect only reads.
//
// Tried and dropped, measured with no gain: a pool of 4 NATS connections
// for publishes (nats.go holds its connection lock while it writes, but
// that wait is not what limits); a reply subscription per channel queue
// filled by nats.go's reader directly, saving Request's hand-off through
// its response mux (more CPU per publish, same rate); asynchronous
// JetStream publishes (every busy channel's runner already has its
// message in flight, and their acks pass through one more goroutine);
// JetStream atomic batches (fsync per batch).
//
// # Live delivery equals history
//
// The stream republishes every stored message, after storing it and in
// stored order, on {prefix}.l.{base64url(channel)} (StreamConfig.RePublish).
// Nodes subscribe to those subjects (core NATS, only for channels with local
// subscribers), so what a node delivers at (epoch, offset) is exactly what
// the stream holds there. A publish that lost its compare-and-set was never
// stored and is never delivered.
//
// # Faults
//
// nats.go reconnects forever (MaxReconnects(-1), RetryOnFailedConnect) and
// does not buffer publishes while disconnected (those fail at once: nothing
// sent). After a reconnect, and whenever a call says the stream or JetStream
// is gone (stream not found, no responders, JetStream not enabled), the
// stream is created or updated again (a new generation: every channel
// queue reads its position again) and the node catches up (Handler.Resync),
// seeing the new epochs. So does JetStream's advisory that the stream was
// deleted (streamDeleted), which reaches a node that meets no error because
// another node recreated the stream first. NotReady says why the broker
// cannot serve, for /readyz. A publish written to the connection whose
// answer does not come within Options.Timeout returns *OutcomeUnknownError
// (OutcomeUnknown() true): it may or may not be stored; a retry with the
// same idempotency key is safe.
//
// Lock order: Broker.qmu, then a chanq's mu; Broker.smu and Broker.mu are
// taken alone. No lock is held across a NATS round trip.
package natsbroker
