package loadgen

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

// WriteTable writes the report for people: one aligned line per figure.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, a ...any) {
		_, _ = fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{name}, a...)...)
	}
	if r.Label != "" {
		row("label", "%s", r.Label)
	}
	row("setup", "%d conns, %d channels, %d procs, %d source IPs", r.Conns, r.Channels, r.Procs, r.SourceIPs)
	row("load", "%g events/s × %.0fs, batch %d, payload %d B (%s)", r.Rate, r.DurationSeconds, r.Batch, r.PayloadBytes, r.PayloadStyle)
	if r.SubscribeInURL {
		row("subscribe", "at connect: channels in the upgrade URL (Centrifugo: connect subs), no subscribe commands")
	}
	if r.Deflate {
		row("deflate", "offered; %d conns negotiated it, %d events compressed", r.Daemon.DeflateConns, r.Daemon.CompressedEvents)
	}
	row("connect", "%d ok, %d failed in %.2fs (%.0f conns/s)", r.Connected, r.ConnectFailures, r.ConnectSeconds, r.ConnectRate)
	counts(row, "  connect error", r.ConnectErrors)
	row("published", "%d of %d target, %d accepted, in %.2fs (%.0f events/s)",
		r.Published, r.TargetEvents, r.Accepted, r.PublishSeconds, r.PublishRate)
	counts(row, "  publish error", r.PublishErrors)
	if r.FellBehind() && !r.Interrupted {
		row("  WARNING", "the publisher fell behind the target rate: raise --batch")
	}
	row("deliveries", "%d received of %d expected, lost %d, drain %.2fs", r.Received, r.Expected, r.Lost, r.DrainSeconds)
	row("delivery rate", "%.0f /s", r.DeliveryRate)
	row("disconnects", "%d", r.Disconnects)
	counts(row, "  reason", r.DisconnectReasons)
	if r.OutOfOrder > 0 {
		row("out of order", "%d", r.OutOfOrder)
	}
	l := r.Latency
	row("latency ms", "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f", l.P50, l.P90, l.P99, l.P999, l.Max)
	r.daemonRows(row)
	g := r.Generator
	row("generator cpu", "%.2fs total, %.2fs in the window (publisher %.2fs)",
		r.GeneratorCPUSeconds, g.WindowCPUSeconds, g.PublisherCPUSeconds)
	row("generator rss", "%s (%s/conn), peak %s", mib(g.WorkerRSSBytes), kib(g.WorkerRSSPerConn), mib(g.WorkerPeakRSSBytes))
	if r.Interrupted {
		row("INTERRUPTED", "partial results")
	}
	for _, e := range r.Errors {
		row("error", "%s", e)
	}
	return tw.Flush()
}

func (r *Report) daemonRows(row func(string, string, ...any)) {
	d := r.Daemon
	row("daemon pid", "%d", d.PID)
	if d.ProcError != "" {
		row("daemon /proc", "%s", d.ProcError)
	}
	row("wire bytes", "%.1f per delivery", d.BytesOutPerDelivery)
	row("daemon rss", "%s before, %s connected, %s per conn; %s at the end, %s per conn",
		mib(d.RSSBeforeBytes), mib(d.RSSAfterConnectBytes), kib(d.RSSPerConnBytes),
		mib(d.RSSEndBytes), kib(d.RSSPerConnEndBytes))
	row("daemon threads", "%d (goroutines %d, connections %d)", d.Threads, d.Goroutines, d.Connections)
	row("daemon cpu", "%.3fs = %.6fs per 1k deliveries = %.3fs per 1M (delivered %d)",
		d.CPUSeconds, d.CPUSecondsPer1kDeliveries, d.CPUSecondsPer1mDeliveries, d.Delivered)
}

func counts(row func(string, string, ...any), name string, m map[string]int64) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		row(name, "%d × %s", m[k], k)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func kib(b int64) string { return fmt.Sprintf("%.2f KiB", float64(b)/(1<<10)) }
