package handoff

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
)

type session struct {
	User     string            `json:"user"`
	Channels map[string]uint64 `json:"channels"`
}

func TestImageRoundTrip(t *testing.T) {
	in := map[string]any{
		"sessions": []session{{User: "u1", Channels: map[string]uint64{"news": 42}}},
		"events":   uint64(7),
	}
	image, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []session
	var events uint64
	if err := Decode(image, map[string]any{"sessions": &sessions, "events": &events}); err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].User != "u1" || sessions[0].Channels["news"] != 42 || events != 7 {
		t.Fatalf("decoded %+v, %d", sessions, events)
	}
	// A reader may ignore sections; it may not miss one it needs.
	if err := Decode(image, map[string]any{"events": &events}); err != nil {
		t.Fatal(err)
	}
	err = Decode(image, map[string]any{"history": new(any)})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"history"`) {
		t.Fatalf("missing section: %v", err)
	}
}

// otherVersion is an image as a later binary might write it, its version
// line free to change after the number.
func otherVersion(v int) []byte {
	return []byte(fmt.Sprintf("%s%d something new\n{}", magic, v))
}

func TestDecodeOtherVersion(t *testing.T) {
	err := Decode(otherVersion(Version+1), map[string]any{})
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("Decode: %v, want ErrVersion", err)
	}
	for _, want := range []string{"version 2", "reads version 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

// rawImage frames body as a well-formed version-1 image would be.
func rawImage(body string) []byte {
	return []byte(fmt.Sprintf("%s%d %d %08x\n%s", magic, Version, len(body), crc32.ChecksumIEEE([]byte(body)), body))
}

var badImages = func() map[string][]byte {
	good, _ := Encode(map[string]any{"a": []int{1, 2, 3}})
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-2] = '9'
	return map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("GET / HTTP/1.1\r\n\r\n"),
		"magic only":     []byte(magic),
		"no newline":     []byte(magic + "1 10 00000000"),
		"bad version":    []byte(magic + "one 2 00000000\n{}"),
		"short header":   []byte(magic + "1\n{}"),
		"bad length":     []byte(magic + "1 -5 00000000\n{}"),
		"truncated":      good[:len(good)-1],
		"truncated head": good[:len(magic)+3],
		"extended":       append(append([]byte(nil), good...), ' '),
		"checksum":       flipped,
		"not an object":  rawImage("[]"),
		"bad json":       rawImage(`{"a":[1,`),
	}
}()

func TestDecodeBadImages(t *testing.T) {
	for name, image := range badImages {
		t.Run(name, func(t *testing.T) {
			var a []int
			err := Decode(image, map[string]any{"a": &a})
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion) {
				t.Fatalf("Decode: %v, want ErrCorrupt", err)
			}
		})
	}
}

// A section of the wrong shape is an error, not a silent zero value.
func TestDecodeSectionMismatch(t *testing.T) {
	image, _ := Encode(map[string]any{"a": "text"})
	var a []int
	if err := Decode(image, map[string]any{"a": &a}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Decode: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(map[string]any{"a": []int{1}, "b": map[string]string{"x": "y"}})
	f.Add(good)
	f.Add(otherVersion(2))
	for _, image := range badImages {
		f.Add(image)
	}
	f.Fuzz(func(t *testing.T, image []byte) {
		var a []int
		var b map[string]string
		err := Decode(image, map[string]any{"a": &a, "b": &b})
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("Decode: %v wraps neither ErrCorrupt nor ErrVersion", err)
		}
	})
}
