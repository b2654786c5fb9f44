package netpoll

// FrameQueue is a connection's write queue without the socket: whole frames,
// bounded in bytes, with QueueEvent's slow-consumer policies. It is for a
// transport that writes from a goroutine of its own (the daemon's SSE
// route), so that its clients get the same policies as WebSocket clients.
// Take hands every queued frame over at once: nothing stays fixed by a
// running write, unlike in the epoll writer's queue. The zero value is
// empty; it is not safe for concurrent use (the caller holds its lock).
type FrameQueue struct {
	q writeQueue
}

// Add queues frame within bound bytes. key and policy are QueueEvent's (key
// 0: a frame that is never dropped or replaced). dropped counts the frames
// the policy removed to take this one, as QueueEvent's does. ok is false
// when the frame did not fit: the caller closes the client as slow. A bound
// over 256 MiB counts as 256 MiB, as Options.WriteQueueBytes does.
func (f *FrameQueue) Add(frame []byte, key uint64, policy, bound int) (ok bool, dropped int) {
	if len(frame) == 0 {
		return true, 0
	}
	ok, d, r := f.q.add(newEntry(frame, key, policy), min(bound, maxQueueBound))
	return ok, d + r
}

// AddMissed is Conn.QueueMissed for this queue: the notice for count
// dropped events, merged into one that still waits.
func (f *FrameQueue) AddMissed(count int, build func(total int) []byte, bound int) bool {
	return f.q.addMissed(count, build, min(bound, maxQueueBound))
}

// Take appends every queued frame, oldest first, to dst and empties the
// queue.
func (f *FrameQueue) Take(dst [][]byte) [][]byte {
	for _, e := range f.q.out {
		dst = append(dst, e.b)
	}
	f.q.reset()
	return dst
}

// Len is the number of queued frames.
func (f *FrameQueue) Len() int { return len(f.q.out) }

// Payload returns the payload of a whole unmasked frame as AppendFrame
// builds it (TextFrame, BinaryFrame), or nil when frame is not one. A
// transport that is not a WebSocket but is handed the core's framed
// messages (the SSE route) unwraps them with it.
func Payload(frame []byte) []byte {
	h, n, ok, err := parseHeader(frame)
	if !ok || err != nil || h.Masked || int64(len(frame)-n) != h.Length {
		return nil
	}
	return frame[n:]
}
