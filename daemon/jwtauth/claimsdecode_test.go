package jwtauth

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// referenceClaims decodes as the reflective decoder this package used
// before claimsdecode.go: encoding/json, with the NumericDate check.
func referenceClaims(b []byte) (claims, error) {
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return claims{}, err
	}
	for _, d := range []json.RawMessage{dates.Exp, dates.Nbf, dates.Iat} {
		if len(d) > 0 && string(d) != "null" && d[0] != '-' && (d[0] < '0' || d[0] > '9') {
			return claims{}, errDateNotNumber
		}
	}
	type plain claims
	var c claims
	err := json.Unmarshal(b, (*plain)(&c))
	return c, err
}

// claimSeeds are real and awkward claim sets, shared by the table test,
// the fuzz target and the benchmark.
var claimSeeds = []string{
	`{"sub":"ann","exp":1893456000,"iat":1700000000,"channels":["news","user:{sub}"],"info":{"name":"Ann"}}`,
	`{"sub":"ann","exp":1893456000.5,"nbf":1700000000,"aud":"fanout","iss":"https://issuer","jti":"x1"}`,
	`{"sub":"ann","exp":1893456000,"aud":["a","b"],"channels":[]}`,
	` { "sub" : "b\u00e9\"o" , "exp" : 1e9 , "channels" : [ "a\\b" , "c" ] , "info" : [1,{"x":"]}"}] } `,
	`{"sub":"ann","exp":"9999999999"}`,
	`{"sub":"ann","exp":true}`,
	`{"sub":"ann","exp":null,"info":null,"channels":null}`,
	`{"sub":"ann","sub":"bob","exp":1,"exp":2}`,
	`{"sub":1}`,
	`{"sub":"ann","aud":[1]}`,
	`{"sub":"ann","channels":["a",2]}`,
	`{"sub":"ann","exp":1e400}`,
	`{"sub":"\xff\xfe","exp":1}`,
	`{"other":{"deep":[[{"a":"}"}]]},"sub":"ann","exp":-1}`,
	`[]`,
	`null`,
	`"sub"`,
}

func TestDecodeClaimsMatchesEncodingJSON(t *testing.T) {
	for _, s := range claimSeeds {
		t.Run(s, func(t *testing.T) { compareClaims(t, []byte(s)) })
	}
}

// FuzzDecodeClaims checks the hand-written decoder against encoding/json
// on every valid JSON input whose names match ours exactly (encoding/json
// also matches them case-insensitively, on purpose not followed here).
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || foldedName(b) {
			return
		}
		compareClaims(t, b)
	})
}

func compareClaims(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := referenceClaims(b)
	var got claims
	gotErr := json.Unmarshal(b, &got) // as golang-jwt calls it
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", b, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
	}
}

// foldedName reports whether a top-level name differs from one of ours only
// in case, or is spelt with escapes.
func foldedName(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	for k := range m {
		for _, n := range []string{"sub", "iss", "jti", "aud", "exp", "nbf", "iat", "channels", "info"} {
			if k != n && strings.EqualFold(k, n) || k == n && !strings.Contains(string(b), `"`+n+`"`) {
				return true
			}
		}
	}
	return false
}

func BenchmarkDecodeClaims(b *testing.B) {
	payload := []byte(claimSeeds[0])
	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c claims
			if err := decodeClaims(&c, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := referenceClaims(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
