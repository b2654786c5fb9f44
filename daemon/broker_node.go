package daemon

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// publishBroker is PublishBatch with a broker: each event is numbered and
// stored by the broker, which delivers it back to every subscribed node.
func (n *Node) publishBroker(ctx context.Context, count int, event func(i int) (string, string, []byte, string),
	done func(i int, offset uint64, epoch string, duplicate bool), own bool) (int, error) {
	for i := range count {
		channel, eventType, payload, key := event(i)
		if err := n.checkEvent(channel, eventType, payload, own); err != nil {
			return i, err
		}
		offset, epoch, dup, err := n.opts.Broker.Publish(ctx, channel, eventType, payload, key)
		if err != nil {
			return i, &UnavailableError{err}
		}
		if dup {
			n.duplicates.Add(1)
		} else {
			n.published.Add(1)
		}
		if done != nil {
			done(i, offset, epoch, dup)
		}
	}
	return count, nil
}

// Deliver hands the node an event the broker received for channel. The
// broker calls it in the channel's publish order, from its receiving
// goroutine. Events of channels without local subscribers are ignored;
// ones already delivered (by a gap fill or a replay) are skipped; a gap in
// the offsets is filled from the broker's history or, when that fails,
// announced to the subscribers with a "missed" frame naming the channel.
// While the node is frozen (Freeze) the event is kept aside for Unfreeze.
func (n *Node) Deliver(channel string, ev BrokerEvent) {
	for !n.gate.tryEnter() {
		if n.gate.hold(channel, ev) {
			return
		}
	}
	defer n.gate.leave()
	n.deliver1(channel, ev)
}

// deliver1 is Deliver past the hand-off gate.
func (n *Node) deliver1(channel string, ev BrokerEvent) {
	ch := n.hub.lookup(channel)
	if ch == nil {
		return
	}
	fl := n.flushLists.Get().(*flushList)
	ch.mu.Lock()
	n.deliverLocked(ch, ev, fl)
	ch.mu.Unlock()
	fl.flush()
	n.flushLists.Put(fl)
}

func (n *Node) deliverLocked(ch *channel, ev BrokerEvent, fl *flushList) {
	if ch.epoch == "" && ch.last == 0 {
		// Linked before the channel's first publish: that one names the
		// numbering (a gap from offset 0 in it is still filled below).
		ch.epoch = ev.Epoch
	}
	switch {
	case ch.dead:
		return
	case ch.syncing:
		ch.sync.pending = append(ch.sync.pending, ev)
		return
	case ev.Epoch == ch.epoch:
	case ch.isRetired(ev.Epoch):
		// Numbered before a loss this node has already moved past (its
		// subscribers were told then): going back would deliver the new
		// numbering's first events again at the next of them.
		return
	default:
		// The broker lost the channel's history: positions start over,
		// and what the new numbering has before ev is filled below.
		n.breakSequence(ch, ev.Epoch, 0)
	}
	switch {
	case ev.Offset <= ch.last:
		return
	case ev.Offset > ch.last+1:
		n.fillGap(ch, ev.Offset-1, fl)
	}
	ch.last = ev.Offset
	if ch.sync != nil {
		ch.sync.replay = nil
	}
	msg := n.encodeEvent(ch.name, ev.Type, ev.Payload, ev.Offset, ev.Epoch)
	// The publish happened on some node; latency here counts from receipt.
	now := n.opts.Now().UnixNano()
	n.keep(ch, msg, now)
	n.deliver(ch, msg, now, fl)
}

// fillGap delivers the events after ch.last up to through from the broker's
// history; when they are not all there, the sequence is broken instead.
// Called with ch.mu held: the broker's round trip holds up this channel's
// deliveries on this node, which must wait for the gap anyway.
func (n *Node) fillGap(ch *channel, through uint64, fl *flushList) {
	ctx, cancel := n.brokerCtx()
	defer cancel()
	events, ok, err := n.opts.Broker.History(ctx, ch.name, ch.last, ch.epoch)
	if err != nil || !ok {
		n.breakSequence(ch, ch.epoch, through)
		return
	}
	for _, e := range events {
		if e.Offset > through {
			break
		}
		if e.Offset == ch.last+1 {
			ch.last = e.Offset
			msg := n.encodeEvent(ch.name, e.Type, e.Payload, e.Offset, e.Epoch)
			now := n.opts.Now().UnixNano()
			n.keep(ch, msg, now)
			n.deliver(ch, msg, now, fl)
		}
	}
	if ch.last < through {
		n.breakSequence(ch, ch.epoch, through)
	}
}

// breakSequence tells every subscriber that events of ch were lost (the
// client's recovered:false moment: refetch, then go on from the next
// event) and restarts the channel's local history at last in epoch.
func (n *Node) breakSequence(ch *channel, epoch string, last uint64) {
	n.gaps.Add(1)
	if len(ch.subs) > 0 {
		msg := frameReply(n, reply{Type: "missed", Channel: ch.name,
			Message: "events of this channel were lost between nodes: refetch its state"})
		for _, sub := range ch.subs {
			sub.s.t.Send(msg)
		}
	}
	n.dropHistory(ch)
	if epoch != ch.epoch && ch.epoch != "" {
		ch.retire(ch.epoch)
	}
	ch.epoch, ch.last = epoch, last
}

// link subscribes the node to ch at the broker, for the first local
// subscriber, and sets the channel's position. Events the broker delivers
// meanwhile wait in ch.sync.pending. Called with ch.mu held and ch.syncing set
// by the caller; it releases and retakes the lock around the broker call.
func (n *Node) link(ch *channel) error {
	done := ch.sync.synced
	ch.mu.Unlock()
	ctx, cancel := n.brokerCtx()
	offset, epoch, err := n.opts.Broker.Subscribe(ctx, ch.name)
	cancel()
	ch.mu.Lock()
	ch.syncing = false
	ch.sync.synced = nil
	close(done)
	if err != nil {
		ch.sync.pending = nil
		return &UnavailableError{err}
	}
	ch.linked, ch.last, ch.epoch = true, offset, epoch
	return nil
}

// drainPending delivers what the broker sent while ch was linking. Called
// with ch.mu held, after the first subscriber's reply.
func (n *Node) drainPending(ch *channel) {
	if ch.sync == nil || len(ch.sync.pending) == 0 {
		return
	}
	fl := n.flushLists.Get().(*flushList)
	pending := ch.sync.pending
	ch.sync.pending = nil
	for _, ev := range pending {
		n.deliverLocked(ch, ev, fl)
	}
	fl.flush()
	n.flushLists.Put(fl)
}

// unlink tells the broker that a dropped channel has no local subscribers.
func (n *Node) unlink(ch *channel) {
	if n.opts.Broker == nil || !ch.linked {
		return
	}
	ctx, cancel := n.brokerCtx()
	defer cancel()
	if err := n.opts.Broker.Unsubscribe(ctx, ch.name); err != nil {
		n.log.Warn("broker unsubscribe failed", zap.String("channel", ch.name), zap.Error(err))
	}
}

// Resync is for a broker whose link came back: every channel with local
// subscribers catches up from the broker's history, or tells its
// subscribers what was lost. Called from the broker's goroutine. On a
// frozen node it is done by Unfreeze.
func (n *Node) Resync() {
	for !n.gate.tryEnter() {
		if n.gate.holdResync() {
			return
		}
	}
	defer n.gate.leave()
	n.resync()
}

// resync is Resync past the hand-off gate.
func (n *Node) resync() {
	var chans []*channel
	n.hub.each(func(ch *channel) { chans = append(chans, ch) })
	for _, ch := range chans {
		n.catchUpLinked(ch)
	}
}

// catchUpChannel is catchUpLinked for the channel called name, if any.
func (n *Node) catchUpChannel(name string) {
	if ch := n.hub.lookup(name); ch != nil {
		n.catchUpLinked(ch)
	}
}

// catchUpLinked catches ch up from the broker when it is linked.
func (n *Node) catchUpLinked(ch *channel) {
	fl := n.flushLists.Get().(*flushList)
	ch.mu.Lock()
	if ch.linked && !ch.dead && !ch.syncing {
		n.catchUp(ch, fl)
	}
	ch.mu.Unlock()
	fl.flush()
	n.flushLists.Put(fl)
}

// catchUp delivers whatever the broker has after ch.last. Called with
// ch.mu held.
func (n *Node) catchUp(ch *channel, fl *flushList) {
	ctx, cancel := n.brokerCtx()
	defer cancel()
	events, ok, err := n.opts.Broker.History(ctx, ch.name, ch.last, ch.epoch)
	switch {
	case err != nil:
		return // still down: the next Resync or event tries again
	case !ok:
		offset, epoch, err := n.opts.Broker.Position(ctx, ch.name)
		switch {
		case err != nil:
			return
		case epoch == ch.epoch:
			n.breakSequence(ch, epoch, offset) // trimmed: go on from now
			return
		}
		// A new numbering (the broker lost its data): deliver all of it.
		n.breakSequence(ch, epoch, 0)
		if events, ok, err = n.opts.Broker.History(ctx, ch.name, 0, epoch); err != nil || !ok {
			return
		}
	}
	for _, e := range events {
		n.deliverLocked(ch, e, fl)
	}
}

// subscribeShared is subscribe with a broker: the first local subscriber
// links the channel (Broker.Subscribe) before it is answered; others wait
// for that. Broker calls run without the channel lock.
func (s *Session) subscribeShared(cmd command, name string) error {
	n := s.node
	ch, err := n.lockLinked(name)
	if err != nil {
		return err
	}
	sub := ch.addLocked(s)
	n.subs.Add(1)
	s.joined(cmd, ch)
	s.announce(ch, "join")
	n.drainPending(ch)
	ch.mu.Unlock()
	s.subs.add(sub)
	n.logConn(s, connEvent{typ: connSubscribe, channel: name})
	n.notePresence(s, name, true)
	return nil
}

// lockLinked returns the channel called name, linked at the broker (by
// this call if it is the first), with its lock held.
func (n *Node) lockLinked(name string) (*channel, error) {
	for {
		ch := n.hub.lock(name)
		if ch.syncing {
			wait := ch.sync.synced
			ch.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-time.After(n.opts.BrokerTimeout):
				return nil, &UnavailableError{context.DeadlineExceeded}
			}
		}
		if !ch.linked {
			ch.syncing, ch.syncState().synced = true, make(chan struct{})
			if err := n.link(ch); err != nil {
				unused := ch.unused()
				ch.mu.Unlock()
				if unused {
					n.hub.dropIfUnused(ch)
				}
				return nil, err
			}
		}
		return ch, nil
	}
}

// brokerReplay fetches the events after since that ch has delivered
// (through ch.last) from the broker's history, encoded; ok is false unless
// every one of them is there. Called with ch.mu held.
func (n *Node) brokerReplay(ch *channel, since *position) (frames [][]byte, ok bool) {
	if since.Offset > ch.last {
		return nil, false
	}
	ctx, cancel := n.brokerCtx()
	defer cancel()
	events, ok, err := n.opts.Broker.History(ctx, ch.name, since.Offset, since.Epoch)
	if err != nil || !ok || since.Epoch != ch.epoch {
		return nil, false
	}
	want := since.Offset + 1
	for _, e := range events {
		if e.Offset > ch.last {
			break
		}
		if e.Offset != want {
			return nil, false
		}
		frames = append(frames, n.encodeEvent(ch.name, e.Type, e.Payload, e.Offset, e.Epoch))
		want++
	}
	return frames, want == ch.last+1
}
