package jwtauth

import (
	"errors"
	"testing"
	"time"
)

// TestVerifyHMACKeyList: every key of Options.Keys verifies until its
// NotAfter; an empty list, a short key or Key and Keys together are refused
// by New.
func TestVerifyHMACKeyList(t *testing.T) {
	now := t0
	v := newVerifier(t, Options{Key: []byte{}, Keys: []HMACKey{{Secret: otherKey}, {Secret: testKey, NotAfter: t0.Add(time.Hour)}},
		Now: func() time.Time { return now }})
	for name, key := range map[string][]byte{"new": otherKey, "old": testKey} {
		if _, err := v.Verify(mint(t, key, "ann", nil, 2*time.Hour, t0)); err != nil {
			t.Errorf("%s key during the overlap: %v", name, err)
		}
	}
	now = t0.Add(time.Hour + time.Second)
	if _, err := v.Verify(mint(t, testKey, "ann", nil, 2*time.Hour, t0)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old key past its NotAfter: %v, want ErrInvalidToken", err)
	}
	if _, err := v.Verify(mint(t, otherKey, "ann", nil, 2*time.Hour, t0)); err != nil {
		t.Errorf("new key: %v", err)
	}
	for name, o := range map[string]Options{
		"short key in the list": {Keys: []HMACKey{{Secret: otherKey}, {Secret: []byte("short")}}},
		"Key and Keys":          {Key: testKey, Keys: []HMACKey{{Secret: otherKey}}},
		"no key":                {},
	} {
		if _, err := New(o); !errors.Is(err, ErrShortKey) {
			t.Errorf("%s: New = %v, want ErrShortKey", name, err)
		}
	}
}
