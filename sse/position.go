package sse

import "github.com/fanoutd/fanoutd/daemon"

// positions are an SSE stream's channel positions in subscription
// order: what each event's id carries, so that Last-Event-ID resumes every
// channel at once. The id is "channel offset epoch" triples joined by
// spaces; neither channel names nor epochs contain one.
type positions struct {
	list []position
}

type position struct {
	channel string
	pos     daemon.Position
}

// set records channel's position and reports whether the id changed.
func (p *positions) set(channel string, pos daemon.Position) bool {
	for i := range p.list {
		if p.list[i].channel == channel {
			changed := p.list[i].pos != pos
			p.list[i].pos = pos
			return changed
		}
	}
	p.list = append(p.list, position{channel: channel, pos: pos})
	return true
}

// remove forgets channel and reports whether it was there.
func (p *positions) remove(channel string) bool {
	for i := range p.list {
		if p.list[i].channel == channel {
			p.list = append(p.list[:i], p.list[i+1:]...)
			return true
		}
	}
	return false
}

// appendID appends the id to dst.
func (p *positions) appendID(dst []byte) []byte {
	for i, c := range p.list {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = daemon.AppendPosition(dst, c.channel, c.pos)
	}
	return dst
}
