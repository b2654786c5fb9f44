package loadgen

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Bounds that keep a run finite and this machine usable. They are limits of
// the tool, not of the daemon.
const (
	MaxDuration  = 10 * time.Minute
	MaxDrain     = 2 * time.Minute
	MaxConns     = 500_000
	MaxRate      = 1_000_000
	MaxPayload   = 256 << 10
	MinPayload   = 64 // room for {"ts":…,"seq":…,"pad":""}
	MaxSourceIPs = 250

	// ConnsPerProc is the default share of one worker: below the 20,000
	// open-file limit with room for the runtime and stdio.
	ConnsPerProc = 18_000
	// ConnsPerSourceIP is the default share of one source address: below
	// the ~28k ephemeral ports per (source, destination).
	ConnsPerSourceIP = 25_000
	// fdReserve is what a worker keeps for itself besides its sockets.
	fdReserve = 64
	// maxPublishBody mirrors the daemon's default limits.max_publish_bytes.
	maxPublishBody = 1 << 20
)

// Config is one load run, as the flags describe it. Start from
// DefaultConfig; Resolve fills the derived defaults (Procs, SourceIPs).
type Config struct {
	URL    string // WebSocket endpoint, ws://127.x.y.z:port/path
	Socket string // the daemon's publish API Unix socket (protocol fanoutd)
	Token  string // a ready token allowing bench:* (Centrifugo: any connection token); empty means mint one
	Secret string // HS256 key used to mint the token when Token is empty

	Conns    int     // subscribers
	Channels int     // bench:0 … bench:Channels-1; connection i is on i mod Channels
	Rate     float64 // events per second, all channels together
	Batch    int     // events per publish request
	Payload  int     // bytes of each event's payload JSON

	Duration time.Duration // publishing time
	Drain    time.Duration // wait after the last publish for stragglers

	ConnectRate        float64       // new connections per second in total; 0 = as fast as possible
	ConnectConcurrency int           // handshakes in flight in total
	ConnectTimeout     time.Duration // bound on the whole connection phase

	Procs     int // worker processes; 0 = ceil(Conns/ConnsPerProc)
	SourceIPs int // source addresses 127.0.0.2…; 0 = ceil(Conns/ConnsPerSourceIP)

	PID   int    // daemon pid for /proc; 0 = the "pid" of /v1/stats
	Label string // free text copied into the report

	// Deflate offers permessage-deflate in every handshake (as browsers
	// do) and inflates the compressed frames received.
	Deflate bool
	// PayloadStyle is how the payload is filled to its size: "pad" (one
	// string of x, which deflate squeezes to nothing: not for compression
	// figures) or "json" (dashboard-like records: keys that repeat, small
	// numbers, status strings).
	PayloadStyle string

	// Protocol is the server's protocol: ProtocolFanoutd (the default) or
	// ProtocolCentrifugo (see Protocols).
	Protocol string
	// APIURL is Centrifugo's server HTTP API, http://127.x.y.z:port
	// (protocol centrifugo only; Socket is then unused).
	APIURL string
	// APIKey is sent as X-API-Key to APIURL (protocol centrifugo only).
	APIKey string

	// SubscribeInURL subscribes each connection at connect time instead
	// of with a subscribe command after the welcome: fanoutd (and the Node
	// hub) get the channels in the upgrade URL (?channels=a,b) and answer
	// the upgrade with the welcome and one "subscribed" frame per channel;
	// Centrifugo gets them in its connect command's "subs" and answers in
	// the connect reply's. The connection counts as subscribed once every
	// channel is confirmed. (See subscribeurl.go.)
	SubscribeInURL bool
}

// PayloadStyles are the values of PayloadStyle.
var PayloadStyles = []string{"pad", "json"}

// DefaultConfig is the flags' defaults.
func DefaultConfig() Config {
	return Config{
		URL:                "ws://127.0.0.1:8080/ws",
		Socket:             "./fanoutd.sock",
		Conns:              1000,
		Channels:           1,
		Rate:               100,
		Batch:              1,
		Payload:            200,
		Duration:           10 * time.Second,
		Drain:              2 * time.Second,
		ConnectConcurrency: 256,
		ConnectTimeout:     2 * time.Minute,
		PayloadStyle:       "pad",
		Protocol:           ProtocolFanoutd,
	}
}

// Resolve returns c with the derived defaults filled in (an empty
// Protocol is ProtocolFanoutd).
func (c Config) Resolve() Config {
	if c.Procs <= 0 {
		c.Procs = max(1, ceilDiv(c.Conns, ConnsPerProc))
	}
	if c.SourceIPs <= 0 {
		c.SourceIPs = max(1, ceilDiv(c.Conns, ConnsPerSourceIP))
	}
	if c.ConnectConcurrency <= 0 {
		c.ConnectConcurrency = 256
	}
	if c.Protocol == "" {
		c.Protocol = ProtocolFanoutd
	}
	return c
}

// Validate reports every bad field of a resolved Config, joined; each
// wraps ErrConfig (or ErrNotLoopback for the URL).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if _, err := ParseTarget(c.URL); err != nil {
		errs = append(errs, err)
	}
	c.validateProtocol(bad, &errs)
	if c.Token == "" && len(c.Secret) < 32 {
		bad("need --token, or an HMAC secret of at least 32 bytes (--secret or FANOUTD_AUTH_HMAC_SECRET)")
	}
	c.validateSizes(bad)
	c.validateTimes(bad)
	c.validateSpread(bad)
	return errors.Join(errs...)
}

// validateProtocol checks the protocol and its publish API's settings.
func (c Config) validateProtocol(bad func(string, ...any), errs *[]error) {
	switch c.Protocol {
	case ProtocolFanoutd:
		if c.Socket == "" {
			bad("--socket is required (the publish API)")
		}
	case ProtocolCentrifugo:
		if c.APIURL == "" || c.APIKey == "" {
			bad("--protocol centrifugo needs --api-url and --api-key (its server HTTP API)")
		} else if err := checkLoopbackHTTP(c.APIURL); err != nil {
			*errs = append(*errs, err)
		}
	default:
		bad("--protocol %q: want one of %v", c.Protocol, Protocols)
	}
}

func (c Config) validateSizes(bad func(string, ...any)) {
	if c.Conns < 1 || c.Conns > MaxConns {
		bad("--conns %d: want 1..%d", c.Conns, MaxConns)
	}
	if c.Channels < 1 || c.Channels > MaxConns {
		bad("--channels %d: want 1..%d", c.Channels, MaxConns)
	}
	if !(c.Rate > 0 && c.Rate <= MaxRate) {
		bad("--rate %v: want >0 and <= %d events/s", c.Rate, MaxRate)
	}
	if c.PayloadStyle != "pad" && c.PayloadStyle != "json" {
		bad("--payload-style %q: want pad or json", c.PayloadStyle)
	}
	if c.Payload < MinPayload || c.Payload > MaxPayload {
		bad("--payload %d: want %d..%d bytes", c.Payload, MinPayload, MaxPayload)
	}
	if c.Batch < 1 || c.Batch*(c.Payload+eventOverhead) > maxPublishBody {
		bad("--batch %d: want >= 1 and batch×(payload+%d) <= %d (the daemon's max_publish_bytes)",
			c.Batch, eventOverhead, maxPublishBody)
	}
	if c.ConnectRate < 0 {
		bad("--connect-rate %v: want >= 0", c.ConnectRate)
	}
}

func (c Config) validateTimes(bad func(string, ...any)) {
	if c.Duration <= 0 || c.Duration > MaxDuration {
		bad("--duration %v: want >0 and <= %v", c.Duration, MaxDuration)
	}
	if c.Drain < 0 || c.Drain > MaxDrain {
		bad("--drain %v: want 0..%v", c.Drain, MaxDrain)
	}
	if c.ConnectTimeout <= 0 || c.ConnectTimeout > 30*time.Minute {
		bad("--connect-timeout %v: want >0 and <= 30m", c.ConnectTimeout)
	}
}

func (c Config) validateSpread(bad func(string, ...any)) {
	if c.Procs < 1 || c.Procs > max(1, c.Conns) {
		bad("--procs %d: want 1..conns", c.Procs)
		return
	}
	if per, limit := ceilDiv(c.Conns, c.Procs), fdLimit()-fdReserve; per > limit {
		bad("--procs %d: %d connections per process exceed the open-file limit (%d usable); use more processes",
			c.Procs, per, limit)
	}
	if c.SourceIPs < 1 || c.SourceIPs > MaxSourceIPs {
		bad("--source-ips %d: want 1..%d", c.SourceIPs, MaxSourceIPs)
	} else if per := ceilDiv(c.Conns, c.SourceIPs); per > ephemeralPorts {
		bad("--source-ips %d: %d connections per source address exceed its ~%d ephemeral ports",
			c.SourceIPs, per, ephemeralPorts)
	}
}

// ephemeralPorts is Linux's default ip_local_port_range (32768–60999).
const ephemeralPorts = 60999 - 32768 + 1

// fdLimit is this process's open-file limit; workers inherit it.
func fdLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	return int(min(rl.Cur, 1<<30))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
