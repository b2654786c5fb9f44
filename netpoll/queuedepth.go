package netpoll

// QueuedBytes is how many bytes are queued for the peer and not yet
// written: the control plane's connection list shows it. Safe from any
// goroutine.
func (c *Conn) QueuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int(c.q.bytes)
}
