package ipc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// decodeCases feed both TestDecodeBody and BenchmarkDecodeBody.
var decodeCases = []struct {
	name     string
	ndjson   bool
	body     string
	events   int
	problems int
	err      error
}{
	{name: "single", body: `{"channel":"c","type":"t","payload":{"a":[1,2,3]}}`, events: 1},
	{name: "single null payload", body: `{"channel":"c","type":"t","payload":null}`, events: 1},
	{name: "leading whitespace array", body: " \n\t[{\"channel\":\"c\",\"type\":\"t\"}]", events: 1},
	{name: "array of 100", body: "[" + strings.TrimSuffix(strings.Repeat(`{"channel":"c","type":"t","payload":{"n":1}},`, 100), ",") + "]", events: 100},
	{name: "ndjson of 100", ndjson: true, body: strings.Repeat(`{"channel":"c","type":"t","payload":{"n":1}}`+"\n", 100), events: 100},
	{name: "ndjson no final newline", ndjson: true, body: `{"channel":"c","type":"t"}`, events: 1},
	{name: "mixed problems", body: `[{"channel":"c","type":"t"},{"type":"t"},"x",{"channel":"c","type":"t","y":0}]`, events: 1, problems: 3},
	{name: "top-level null", body: `null`, problems: 1},
	{name: "empty", body: "  ", err: errNoEvents},
	{name: "empty ndjson", ndjson: true, body: "", err: errNoEvents},
	{name: "truncated", body: `[{"channel":"c"`, err: errMalformed},
	{name: "ndjson array on a line", ndjson: true, body: `[{"channel":"c","type":"t"}]`, problems: 1},
	{name: "ndjson two values on a line", ndjson: true, body: `{"channel":"c","type":"t"} {}`, err: errMalformed},
	{name: "ndjson stray brace", ndjson: true, body: `{"channel":"c","type":"t"}}` + "\n", err: errMalformed},
	{name: "ndjson value across lines", ndjson: true, body: "{\"channel\":\"c\",\n\"type\":\"t\"}\n", err: errMalformed},
	{name: "ndjson scalar lines", ndjson: true, body: "1\ntrue\n\"s\"\n{\"channel\":\"c\",\"type\":\"t\"}\n7", events: 1, problems: 4},
	{name: "ndjson line too long", ndjson: true, body: `{"channel":"c","type":"t","payload":"` + strings.Repeat("x", 5000) + `"}`, err: errTooLarge},
}

func TestDecodeBody(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := decodeBody(strings.NewReader(tc.body), tc.ndjson, 4096)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if len(b.events) != tc.events || len(b.problems) != tc.problems {
				t.Errorf("events %d problems %d (%v), want %d and %d",
					len(b.events), len(b.problems), b.problems, tc.events, tc.problems)
			}
		})
	}
}

// TestDecodePayloadsDoNotAlias guards the arena: an append to one event's
// payload must not overwrite the next event's bytes.
func TestDecodePayloadsDoNotAlias(t *testing.T) {
	b, err := decodeBody(strings.NewReader(`[{"channel":"c","type":"t","payload":1},{"channel":"c","type":"t","payload":2}]`), false, 1024)
	if err != nil {
		t.Fatal(err)
	}
	first := b.payload(&b.events[0])
	_ = append(first, '9')
	if got := b.payload(&b.events[1]); !bytes.Equal(got, []byte("2")) {
		t.Errorf("second payload = %q after append to the first", got)
	}
}

func BenchmarkDecodeBody(b *testing.B) {
	for _, tc := range decodeCases {
		if tc.err != nil {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			body := []byte(tc.body)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := decodeBody(bytes.NewReader(body), tc.ndjson, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
