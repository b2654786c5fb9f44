// Package natsbroker is a daemon.Broker over NATS with JetStream: several
// fanoutd nodes share channels through a NATS server or cluster.
//
// Every channel is a subject, {prefix}.s.{base64url(channel)}, stored in
// one JetStream stream (Options.Stream) that keeps the last events of each
// subject (MaxMsgsPerSubject) for Options.MaxAge. A publish is a JetStream
// publish with a compare-and-set on the subject's last sequence
// (Nats-Expected-Last-Subject-Sequence), carrying the channel's next offset
// in a header: the offset is the last message's plus one, so offsets are
// contiguous per channel and two publishers racing on one channel retry
// instead of numbering twice. The first message of a chain (a new channel,
// or one whose messages all expired) starts a new random epoch.
// Idempotency keys are JetStream message ids (Nats-Msg-Id), deduplicated
// within the stream's Duplicates window.
//
// Live events reach the nodes through core NATS subscriptions on the same
// subjects, only for channels with local subscribers (counted). nats.go
// reconnects forever (MaxReconnects(-1), RetryOnFailedConnect) and
// subscribes again; after a reconnect the node catches up from the stream
// (daemon.Node.Resync).
package natsbroker
