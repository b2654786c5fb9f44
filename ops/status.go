package ops

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// The console updates itself over the daemon's own WebSocket:
// PublishStatus publishes the counters once a second to StatusChannel (no
// history; its events count in the totals like any other), and the
// console subscribes with a short-lived token the page request mints for
// that channel only (Options.MintStatusToken).
const (
	StatusChannel  = "fanoutd.status"
	StatusTokenTTL = 10 * time.Minute
)

// Sample is the counters at one tick: what the console's charts draw,
// kept in the server-side window and sent in each status event.
type Sample struct {
	At            int64  `json:"at"` // Unix ms
	Connections   int64  `json:"connections"`
	Subscriptions int64  `json:"subscriptions"`
	Channels      int    `json:"channels"`
	Transport     int    `json:"transport_connections"` // handshakes and HTTP included
	Published     uint64 `json:"published"`
	Delivered     uint64 `json:"delivered"`
	Dropped       uint64 `json:"dropped"`
	Skipped       uint64 `json:"skipped"`
	HistoryBytes  int64  `json:"history_bytes"`
	// Closes and Refused are the totals of CloseCodes and Refusals.
	Closes  uint64 `json:"closes"`
	Refused uint64 `json:"refused"`
	// ProbeMs is the last hub probe's duration, 0 before the first.
	ProbeMs float64 `json:"probe_ms"`
}

// Status is one status event's payload: the Sample and what the console's
// cards and tables show besides.
type Status struct {
	Sample
	Started    int64             `json:"started"` // Unix ms
	Version    string            `json:"version"`
	Ready      bool              `json:"ready"`
	Broker     string            `json:"broker"` // "memory", "up", or why it is not
	CloseCodes map[string]uint64 `json:"close_codes"`
	Refusals   map[string]uint64 `json:"refusals"` // the reasons seen
	Reloads    [2]uint64         `json:"reloads"`  // applied, refused
	Upgraded   uint64            `json:"upgraded"`
	BytesOut   uint64            `json:"bytes_out"`
	Duplicates uint64            `json:"duplicates"`
	Evictions  uint64            `json:"history_evictions"`
	Goroutines int               `json:"goroutines"`
	ProbeFails uint64            `json:"probe_failures"`
}

// snapshot reads every counter now.
func (p *Ops) snapshot() Status {
	src := p.o.Source
	n, t := p.o.Node.Stats(), src.TransportStats()
	st := Status{Sample: Sample{At: p.o.Now().UnixMilli(), Connections: n.Connections, Subscriptions: n.Subscriptions,
		Channels: n.Channels, Transport: t.Conns, Published: n.Published, Delivered: n.Delivered, Dropped: n.Dropped,
		Skipped: n.Skipped, HistoryBytes: n.HistoryBytes, ProbeMs: float64(p.probeNanos.Load()) / 1e6},
		Started: p.o.Started.UnixMilli(), Version: p.o.Version, Ready: p.Ready(), Broker: "memory",
		CloseCodes: map[string]uint64{}, Refusals: map[string]uint64{}, Upgraded: t.Upgraded, BytesOut: t.BytesOut,
		Duplicates: n.Duplicates, Evictions: n.HistoryEvictions, Goroutines: n.Goroutines, ProbeFails: p.probeFails.Load()}
	st.Reloads[0], st.Reloads[1] = src.Reloads()
	if present, up, why := src.Broker(); present {
		st.Broker = "up"
		if !up {
			st.Broker = "down: " + cmpOr(why, "link down or not delivering")
		}
	}
	for code, c := range src.CloseCodesSent() {
		name := "other"
		if code != 0 {
			name = strconv.Itoa(code)
		}
		st.CloseCodes[name] += c
		st.Closes += c
	}
	for reason, c := range src.Refusals(t) {
		if c != 0 {
			st.Refusals[reason] = c
			st.Refused += c
		}
	}
	return st
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// PublishStatus samples the counters every Options.HistoryEvery into the
// console's window and publishes them to StatusChannel, until ctx ends.
// Run it on one goroutine, only while the console is served: with nobody
// looking it costs a publish a second to a channel without subscribers.
func (p *Ops) PublishStatus(ctx context.Context) {
	t := time.NewTicker(p.o.HistoryEvery)
	defer t.Stop()
	p.tick(ctx) // the window starts at once
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.tick(ctx)
		}
	}
}

// probeEvery is how often PublishStatus probes the hub for the console's
// latency chart; the watchdog's and the broker watch's probes count too.
const probeEvery = 5

func (p *Ops) tick(ctx context.Context) {
	if p.ticks++; p.ticks%probeEvery == 1 {
		// Before the snapshot: the probe's session is gone when it returns,
		// so the numbers sampled never include it.
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		if err := p.ProbeHub(pctx); err != nil && ctx.Err() == nil {
			p.log.Debug("hub probe failed", zap.Error(err))
		}
		cancel()
	}
	st := p.snapshot()
	p.history.add(st.Sample)
	b, _ := json.Marshal(st)
	if err := p.o.Node.PublishReserved(ctx, StatusChannel, "status", b); err != nil && ctx.Err() == nil {
		p.log.Debug("status event not published", zap.Error(err))
	}
}
