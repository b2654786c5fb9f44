package loadgen

import "time"

// finish fills the report from the workers' final lines and the
// publisher's counters.
func (r *run) finish(workerCPU time.Duration) {
	rep := r.rep
	var hist Histogram
	g := &rep.Generator
	for i := range r.fleet.state {
		s := &r.fleet.state[i]
		if s.ready != nil {
			g.WorkerRSSBytes += s.ready.RSSBytes
		}
		f := s.final
		if f == nil {
			continue
		}
		rep.Received += f.Received
		rep.Disconnects += f.Disconnects
		rep.DisconnectReasons = mergeCounts(rep.DisconnectReasons, f.DisconnectReasons)
		rep.OutOfOrder += f.OutOfOrder
		g.Pongs += f.Pongs
		g.UnrecognisedFrames += f.OtherFrames
		g.WorkerPeakRSSBytes += f.RSSBytes
		if s.ready != nil {
			g.WindowCPUSeconds += f.CPUSeconds - s.ready.CPUSeconds
		}
		if f.Latency != nil {
			hist.Merge(*f.Latency)
		}
	}
	if rep.Connected > 0 {
		g.WorkerRSSPerConn = g.WorkerRSSBytes / rep.Connected
	}
	selfCPU, _ := Proc{}.CPUSeconds()
	rep.GeneratorCPUSeconds = selfCPU - r.selfCPU0 + workerCPU.Seconds()
	g.CPUSeconds = rep.GeneratorCPUSeconds
	rep.Latency = latencyOf(&hist)
	if p := r.pub; p != nil {
		rep.Published, rep.Accepted, rep.Expected = p.published.Load(), p.accepted.Load(), p.expected.Load()
		rep.PublishErrors = p.errs.snapshot()
		g.PublishRequestFails = p.failed.Load()
	}
	rep.Lost = rep.Expected - rep.Received
	if rep.PublishSeconds > 0 {
		rep.PublishRate = float64(rep.Published) / rep.PublishSeconds
		rep.DeliveryRate = float64(rep.Received) / rep.PublishSeconds
	}
	if d := &rep.Daemon; rep.Received > 0 {
		d.CPUSecondsPer1kDeliveries = d.CPUSeconds / float64(rep.Received) * 1e3
		d.CPUSecondsPer1mDeliveries = d.CPUSeconds / float64(rep.Received) * 1e6
	}
}
