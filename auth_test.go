package fanoutd

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/config"
	"github.com/golang-jwt/jwt/v5"
)

// TestRS256FromPublicKeyFile: a daemon configured with only RS256 and a PEM
// public key accepts tokens signed by the private key, and refuses HS256
// tokens even when they are signed with the public key's bytes (key
// confusion).
func TestRS256FromPublicKeyFile(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pemFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(pemFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, func(c *config.Config) {
		c.Auth.HMACSecret, c.Auth.Algorithms, c.Auth.PublicKeyFile = "", []string{"RS256"}, pemFile
	})
	claims := jwt.MapClaims{"sub": "rita", "channels": []string{"*"}, "exp": time.Now().Add(time.Hour).Unix()}
	good, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	w := d.dial(good)
	w.subscribe("rs:1")
	confused, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.dialStatus(&websocket.DialOptions{Subprotocols: []string{"fanout.v1", "bearer." + confused}}, ""); got != http.StatusUnauthorized {
		t.Fatalf("HS256 token signed with the public key: status %d, want 401", got)
	}
	if err := Check(d.cfg); err != nil {
		t.Fatalf("Check of a working config: %v", err)
	}
	bad := d.cfg
	bad.Auth.PublicKeyFile = filepath.Join(t.TempDir(), "missing.pem")
	if err := Check(bad); err == nil {
		t.Fatal("Check accepted a missing key file")
	}
}
