package netpoll

// runq is the queue of connections with pending work. A connection is on it
// at most once (Conn.queued), and so is the probe's mark (prober.queued), so
// a capacity of the connection limit plus the shutdown sentinels plus a
// margin that holds the mark can never fill and push never blocks the epoll
// goroutine.
type runq chan *Conn

func newRunq(maxConns, workers int) runq {
	return make(runq, maxConns+workers+16)
}
