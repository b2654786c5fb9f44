package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestHMACSecretsList: auth.hmac_secrets loads from YAML and from the
// environment (a JSON array), files are read by HMACKeys, the first secret
// signs, and the mistakes are reported by key.
func TestHMACSecretsList(t *testing.T) {
	newKey, oldKey := strings.Repeat("n", 32), strings.Repeat("o", 32)
	file := writeFile(t, "old.key", oldKey+"\n")
	end := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	yaml := "auth:\n  hmac_secrets:\n    - secret: \"" + newKey + "\"\n    - file: \"" + file + "\"\n      not_after: \"2027-01-31T00:00:00Z\"\n"
	fromYAML, err := loadYAML(t, yaml)
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, err := Load(Source{Environ: []string{`FANOUTD_AUTH_HMAC_SECRETS=[{"secret":"` + newKey + `"},{"file":"` + file + `","not_after":"2027-01-31T00:00:00Z"}]`}})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{"yaml": fromYAML, "env": fromEnv} {
		keys, err := c.HMACKeys()
		if err != nil {
			t.Fatalf("%s: HMACKeys: %v", name, err)
		}
		if len(keys) != 2 || string(keys[0].Secret) != newKey || string(keys[1].Secret) != oldKey ||
			!keys[0].NotAfter.IsZero() || !keys[1].NotAfter.Equal(end) {
			t.Errorf("%s: keys %+v", name, keys)
		}
		if k, err := c.HMACKey(); err != nil || string(k) != newKey {
			t.Errorf("%s: HMACKey = %q, %v; want the first secret", name, k, err)
		}
	}

	for _, tc := range []struct {
		name string
		set  func(*Auth)
		want string
	}{
		{"with hmac_secret", func(a *Auth) { a.HMACSecret = newKey }, "auth.hmac_secrets excludes"},
		{"short", func(a *Auth) { a.HMACSecrets[0].Secret = "short" }, "auth.hmac_secrets[0]: at least 32 bytes"},
		{"empty item", func(a *Auth) { a.HMACSecrets[1] = HMACSecret{} }, "auth.hmac_secrets[1]: secret or file is required"},
		{"both", func(a *Auth) { a.HMACSecrets[1].Secret = oldKey }, "auth.hmac_secrets[1]: secret and file are mutually exclusive"},
		{"signing key with an end", func(a *Auth) { a.HMACSecrets[0].NotAfter = end }, "auth.hmac_secrets[0]: not_after is not allowed"},
	} {
		c := Default()
		c.Auth.HMACSecrets = []HMACSecret{{Secret: newKey}, {File: file, NotAfter: end}}
		tc.set(&c.Auth)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := loadYAML(t, "auth:\n  hmac_secrets:\n    - secret: \""+newKey+"\"\n      expires: \"2027-01-01T00:00:00Z\"\n"); err == nil || errors.Is(err, nil) && !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("unknown item key: %v", err)
	}
}
