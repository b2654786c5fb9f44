package ipc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// wireEvent is the JSON shape of one event. ProjectID is the ADR spelling of
// a project channel and exists only so DisallowUnknownFields accepts it.
type wireEvent struct {
	Channel   string          `json:"channel"`
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	ProjectID string          `json:"projectId"`
	// IdempotencyKey makes a retry within the daemon's window return the
	// first publish's position instead of publishing again.
	IdempotencyKey string `json:"idempotency_key"`
}

// maxIdempotencyKey bounds a key: it is kept in memory for the window.
const maxIdempotencyKey = 256

// event is one decoded, structurally valid event. Its payload lives in the
// batch arena, so a batch of N events grows one buffer instead of making N.
type event struct {
	channel string
	typ     string
	key     string // idempotency key, "" for none
	index   int    // 0-based position in the request
	off     int    // payload is arena[off:end]; off == end means no payload
	end     int
}

// batch is a decoded request: the valid events in order and the reasons the
// others were rejected. Nothing is published unless problems is empty.
type batch struct {
	events   []event
	arena    []byte
	problems []InvalidEvent
}

// payload returns e's payload, capped so a Publisher that appends to it
// cannot overwrite the next event's bytes.
func (b *batch) payload(e *event) []byte {
	if e.off == e.end {
		return nil
	}
	return b.arena[e.off:e.end:e.end]
}

// malformedError is a body that cannot be parsed past position index; the
// decoder stops there because the JSON stream has no resynchronisation point.
type malformedError struct {
	index  int
	detail string
}

func (e *malformedError) Error() string {
	return fmt.Sprintf("malformed JSON at event %d: %s", e.index, e.detail)
}

func (e *malformedError) Unwrap() error { return errMalformed }

// decoder holds the state of one request's decoding; scratch is reused for
// every event so its payload buffer is allocated once per request.
type decoder struct {
	maxLine int
	n       int // events seen so far, valid or not
	scratch wireEvent
	b       batch
}

// decodeBody reads every event of a publish body. ndjson selects the
// one-object-per-line form; otherwise the body is one object or an array.
// limit caps one NDJSON line (the caller caps the whole body). The error is
// errNoEvents, errTooLarge, a *malformedError or a read error.
func decodeBody(r io.Reader, ndjson bool, limit int64) (*batch, error) {
	d := &decoder{maxLine: lineCap(limit)}
	var err error
	if ndjson {
		err = d.decodeNDJSON(r)
	} else {
		err = d.decodeJSON(r)
	}
	if err != nil {
		return nil, err
	}
	if d.n == 0 {
		return nil, errNoEvents
	}
	return &d.b, nil
}

func lineCap(limit int64) int {
	const maxInt = int64(^uint(0) >> 1)
	if limit <= 0 || limit > maxInt {
		return int(maxInt)
	}
	return int(limit)
}

// decodeJSON handles the single-object and array forms. The first byte
// decides which, so an array is streamed element by element and never held
// whole.
func (d *decoder) decodeJSON(r io.Reader) error {
	br := bufio.NewReaderSize(r, 512)
	c, err := firstNonSpace(br)
	if err == io.EOF {
		return nil // empty body: no events
	}
	if err != nil {
		return classify(err, 0)
	}
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields()
	if c == '[' {
		err = d.decodeArray(dec)
	} else {
		err = d.decodeOne(dec)
	}
	if err != nil {
		return err
	}
	return expectEOF(dec, d.n)
}

func (d *decoder) decodeArray(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return classify(err, 0)
	}
	for dec.More() {
		if err := d.decodeOne(dec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return classify(err, d.n)
	}
	return nil
}

// decodeOne decodes the next value as an event. A value of the wrong shape
// (not an object, unknown field, non-string field) has been consumed whole by
// the json.Decoder, so it is recorded as a problem and decoding goes on;
// only a syntax or read error stops the request.
func (d *decoder) decodeOne(dec *json.Decoder) error {
	index := d.n
	d.n++
	d.scratch = wireEvent{Payload: d.scratch.Payload[:0]}
	err := dec.Decode(&d.scratch)
	if err == nil {
		d.accept(index)
		return nil
	}
	if reason, ok := shapeProblem(err); ok {
		d.reject(index, reason)
		return nil
	}
	return classify(err, index)
}

func (d *decoder) accept(index int) {
	channel, reason := resolveChannel(&d.scratch)
	if reason != "" {
		d.reject(index, reason)
		return
	}
	off := len(d.b.arena)
	d.b.arena = append(d.b.arena, d.scratch.Payload...)
	d.b.events = append(d.b.events, event{
		channel: channel, typ: d.scratch.Type, key: d.scratch.IdempotencyKey, index: index, off: off, end: len(d.b.arena),
	})
}

func (d *decoder) reject(index int, reason string) {
	d.b.problems = append(d.b.problems, InvalidEvent{Index: index, Reason: reason})
}

// resolveChannel applies the ADR mapping projectId "abc" -> "project:abc"
// and checks the required fields. reason is empty when the event is valid.
func resolveChannel(w *wireEvent) (channel, reason string) {
	channel = w.Channel
	if w.ProjectID != "" {
		mapped := "project:" + w.ProjectID
		if channel == "" {
			channel = mapped
		} else if channel != mapped {
			return "", fmt.Sprintf("channel %q and projectId %q disagree", channel, w.ProjectID)
		}
	}
	switch {
	case channel == "":
		return "", `missing "channel" (or "projectId")`
	case w.Type == "":
		return "", `missing "type"`
	case len(w.IdempotencyKey) > maxIdempotencyKey:
		return "", fmt.Sprintf(`"idempotency_key" longer than %d bytes`, maxIdempotencyKey)
	}
	return channel, ""
}

// shapeProblem reports whether err is about one event's shape rather than
// the JSON syntax. encoding/json has no type for the unknown-field error, so
// its stable message prefix is matched.
func shapeProblem(err error) (string, bool) {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		if ute.Field == "" {
			return "event must be a JSON object", true
		}
		return fmt.Sprintf("field %q must be a string", ute.Field), true
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + name, true
	}
	return "", false
}

// classify turns a fatal decoding error at event index into the decoder's
// error vocabulary.
func classify(err error, index int) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: %w", errTooLarge, err)
	case errors.Is(err, errTooLarge):
		return err
	case errors.As(err, &se):
		return &malformedError{index: index, detail: se.Error()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// Any EOF here is inside a value or an unclosed array.
		return &malformedError{index: index, detail: "unexpected end of JSON input"}
	}
	return err
}

// expectEOF rejects data after the top-level value, such as two
// concatenated objects, which json.Decoder would otherwise accept silently.
func expectEOF(dec *json.Decoder, index int) error {
	_, err := dec.Token()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return &malformedError{index: index, detail: "unexpected data after top-level value"}
	}
	return classify(err, index)
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !isJSONSpace(c) {
			return c, br.UnreadByte()
		}
	}
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if !isJSONSpace(c) {
			return false
		}
	}
	return true
}

// decodeNDJSON handles one event per line; blank lines are skipped and do
// not count as positions. Lines are read with a cap, and one json.Decoder
// serves them all through a bytes.Reader reset per line: the decoder cannot
// read past the line it is given, and an NDJSON line is complete on its
// own, so it never needs to. A decoder per line would cost about a
// kilobyte of garbage for every line.
func (d *decoder) decodeNDJSON(r io.Reader) error {
	br := bufio.NewReaderSize(r, 4096)
	line := bytes.NewReader(nil)
	dec := json.NewDecoder(line)
	dec.DisallowUnknownFields()
	var buf []byte
	for {
		var err error
		buf, err = readLine(br, buf[:0], d.maxLine)
		if err != nil && err != io.EOF {
			return classify(err, d.n)
		}
		if !isBlank(buf) {
			line.Reset(buf)
			if lerr := d.decodeLine(dec); lerr != nil {
				return lerr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// decodeLine decodes the current line's event and rejects anything after it
// on the same line.
func (d *decoder) decodeLine(dec *json.Decoder) error {
	index := d.n
	if err := d.decodeOne(dec); err != nil {
		return err
	}
	return expectEOF(dec, index)
}

// readLine appends the next line of br, without its newline, to buf. It
// returns io.EOF with the last line when the input does not end in a
// newline, and errTooLarge when a line exceeds max bytes.
func readLine(br *bufio.Reader, buf []byte, max int) ([]byte, error) {
	for {
		frag, err := br.ReadSlice('\n')
		n := len(frag)
		if err == nil {
			n-- // drop the newline
		}
		if n > max-len(buf) {
			return buf, fmt.Errorf("%w: NDJSON line longer than %d bytes", errTooLarge, max)
		}
		buf = append(buf, frag[:n]...)
		if err != bufio.ErrBufferFull {
			return buf, err
		}
	}
}
