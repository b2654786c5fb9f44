package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// maxSecretFileBytes bounds how much of auth.hmac_secret_file is read, so a
// path pointing at a device or a log by mistake fails fast instead of
// filling memory.
const maxSecretFileBytes = 64 << 10

// HMACKey returns the HS256 signing key: the first of auth.hmac_secrets
// (HMACKeys), or auth.hmac_secret, or the content of
// auth.hmac_secret_file read now (so a rotated file is picked up by the next
// reload) with one trailing newline trimmed. It never returns an empty or
// short key, because golang-jwt would accept tokens signed with one. It
// returns ErrNoHMACSecret when neither is configured (dev mode): the caller
// then generates a random key. Errors name the file, never its content.
func (c Config) HMACKey() ([]byte, error) {
	a := c.Auth
	if len(a.HMACSecrets) > 0 {
		keys, err := c.HMACKeys()
		if err != nil {
			return nil, err
		}
		return keys[0].Secret, nil
	}
	switch {
	case a.HMACSecret != "" && a.HMACSecretFile != "":
		return nil, &keyError{key: "auth", reason: "auth.hmac_secret and auth.hmac_secret_file are mutually exclusive", kind: ErrInvalidValue}
	case a.HMACSecret != "":
		return checkKeyLen("auth.hmac_secret", "", []byte(a.HMACSecret))
	case a.HMACSecretFile != "":
		return readSecretFile(a.HMACSecretFile)
	}
	return nil, ErrNoHMACSecret
}

func readSecretFile(path string) ([]byte, error) {
	return readSecretFileAs("auth.hmac_secret_file", path)
}

// readSecretFileAs reads a secret file for the configuration key named key.
func readSecretFileAs(key, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(data) > maxSecretFileBytes {
		return nil, &keyError{key: key, reason: fmt.Sprintf("%q is larger than %d bytes", path, maxSecretFileBytes), kind: ErrInvalidValue}
	}
	return checkKeyLen(key, path, trimNewline(data))
}

// trimNewline removes the single line ending that editors and
// `echo secret > file` add; anything else is part of the key.
func trimNewline(b []byte) []byte {
	if t, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		return t
	}
	t, _ := bytes.CutSuffix(b, []byte("\n"))
	return t
}

func checkKeyLen(key, path string, secret []byte) ([]byte, error) {
	if len(secret) >= minHMACSecretLen {
		return secret, nil
	}
	where := ""
	if path != "" {
		where = strconv.Quote(path) + ": "
	}
	return nil, &keyError{
		key:    key,
		reason: fmt.Sprintf("%sat least %d bytes required (got %d)", where, minHMACSecretLen, len(secret)),
		kind:   ErrInvalidValue,
	}
}
