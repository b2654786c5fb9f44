package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/spf13/viper"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fullConfig is what testdata/example.yaml must decode to.
func fullConfig() Config {
	c := Default()
	c.Socket = "/run/fanoutd/api.sock"
	c.Auth.HMACSecretFile = "/run/credentials/fanoutd.service/hmac-key"
	c.Heartbeat = Heartbeat{Interval: 25 * time.Second, Timeout: 8 * time.Second}
	c.Limits.MaxConnections = 19000
	c.Origins = []string{"https://dashboard.example.com", "http://localhost:5173"}
	c.SocketGroup = "fanoutd-publishers"
	c.SocketPeerUIDs = []int{1000}
	c.SocketPeerGIDs = []int{1001, 1002}
	c.Auth.Algorithms = []string{"HS256", "RS256"}
	c.Auth.JWKSFile = "/etc/fanoutd/jwks.json"
	c.Auth.JWKSRefresh = 30 * time.Minute
	c.Auth.Audience = "fanoutd"
	c.Auth.Issuer = "https://auth.example.com"
	c.Auth.Leeway = 5 * time.Second
	c.Auth.Cookie = "fanoutd_token"
	c.Auth.Anonymous = true
	c.Auth.PublicChannels = []string{"status:*", "announcements"}
	c.Auth.ExpiryWarning = 2 * time.Minute
	c.SlowConsumer = "disconnect"
	c.JoinLeave = false
	ten, thirty, yes, kib := 10, 30*time.Second, true, 1024
	c.Channels = []ChannelClass{
		{Prefix: "metrics:", HistorySize: &ten, HistoryTTL: &thirty, SlowConsumer: "latest", Compression: "off"},
		{Prefix: "project:", JoinLeave: &yes, CompressionMinBytes: &kib},
	}
	c.History = History{Size: 200, TTL: 10 * time.Minute, MaxBytes: 128 << 20}
	c.Idempotency = Idempotency{Window: 10 * time.Minute, MaxKeys: 50_000}
	c.Broker = Broker{Type: "redis", Redis: RedisBroker{Address: "10.0.0.5:6379", Prefix: "events",
		Shards: []string{"10.0.0.5:6379", "10.0.0.7:6379"}},
		NATS: NATSBroker{URL: "nats://10.0.0.6:4222", Prefix: "events", Stream: "EVENTS"}}
	c.Conformance = Conformance{} // off, as every production file must have it
	c.Drain = Drain{Window: 20 * time.Second, CloseCode: 1012, ReconnectAfter: 2 * time.Second}
	c.HandOff = HandOff{Enabled: true, Timeout: time.Minute, FDStoreMax: 262144}
	c.Metrics = Metrics{Enabled: true, Listen: "127.0.0.1:9090"}
	c.Health = Health{Enabled: true}
	c.Status = Status{Enabled: false, AllowedHosts: []string{"fanoutd.internal.example.com"}}
	c.SSE = SSE{Enabled: true, Path: "/events", Heartbeat: 20 * time.Second, MaxStreams: 500}
	c.Compression = Compression{Negotiate: true, Mode: "auto", MinBytes: 512, Level: 3}
	c.FlushDelay = 5 * time.Millisecond
	return c
}

func TestExampleRoundTrips(t *testing.T) {
	got, err := Load(Source{File: filepath.Join("testdata", "example.yaml"), Environ: []string{}})
	if err != nil {
		t.Fatalf("Load(example.yaml): %v", err)
	}
	if want := fullConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(example.yaml) =\n%+v\nwant\n%+v", got, want)
	}
}

// TestExamplesDocumentEveryKey keeps both documented files complete as
// fields are added to Config.
func TestExamplesDocumentEveryKey(t *testing.T) {
	for _, name := range []string{"full.yaml", "example.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		v := viper.New()
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		var c Config
		for _, f := range fieldsOf(&c) {
			if !slices.Contains(v.AllKeys(), f.key) {
				t.Errorf("testdata/%s does not document %s", name, f.key)
			}
		}
	}
}

func TestBadExampleGolden(t *testing.T) {
	_, err := Load(Source{File: filepath.Join("testdata", "bad.yaml"), Environ: []string{}})
	if err == nil {
		t.Fatal("Load(bad.yaml) succeeded")
	}
	got := []byte(err.Error() + "\n")
	golden := filepath.Join("testdata", "bad.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Load(bad.yaml) error differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}
