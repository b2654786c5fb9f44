package daemon

import (
	"encoding/json"
	"reflect"
	"testing"
)

// referenceCommand is the decoding decodeFast replaces: encoding/json.
func referenceCommand(p []byte) (command, bool) {
	var c command
	if err := json.Unmarshal(p, &c); err != nil {
		return command{}, false
	}
	return c, true
}

// commandOddities are messages where hand-written and reflective decoding
// could part ways; they seed the fuzzer with clientMessages.
var commandOddities = []string{
	`{"Action":"ping"}`,
	`{"\u0061ction":"ping","id":1}`,
	`{"action":"subscribe","channel":"a","since":{"offset":5,"epoch":"e"}}`,
	`{"action":"subscribe","since":{"offset":5},"since":{"epoch":"e"}}`,
	`{"action":"subscribe","since":{"offset":5},"since":null}`,
	`{"action":"subscribe","since":{"Offset":5}}`,
	`{"action":"subscribe","since":{"offset":-1}}`,
	`{"action":"subscribe","since":{"offset":1.0}}`,
	`{"action":"subscribe","since":{"offset":18446744073709551616}}`,
	`{"action":"subscribe","since":{"offset":"1"}}`,
	`{"action":"subscribe","since":[]}`,
	`{"action":null,"channel":null,"token":"t"}`,
	`{"action":"ping","action":"subscribe"}`,
	`{"action":"p\u00e9","channel":"\ud800"}`,
	"{\"action\":\"\xff\"}",
	`{"action":"ping","id":{ "a" : [1, "}"] }}`,
	`{"actſon":"ping"}`,
	` {"action":"ping"} `,
}

func TestDecodeCommandMatchesEncodingJSON(t *testing.T) {
	for _, m := range clientMessages {
		compareCommand(t, []byte(m.msg))
	}
	for _, m := range commandOddities {
		compareCommand(t, []byte(m))
	}
}

func FuzzDecodeCommandMatchesEncodingJSON(f *testing.F) {
	for _, m := range clientMessages {
		f.Add([]byte(m.msg))
	}
	for _, m := range commandOddities {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, p []byte) { compareCommand(t, p) })
}

func compareCommand(t *testing.T, p []byte) {
	t.Helper()
	want, wantOK := referenceCommand(p)
	var got command
	gotOK := json.Valid(p)
	if gotOK {
		ok, bad := got.decodeFast(p)
		if !ok {
			got, gotOK = referenceCommand(p)
		} else {
			gotOK = !bad
		}
	}
	if gotOK != wantOK {
		t.Fatalf("%q: ok %v, encoding/json %v", p, gotOK, wantOK)
	}
	if wantOK && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", p, got, want)
	}
}

// TestDecodeCommandAllocs: a subscribe command costs one allocation, its
// channel's name. The command stays on the stack (encoding/json's
// fallback has a variable of its own), a known action is a constant, and
// the id points into the message (valid until Message returns).
func TestDecodeCommandAllocs(t *testing.T) {
	for _, tc := range []struct {
		msg    string
		allocs float64
	}{
		{`{"action":"subscribe","channel":"news","id":1}`, 1},
		{`{"action":"ping","id":"r-1"}`, 0},
	} {
		p := []byte(tc.msg)
		if a := testing.AllocsPerRun(100, func() { _, _ = decodeCommand(p) }); a != tc.allocs {
			t.Errorf("%s: %v allocations, want %v", tc.msg, a, tc.allocs)
		}
	}
}

// TestDecodeCommandIDPointsIntoMessage: the id is not copied; a reply
// must echo it before the message's buffer is reused.
func TestDecodeCommandIDPointsIntoMessage(t *testing.T) {
	p := []byte(`{"action":"ping","id":"r-1"}`)
	c, err := decodeCommand(p)
	if err != nil || string(c.ID) != `"r-1"` {
		t.Fatalf("%+v, %v", c, err)
	}
	copy(p, `{"action":"ping","id":"r-2"}`)
	if string(c.ID) != `"r-2"` {
		t.Fatalf("id %s: copied, not in the message", c.ID)
	}
}
