package config

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

func TestHMACKey(t *testing.T) {
	key := strings.Repeat("k", 32)
	cases := []struct {
		name    string
		inline  string
		file    *string // content of a temporary key file, nil for none
		want    string
		wantErr string // substring of the error; "" for success
		is      error
	}{
		{name: "inline", inline: key, want: key},
		{name: "file", file: ptr(key), want: key},
		{name: "file with newline", file: ptr(key + "\n"), want: key},
		{name: "file with CRLF", file: ptr(key + "\r\n"), want: key},
		{name: "only one newline trimmed", file: ptr(key + "\n\n"), want: key + "\n"},
		{name: "spaces are part of the key", file: ptr(" " + key + " "), want: " " + key + " "},
		{name: "binary key", file: ptr("\x00\xff" + key), want: "\x00\xff" + key},
		{name: "short file", file: ptr("short\n"), wantErr: "at least 32 bytes required (got 5)", is: ErrInvalidValue},
		{name: "short after trim", file: ptr(key[:31] + "\n"), wantErr: "(got 31)", is: ErrInvalidValue},
		{name: "empty file", file: ptr(""), wantErr: "(got 0)", is: ErrInvalidValue},
		{name: "huge file", file: ptr(strings.Repeat("k", maxSecretFileBytes+1)), wantErr: "larger than", is: ErrInvalidValue},
		{name: "short inline", inline: "short", wantErr: "auth.hmac_secret: at least 32 bytes required (got 5)", is: ErrInvalidValue},
		{name: "both", inline: key, file: ptr(key), wantErr: "mutually exclusive", is: ErrInvalidValue},
		{name: "neither", is: ErrNoHMACSecret, wantErr: "no HMAC secret"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{Auth: Auth{HMACSecret: tc.inline}}
			if tc.file != nil {
				c.Auth.HMACSecretFile = writeFile(t, "hmac.key", *tc.file)
			}
			got, err := c.HMACKey()
			if tc.wantErr == "" {
				if err != nil || !bytes.Equal(got, []byte(tc.want)) {
					t.Fatalf("HMACKey() = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.is) || got != nil {
				t.Fatalf("HMACKey() = %q, %v; want error containing %q wrapping %v", got, err, tc.wantErr, tc.is)
			}
			if tc.file != nil && tc.inline == "" && !strings.Contains(err.Error(), c.Auth.HMACSecretFile) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestHMACKeyMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.key")
	_, err := Config{Auth: Auth{HMACSecretFile: path}}.HMACKey()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("HMACKey() error = %v, want fs.ErrNotExist naming %s", err, path)
	}
}

// TestHMACKeyReturnsACopy: the daemon may zero or keep the slice; that must
// not change the Config it came from.
func TestHMACKeyReturnsACopy(t *testing.T) {
	c := Config{Auth: Auth{HMACSecret: strings.Repeat("k", 32)}}
	b, _ := c.HMACKey()
	b[0] = 'X'
	if c.Auth.HMACSecret[0] != 'k' {
		t.Fatal("HMACKey aliases the Config")
	}
}

func ptr(s string) *string { return &s }
