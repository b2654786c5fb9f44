package daemon

import (
	"context"

	"go.uber.org/zap"
)

// PresenceBroker is a Broker that also keeps presence across nodes. The
// node records its subscribers in it from one goroutine (Run), in order,
// so that transport workers never wait on it; Presence reads it.
type PresenceBroker interface {
	// SetPresence records (present) or removes c's subscription to channel.
	SetPresence(ctx context.Context, channel string, c Client, present bool) error
	// Presence lists channel's subscribers on every live node.
	Presence(ctx context.Context, channel string) ([]Client, error)
}

// presenceOp is one change for the presence broker.
type presenceOp struct {
	channel string
	c       Client
	present bool
}

// presenceQueue bounds the changes waiting for the broker; when it is full,
// subscribing waits (backpressure) rather than losing a leave.
const presenceQueue = 4096

func (n *Node) presenceBroker() PresenceBroker {
	pb, _ := n.opts.Broker.(PresenceBroker)
	return pb
}

// notePresence queues a change for the presence broker, if there is one.
func (n *Node) notePresence(s *Session, channel string, present bool) {
	if n.presenceOps == nil || s.internal {
		return
	}
	n.presenceOps <- presenceOp{channel: channel, c: s.client(), present: present}
}

// runPresence writes presence changes to the broker until ctx ends.
func (n *Node) runPresence(ctx context.Context) {
	pb := n.presenceBroker()
	for {
		select {
		case <-ctx.Done():
			return
		case op := <-n.presenceOps:
			bctx, cancel := n.brokerCtx()
			if err := pb.SetPresence(bctx, op.channel, op.c, op.present); err != nil {
				n.log.Warn("presence not recorded in the broker", zap.String("channel", op.channel), zap.Error(err))
			}
			cancel()
		}
	}
}

// sharedPresence asks the broker, falling back to this node's view when it
// cannot answer.
func (n *Node) sharedPresence(channel string) ([]Client, bool) {
	pb := n.presenceBroker()
	if pb == nil {
		return nil, false
	}
	ctx, cancel := n.brokerCtx()
	defer cancel()
	list, err := pb.Presence(ctx, channel)
	if err != nil {
		n.log.Warn("presence from the broker failed; answering with this node's", zap.Error(err))
		return nil, false
	}
	return list, true
}
