package ipc

import (
	"io"
	"sync"
)

// maxPooledBody bounds the buffers a publishState keeps between requests,
// so one large batch does not pin a megabyte per pooled state.
const maxPooledBody = 64 << 10

// publishState is everything one POST /v1/publish needs besides the events'
// own strings: the body, the decoded batch, the positions and the answer.
// States are pooled per handler (api.states), so a single-event publish
// reuses all of them and allocates only what the Publisher keeps (the
// channel, type and key strings). A state belongs to one request at a time.
type publishState struct {
	body      []byte
	d         decoder
	positions []Position
	out       []byte
	// eventFn and doneFn are st.event and st.done bound once: a method value
	// handed to an interface method escapes, and binding it per request
	// would cost two allocations.
	eventFn func(i int) (string, string, []byte, string)
	doneFn  func(i int, offset uint64, epoch string, duplicate bool)
}

func newStatePool() *sync.Pool {
	return &sync.Pool{New: func() any {
		st := &publishState{}
		st.eventFn = st.event
		st.doneFn = st.done
		return st
	}}
}

// reset prepares the state for a request whose NDJSON lines are capped at
// maxLine bytes.
func (st *publishState) reset(maxLine int) {
	b := &st.d.b
	st.d = decoder{maxLine: maxLine, scratch: wireEvent{Payload: st.d.scratch.Payload[:0]},
		b: batch{events: b.events[:0], problems: b.problems[:0]}}
}

// trim drops buffers that grew past what is worth keeping in the pool.
func (st *publishState) trim() {
	if cap(st.body) > maxPooledBody {
		st.body = nil
	}
	if cap(st.out) > maxPooledBody {
		st.out = nil
	}
	if cap(st.d.b.events) > 1024 {
		st.d.b.events = nil
		st.positions = nil
	}
	st.d.b.arena = nil  // aliases body or a decodeBody batch: never kept
	clear(st.positions) // drop the strings the Publisher handed back
	st.d.b.problems = st.d.b.problems[:0]
}

func (st *publishState) batch() *batch { return &st.d.b }

func (st *publishState) event(i int) (string, string, []byte, string) {
	b := &st.d.b
	e := &b.events[i]
	return e.channel, e.typ, b.payload(e), e.key
}

func (st *publishState) done(i int, offset uint64, epoch string, duplicate bool) {
	st.positions[i] = Position{Channel: st.d.b.events[i].channel, Offset: offset, Epoch: epoch, Duplicate: duplicate}
}

// readBody reads r whole into st.body, failing with errTooLarge as soon as
// it holds more than limit bytes. hint is the request's Content-Length (-1
// when unknown) and sizes the buffer in one step.
func (st *publishState) readBody(r io.Reader, limit, hint int64) ([]byte, error) {
	buf := st.body[:0]
	if hint >= 0 && hint < limit && int64(cap(buf)) <= hint {
		buf = make([]byte, 0, hint+1) // +1: room to see EOF without growing
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		st.body = buf
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
