package natsbroker

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
)

// replyBuffer is the capacity of a channel queue's reply channel: one
// answer is awaited at a time, the rest are late answers to attempts that
// timed out (dropped when read).
const replyBuffer = 8

// roundTrip publishes m and waits for the one answer to it, on the
// queue's own reply subscription. nats.go's Request hands each answer from
// its reader goroutine to a shared response-mux goroutine and from there
// to the caller: one goroutine hand-off more per JetStream publish, which
// on a busy machine costs more than the work itself. A channel
// subscription (ChanSubscribe) is filled by the reader goroutine directly.
// Only the queue's runner calls it (one at a time), so the subscription
// and the counter need no lock.
//
// Every attempt has its own reply subject ({inbox}.{n}): an answer that
// comes after its attempt timed out is recognised and dropped.
func (q *chanq) roundTrip(ctx context.Context, nc *nats.Conn, m *nats.Msg) (*nats.Msg, error) {
	if q.replySub == nil || !q.replySub.IsValid() {
		ch := make(chan *nats.Msg, replyBuffer)
		inbox := nc.NewRespInbox()
		sub, err := nc.ChanSubscribe(inbox+".*", ch)
		if err != nil {
			return nil, err
		}
		q.replySub, q.replies, q.inbox = sub, ch, inbox
	}
	q.reqN++
	m.Reply = q.inbox + "." + strconv.FormatUint(q.reqN, 10)
	if err := nc.PublishMsg(m); err != nil {
		return nil, err // not written: nothing sent
	}
	for {
		select {
		case r := <-q.replies:
			if r.Subject != m.Reply {
				continue // late answer to an earlier attempt
			}
			if len(r.Data) == 0 && r.Header.Get("Status") == "503" {
				return nil, nats.ErrNoResponders
			}
			return r, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// closeReplies drops the queue's reply subscription (the queue is being
// forgotten).
func (q *chanq) closeReplies() {
	if q.replySub != nil {
		_ = q.replySub.Unsubscribe()
		q.replySub = nil
	}
}
