package daemon

// lazyFrame is one event's frame and, once a subscriber that negotiated
// compression needs it, its compressed form: made at most once per event
// whatever the number of subscribers, and not at all when none of them
// negotiated compression. It lives on the stack of one delivery, under
// the channel's lock.
type lazyFrame struct {
	plain, z []byte
	compress bool // the channel's options want this event compressed
}

// get returns the frame to queue to a subscriber that negotiated
// compression: the compressed one unless compressing did not make it
// smaller (or Options.Compress declined), in which case it is the plain one
// and compression is not tried again for this event.
func (f *lazyFrame) get(n *Node) []byte {
	if f.z == nil {
		f.z = n.opts.Compress(f.plain)
		if len(f.z) == 0 || len(f.z) >= len(f.plain) {
			f.z, f.compress = nil, false
			return f.plain
		}
		n.compressed.Add(1)
	}
	return f.z
}
