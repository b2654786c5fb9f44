package config

import "time"

// Default returns the built-in configuration that every key starts from
// before the file, the environment and the flags apply. It is not valid on
// its own outside dev mode (no HMAC secret), which is deliberate: a
// production daemon must be given a key.
func Default() Config {
	return Config{
		Listen:     "127.0.0.1:8080",
		WSPath:     "/ws",
		Socket:     "./fanoutd.sock",
		SocketMode: 0o660,
		LogLevel:   "info",
		Auth:       Auth{Algorithms: []string{"HS256"}, ExpiryWarning: time.Minute, JWKSRefresh: 15 * time.Minute},
		Heartbeat: Heartbeat{
			Interval: 30 * time.Second,
			Timeout:  10 * time.Second,
		},
		Limits:       defaultLimits(),
		SlowConsumer: "disconnect",
		History:      History{Size: 100, TTL: 5 * time.Minute, MaxBytes: 64 << 20},
		Idempotency:  Idempotency{Window: 5 * time.Minute, MaxKeys: 100_000},
		Broker: Broker{Type: "memory", Redis: RedisBroker{Address: "127.0.0.1:6379", Prefix: "fanoutd"},
			NATS: NATSBroker{URL: "nats://127.0.0.1:4222", Prefix: "fanoutd", Stream: "FANOUTD"}},
		Drain:       Drain{Window: 10 * time.Second, CloseCode: 1001, ReconnectAfter: time.Second},
		HandOff:     HandOff{Enabled: true, Timeout: 30 * time.Second},
		Health:      Health{Enabled: true},
		SSE:         SSE{Enabled: true, Path: "/sse", Heartbeat: 15 * time.Second, MaxStreams: 1000},
		Compression: Compression{Negotiate: true, Mode: "auto", MinBytes: 512, Level: 1},
	}
}

func defaultLimits() Limits {
	return Limits{
		MaxSubscriptions:  128,
		CommandsPerSecond: 50,
		MaxChannelLength:  255,
		MaxMessageSize:    64 << 10,
		MaxFragments:      64,
		WriteQueueBytes:   1 << 20,
		HandshakeTimeout:  5 * time.Second,
		MessageTimeout:    10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		MaxTokenBytes:     4 << 10,
		MaxPublishBytes:   1 << 20,
	}
}
