package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// leanCases are bodies the lean decoder must take itself (taken) or leave
// to decodeBody; either way the result must be decodeBody's.
var leanCases = []struct {
	name   string
	ndjson bool
	body   string
	taken  bool
}{
	{"single", false, `{"channel":"c","type":"t","payload":{"a":[1,2.5e-3,true,null,"x\"y\u00e9"]}}`, true},
	{"idempotency key", false, `{"channel":"c","type":"t","idempotency_key":"k1"}`, true},
	{"projectId", false, `{"projectId":"abc","type":"t"}`, true},
	{"null payload", false, `{"channel":"c","type":"t","payload":null}`, true},
	{"array", false, ` [ {"channel":"a","type":"1"} , {"channel":"b","type":"2","payload":-0.5} ] `, true},
	{"missing type is a problem", false, `[{"channel":"a"},{"channel":"b","type":"2"}]`, true},
	{"ndjson", true, "{\"channel\":\"a\",\"type\":\"1\"}\r\n\n{\"channel\":\"b\",\"type\":\"2\"}", true},
	{"utf-8 channel", false, `{"channel":"café","type":"t"}`, true},
	{"escaped channel", false, `{"channel":"c\u0061","type":"t"}`, false},
	{"capitalised member", false, `{"Channel":"c","type":"t"}`, false},
	{"unknown member", false, `{"channel":"c","type":"t","x":1}`, false},
	{"number channel", false, `{"channel":1,"type":"t"}`, false},
	{"null channel", false, `{"channel":null,"type":"t"}`, false},
	{"leading zero", false, `{"channel":"c","type":"t","payload":01}`, false},
	{"bad escape", false, `{"channel":"c","type":"t","payload":"\x"}`, false},
	{"trailing data", false, `{"channel":"c","type":"t"} 1`, false},
	{"empty array", false, `[]`, false},
	{"truncated", false, `{"channel":"c","type":`, false},
	{"not an object", false, `[1]`, false},
	{"ndjson line too long", true, `{"channel":"c","type":"t","payload":"` + strings.Repeat("x", 200) + `"}`, false},
}

// decodeBoth runs the lean decoder and decodeBody on body and reports
// whether the lean one took it and whether both agree.
func decodeBoth(t *testing.T, body []byte, ndjson bool) bool {
	t.Helper()
	var d decoder
	d.maxLine = 128
	taken := d.decodeLean(bytes.Clone(body), ndjson)
	want, err := decodeBody(bytes.NewReader(body), ndjson, 128)
	if !taken {
		return false
	}
	if err != nil {
		t.Fatalf("lean decoder took %q, decodeBody failed: %v", body, err)
	}
	if got := summarize(&d.b); !reflect.DeepEqual(got, summarize(want)) {
		t.Fatalf("lean decoder on %q:\n got %+v\nwant %+v", body, got, summarize(want))
	}
	return true
}

type decoded struct {
	Channel, Type, Key, Payload string
	Index                       int
	Nil                         bool
}

func summarize(b *batch) any {
	out := []decoded{}
	for i := range b.events {
		e := &b.events[i]
		p := b.payload(e)
		out = append(out, decoded{e.channel, e.typ, e.key, string(p), e.index, p == nil})
	}
	return []any{out, append([]InvalidEvent{}, b.problems...)}
}

func TestLeanDecoderMatchesDecodeBody(t *testing.T) {
	for _, tc := range leanCases {
		t.Run(tc.name, func(t *testing.T) {
			if taken := decodeBoth(t, []byte(tc.body), tc.ndjson); taken != tc.taken {
				t.Errorf("lean decoder took it: %v, want %v", taken, tc.taken)
			}
		})
	}
}

// FuzzLeanMatchesDecodeBody: whatever the lean decoder accepts, decodeBody
// decodes to the same events and problems.
func FuzzLeanMatchesDecodeBody(f *testing.F) {
	for _, tc := range leanCases {
		f.Add([]byte(tc.body), tc.ndjson)
	}
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body), tc.ndjson)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		decodeBoth(t, body, ndjson)
	})
}

func TestAppendPublishedMatchesMarshal(t *testing.T) {
	cases := [][]Position{
		nil,
		{{Channel: "c", Offset: 1, Epoch: "e1"}},
		{{Channel: "a<b>&\"\\\n\u2028é\xff", Offset: 1 << 63, Epoch: "ep", Duplicate: true}, {Channel: "b", Epoch: ""}},
	}
	for _, ps := range cases {
		want, err := json.Marshal(publishedBody{Published: len(ps), Positions: ps})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPublished(nil, len(ps), ps); !bytes.Equal(got, want) {
			t.Errorf("appendPublished = %s, want %s", got, want)
		}
	}
}

func BenchmarkDecodeLean(b *testing.B) {
	for _, tc := range decodeCases {
		if tc.err != nil || tc.problems > 0 {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			body := []byte(tc.body)
			st := newStatePool().Get().(*publishState)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				st.reset(1 << 20)
				if !st.d.decodeLean(body, tc.ndjson) {
					b.Fatal("not taken")
				}
				st.trim()
			}
		})
	}
}

// nullWriter is a ResponseWriter that keeps nothing, so the benchmark
// counts only the handler's own allocations.
type nullWriter struct{ h http.Header }

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nullWriter) WriteHeader(int)             {}

// nopPublisher accepts everything at offset 1 of epoch "e".
type nopPublisher struct{}

func (nopPublisher) CheckEvent(string, string, []byte) error { return nil }
func (nopPublisher) Stats() any                              { return nil }
func (nopPublisher) PublishBatch(_ context.Context, n int, event func(int) (string, string, []byte, string),
	done func(int, uint64, string, bool)) (int, error) {
	for i := range n {
		event(i)
		done(i, 1, "e", false)
	}
	return n, nil
}

// BenchmarkPublishHandler runs the handler's publish route without a
// network: what is left is the decoder, validation and the answer. The
// allocations per op are the request's own (the event's strings).
func BenchmarkPublishHandler(b *testing.B) {
	a := newAPI(Options{Publisher: nopPublisher{}}, "unix")
	body := []byte(`{"channel":"project:abc","type":"build.finished","payload":{"ok":true,"ms":1234}}`)
	rd := bytes.NewReader(body)
	req, err := http.NewRequest(http.MethodPost, "/v1/publish", rd)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	w := &nullWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		a.publish(w, req)
	}
}
