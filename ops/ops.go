package ops

import (
	"cmp"
	"net"
	"sync/atomic"
	"time"

	"github.com/fanoutd/fanoutd/daemon"
	"github.com/fanoutd/fanoutd/netpoll"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Source is what the operations surface reads from the daemon that is
// not the core's own: the transport's counters and the daemon's state.
// The composition root's Server implements it. Every method is called
// from a request's goroutine (a scrape, /readyz, the console) or from
// PublishStatus's ticker, concurrently, and must not block.
type Source interface {
	// TransportStats is the WebSocket transport's counters.
	TransportStats() netpoll.Stats
	// CloseCodesSent counts the close frames sent, by code (0: codes not
	// counted one by one).
	CloseCodesSent() map[int]uint64
	// WriteLatency is the transport's publish-to-write histogram.
	WriteLatency() netpoll.Latency
	// Refusals counts the upgrades refused or abandoned, by reason: the
	// transport's (t) merged with the daemon's admission's.
	Refusals(t netpoll.Stats) map[string]uint64
	// Reloads counts the configuration reloads applied and refused.
	Reloads() (applied, refused uint64)
	// Serving: the listeners are served; Draining: Shutdown began.
	Serving() bool
	Draining() bool
	// Broker says whether a broker is configured, whether its link is up
	// and proven, and, when it is not, why in the broker's words ("" when
	// it has none).
	Broker() (present, up bool, why string)
}

// Settings are the reloadable parts of the console's configuration:
// Options.Settings returns those in force at each request.
type Settings struct {
	// Listen is the configured WebSocket listen address, Bound the bound
	// one, AllowedHosts status.allowed_hosts: the console's Host check.
	Listen       string
	Bound        net.Addr
	AllowedHosts []string
	// WSPath is the WebSocket route the console's script connects to.
	WSPath string
	// Config is the configuration summary shown, without secrets.
	Config []Row
}

// Row is one name and value of a table the console shows.
type Row struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Options configure an Ops. Node and Source are required.
type Options struct {
	Node   *daemon.Node
	Source Source
	// Version is the daemon's version ("dev" when empty); Started when it
	// started (Now() at New when zero).
	Version string
	Started time.Time
	// Now is the clock (time.Now when nil); Logger nil means no logs.
	Now    func() time.Time
	Logger *zap.Logger
	// Readiness are asked by /readyz after the daemon's own conditions.
	Readiness []ReadinessCheck
	// Settings returns the settings in force; called at each console
	// request.
	Settings func() Settings
	// MintStatusToken mints a token that may only subscribe to
	// StatusChannel, for the console's script; "" when the daemon cannot
	// mint one (the console then reloads itself).
	MintStatusToken func() string
	// HistoryWindow and HistoryEvery size the console's server-side ring:
	// 15 minutes at 1 s by default.
	HistoryWindow, HistoryEvery time.Duration
}

// Ops is one daemon's operations surface. Safe for concurrent use.
type Ops struct {
	o       Options
	log     *zap.Logger
	reg     *prometheus.Registry
	history *ring
	// probeNanos is the last hub probe's duration, 0 before the first.
	probeNanos atomic.Int64
	probeFails atomic.Uint64
	// ticks counts PublishStatus's ticks; only its goroutine touches it.
	ticks uint64
}

// New builds the surface and its Prometheus registry.
func New(o Options) *Ops {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Started.IsZero() {
		o.Started = o.Now()
	}
	o.Version = cmp.Or(o.Version, "dev")
	o.HistoryWindow = cmp.Or(o.HistoryWindow, 15*time.Minute)
	o.HistoryEvery = cmp.Or(o.HistoryEvery, time.Second)
	if o.Settings == nil {
		o.Settings = func() Settings { return Settings{} }
	}
	if o.MintStatusToken == nil {
		o.MintStatusToken = func() string { return "" }
	}
	p := &Ops{o: o, log: o.Logger.Named("ops")}
	p.history = newRing(int(o.HistoryWindow / o.HistoryEvery))
	p.reg = newRegistry(p)
	return p
}

// Registry is this daemon's own Prometheus registry.
func (p *Ops) Registry() *prometheus.Registry { return p.reg }

// Ready reports whether the daemon serves: its listeners are served and
// Shutdown has not begun.
func (p *Ops) Ready() bool { return p.o.Source.Serving() && !p.o.Source.Draining() }
