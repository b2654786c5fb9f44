package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// ChannelClass overrides the channel defaults for every channel whose name
// starts with Prefix; the longest matching prefix wins. A field left out of
// the file keeps the daemon-wide value (history.size, history.ttl,
// slow_consumer, join_leave, compression.mode, compression.min_bytes).
type ChannelClass struct {
	Prefix       string         `mapstructure:"prefix"`
	HistorySize  *int           `mapstructure:"history_size"`
	HistoryTTL   *time.Duration `mapstructure:"history_ttl"`
	SlowConsumer string         `mapstructure:"slow_consumer"`
	JoinLeave    *bool          `mapstructure:"join_leave"`
	// Compression is off, on or auto (see Compression.Mode).
	Compression         string `mapstructure:"compression"`
	CompressionMinBytes *int   `mapstructure:"compression_min_bytes"`
}

// SlowConsumerPolicies are the values of slow_consumer.
var SlowConsumerPolicies = []string{"disconnect", "drop-oldest", "latest"}

// toChannelClasses decodes the channels list: YAML's list of maps, or (from
// the environment) the same as a JSON array. Unknown fields are errors, as
// unknown keys are everywhere else.
func toChannelClasses(raw any) ([]ChannelClass, error) {
	if s, ok := raw.(string); ok {
		var items []any
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			return nil, fmt.Errorf("expected a JSON array of channel classes: %v", err)
		}
		raw = items
	}
	items, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a list of channel classes, got %s", describe(raw))
	}
	out := make([]ChannelClass, len(items))
	for i, item := range items {
		if err := decodeClass(item, &out[i]); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
	}
	return out, nil
}

func decodeClass(item any, c *ChannelClass) error {
	m, ok := item.(map[string]any)
	if !ok {
		return fmt.Errorf("expected a map with prefix and settings, got %s", describe(item))
	}
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		i := slices.IndexFunc(reflect.VisibleFields(t), func(f reflect.StructField) bool { return f.Tag.Get(keyTag) == k })
		if i < 0 {
			return fmt.Errorf("unknown key %q (want prefix, history_size, history_ttl, slow_consumer, join_leave, compression, compression_min_bytes)", k)
		}
		dst := v.Field(i)
		if dst.Kind() == reflect.Pointer {
			dst.Set(reflect.New(dst.Type().Elem()))
			dst = dst.Elem()
		}
		if err := setValue(dst, m[k]); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// validateChannels checks the history, slow-consumer and per-prefix
// settings.
func (c Config) validateChannels(p *problems) {
	h := c.History
	if h.Size < 0 || h.Size > maxHistorySize {
		p.add("history.size", "must be between 0 and %d (got %d)", maxHistorySize, h.Size)
	}
	if h.TTL < 0 {
		p.add("history.ttl", "must not be negative (got %s)", h.TTL)
	}
	if h.MaxBytes < 1<<20 {
		p.add("history.max_bytes", "must be at least 1 MiB (got %d)", h.MaxBytes)
	}
	if !slices.Contains(SlowConsumerPolicies, c.SlowConsumer) {
		p.add("slow_consumer", "must be one of %s (got %q)", strings.Join(SlowConsumerPolicies, ", "), c.SlowConsumer)
	}
	seen := map[string]bool{}
	for i, cl := range c.Channels {
		key := fmt.Sprintf("channels[%d]", i)
		switch {
		case cl.Prefix == "":
			p.add(key, "prefix is required")
		case seen[cl.Prefix]:
			p.add(key, "prefix %q is listed twice", cl.Prefix)
		}
		seen[cl.Prefix] = true
		if cl.HistorySize != nil && (*cl.HistorySize < 0 || *cl.HistorySize > maxHistorySize) {
			p.add(key, "history_size must be between 0 and %d (got %d)", maxHistorySize, *cl.HistorySize)
		}
		if cl.HistoryTTL != nil && *cl.HistoryTTL < 0 {
			p.add(key, "history_ttl must not be negative")
		}
		if cl.SlowConsumer != "" && !slices.Contains(SlowConsumerPolicies, cl.SlowConsumer) {
			p.add(key, "slow_consumer must be one of %s (got %q)", strings.Join(SlowConsumerPolicies, ", "), cl.SlowConsumer)
		}
		if cl.Compression != "" && !slices.Contains(CompressionModes, cl.Compression) {
			p.add(key, "compression must be one of %s (got %q)", strings.Join(CompressionModes, ", "), cl.Compression)
		}
		if m := cl.CompressionMinBytes; m != nil && (*m < 1 || *m > maxCompressionMin) {
			p.add(key, "compression_min_bytes must be between 1 and %d (got %d)", maxCompressionMin, *m)
		}
	}
	c.validateCompression(p)
	if c.Idempotency.Window < time.Second || c.Idempotency.Window > 24*time.Hour {
		p.add("idempotency.window", "must be between 1s and 24h (got %s)", c.Idempotency.Window)
	}
	switch c.Broker.Type {
	case "memory":
	case "redis":
		r := c.Broker.Redis
		for _, a := range append([]string{r.Address}, append(r.Shards, r.SentinelAddresses...)...) {
			p.hostPort("broker.redis.address", a)
		}
		if (r.SentinelMaster == "") != (len(r.SentinelAddresses) == 0) {
			p.add("broker.redis.sentinel_master", "needs broker.redis.sentinel_addresses, and the reverse")
		}
		if r.SentinelMaster != "" && len(r.Shards) > 0 {
			p.add("broker.redis.shards", "cannot be combined with Sentinel")
		}
		if r.Cluster && (r.SentinelMaster != "" || len(r.Shards) > 0) {
			p.add("broker.redis.cluster", "cannot be combined with shards or Sentinel")
		}
		if c.Broker.Redis.Prefix == "" || strings.ContainsAny(c.Broker.Redis.Prefix, " :") {
			p.add("broker.redis.prefix", "must be a non-empty word without spaces or colons (got %q)", c.Broker.Redis.Prefix)
		}
	case "nats":
		n := c.Broker.NATS
		if n.URL == "" {
			p.add("broker.nats.url", "is required")
		}
		if !validSubjectToken(n.Prefix) {
			p.add("broker.nats.prefix", "must be letters, digits, - or _ (got %q)", n.Prefix)
		}
		if !validSubjectToken(n.Stream) {
			p.add("broker.nats.stream", "must be letters, digits, - or _ (got %q)", n.Stream)
		}
	default:
		p.add("broker.type", "must be memory, redis or nats (got %q)", c.Broker.Type)
	}
	if c.Idempotency.MaxKeys < 1 {
		p.add("idempotency.max_keys", "must be at least 1 (got %d)", c.Idempotency.MaxKeys)
	}
}

// maxHistorySize bounds one channel's history: recovery replays it under
// the channel's lock.
const maxHistorySize = 100_000

// validSubjectToken accepts a NATS subject token or stream name that needs
// no escaping.
func validSubjectToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// maxCompressionMin bounds compression.min_bytes: a larger threshold is
// off in all but name (events are at most 1 MiB).
const maxCompressionMin = 1 << 20

func (c Config) validateCompression(p *problems) {
	z := c.Compression
	if !slices.Contains(CompressionModes, z.Mode) {
		p.add("compression.mode", "must be one of %s (got %q)", strings.Join(CompressionModes, ", "), z.Mode)
	}
	if z.MinBytes < 1 || z.MinBytes > maxCompressionMin {
		p.add("compression.min_bytes", "must be between 1 and %d (got %d)", maxCompressionMin, z.MinBytes)
	}
	if z.Level < 1 || z.Level > 9 {
		p.add("compression.level", "must be between 1 and 9 (got %d)", z.Level)
	}
}
