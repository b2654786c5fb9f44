package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// HMACSecret is one item of auth.hmac_secrets: an HMAC verification
// secret, given inline or in a file, and the moment after which it no
// longer verifies (zero: until it is removed).
type HMACSecret struct {
	// Secret is the key itself, at least 32 bytes.
	Secret string `mapstructure:"secret"`
	// File holds the key (one trailing newline trimmed), read at start and
	// on every reload.
	File string `mapstructure:"file"`
	// NotAfter, when set, ends the secret's use: tokens signed with it are
	// refused from then on, without a reload. RFC 3339.
	NotAfter time.Time `mapstructure:"not_after"`
}

// HMACKey is a verification key as HMACKeys returns it.
type HMACKey struct {
	Secret   []byte
	NotAfter time.Time // zero: no end
}

// HMACKeys returns the HMAC verification keys, the signing key first:
// auth.hmac_secrets in order (files read now), or the single
// auth.hmac_secret or auth.hmac_secret_file. Like HMACKey it never returns
// an empty or short key, and returns ErrNoHMACSecret when none is set.
func (c Config) HMACKeys() ([]HMACKey, error) {
	a := c.Auth
	if len(a.HMACSecrets) == 0 {
		k, err := c.HMACKey()
		if err != nil {
			return nil, err
		}
		return []HMACKey{{Secret: k}}, nil
	}
	if a.HMACSecret != "" || a.HMACSecretFile != "" {
		return nil, &keyError{key: "auth", reason: "auth.hmac_secrets excludes auth.hmac_secret and auth.hmac_secret_file", kind: ErrInvalidValue}
	}
	keys := make([]HMACKey, 0, len(a.HMACSecrets))
	for i, s := range a.HMACSecrets {
		name := fmt.Sprintf("auth.hmac_secrets[%d]", i)
		var k []byte
		var err error
		switch {
		case s.Secret != "" && s.File != "":
			err = &keyError{key: name, reason: "secret and file are mutually exclusive", kind: ErrInvalidValue}
		case s.Secret != "":
			k, err = checkKeyLen(name, "", []byte(s.Secret))
		case s.File != "":
			k, err = readSecretFileAs(name, s.File)
		default:
			err = &keyError{key: name, reason: "secret or file is required", kind: ErrInvalidValue}
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, HMACKey{Secret: k, NotAfter: s.NotAfter})
	}
	return keys, nil
}

// validateHMACSecrets checks auth.hmac_secrets without reading the files.
func (c Config) validateHMACSecrets(p *problems) {
	a := c.Auth
	if len(a.HMACSecrets) == 0 {
		return
	}
	if a.HMACSecret != "" || a.HMACSecretFile != "" {
		p.add("auth", "auth.hmac_secrets excludes auth.hmac_secret and auth.hmac_secret_file: list every secret in hmac_secrets")
	}
	for i, s := range a.HMACSecrets {
		key := fmt.Sprintf("auth.hmac_secrets[%d]", i)
		switch {
		case s.Secret != "" && s.File != "":
			p.add(key, "secret and file are mutually exclusive")
		case s.Secret == "" && s.File == "":
			p.add(key, "secret or file is required")
		case s.Secret != "" && len(s.Secret) < minHMACSecretLen:
			p.add(key, "at least %d bytes required (got %d)", minHMACSecretLen, len(s.Secret))
		}
	}
	if !a.HMACSecrets[0].NotAfter.IsZero() {
		// The first secret signs: a date on it would silently leave the
		// daemon minting tokens it then refuses.
		p.add("auth.hmac_secrets[0]", "not_after is not allowed on the first (signing) secret")
	}
}

// toHMACSecrets decodes auth.hmac_secrets: YAML's list of maps, or (from
// the environment or a flag) the same as a JSON array.
func toHMACSecrets(raw any) ([]HMACSecret, error) {
	if s, ok := raw.(string); ok {
		var items []any
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			// The value may hold secrets: the JSON error quotes none of it.
			return nil, fmt.Errorf("expected a JSON array of {secret|file, not_after}")
		}
		raw = items
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a list of {secret|file, not_after}, got %s", describe(raw))
	}
	if len(items) == 0 {
		return nil, nil
	}
	out := make([]HMACSecret, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("item %d: expected a map with secret or file, got %s", i, describe(item))
		}
		v := reflect.ValueOf(&out[i]).Elem()
		fields := reflect.VisibleFields(v.Type())
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			j := slices.IndexFunc(fields, func(f reflect.StructField) bool { return f.Tag.Get(keyTag) == k })
			if j < 0 {
				return nil, fmt.Errorf("item %d: unknown key %q (want secret, file, not_after)", i, k)
			}
			if err := setValue(v.Field(j), m[k]); err != nil {
				return nil, fmt.Errorf("item %d: %s: %w", i, k, err)
			}
		}
	}
	return out, nil
}

// toTime reads an RFC 3339 time (YAML may already have made it a
// time.Time).
func toTime(raw any) (time.Time, error) {
	switch v := raw.(type) {
	case time.Time:
		return v, nil
	case string:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("not an RFC 3339 time: %q (e.g. 2027-01-31T00:00:00Z)", v)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("expected an RFC 3339 time, got %s", describe(raw))
}
