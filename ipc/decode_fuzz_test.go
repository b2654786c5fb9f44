package ipc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodePublish feeds the publish decoder untrusted bodies in both
// framings. Whatever it accepts must be publishable as is.
func FuzzDecodePublish(f *testing.F) {
	seeds := []struct {
		body   string
		ndjson bool
	}{
		{`{"channel":"project:abc","type":"build.finished","payload":{"ok":true,"ms":1234}}`, false},
		{`{"projectId":"abc","type":"deploy","payload":"done"}`, false},
		{`[{"channel":"a","type":"1","payload":[1,2]},{"channel":"b","type":"2"}]`, false},
		{`[{"channel":"a","type":"1"},{"channel":"a"},3,{"channel":"a","type":"t","x":1}]`, false},
		{"{\"channel\":\"a\",\"type\":\"1\"}\n\n{\"channel\":\"b\",\"type\":\"2\",\"payload\":null}\r\n", true},
		{"{\"channel\":\"a\",\"type\":\"1\"} x\n", true},
		{`[{"channel":"a","type":"t"}`, false},
		{`{"channel":"a","type":"t"}{}`, false},
		{``, false},
		{`[]`, false},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.ndjson)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		b, err := decodeBody(bytes.NewReader(body), ndjson, 1<<12)
		if err != nil {
			return
		}
		last := -1
		for i := range b.events {
			e := &b.events[i]
			if e.channel == "" || e.typ == "" {
				t.Fatalf("accepted event %d with channel %q type %q", e.index, e.channel, e.typ)
			}
			if p := b.payload(e); p != nil && !json.Valid(p) {
				t.Fatalf("accepted event %d with invalid payload %q", e.index, p)
			}
			if e.index <= last {
				t.Fatalf("event indexes not increasing: %d after %d", e.index, last)
			}
			last = e.index
		}
		if len(b.events)+len(b.problems) == 0 {
			t.Fatal("decoder returned an empty batch without errNoEvents")
		}
	})
}
