package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fanoutd/fanoutd/daemon/jwtauth"
)

// Options are the parts of a run that are not measurements: how workers
// start, where progress goes, and the clock.
type Options struct {
	// Launcher starts the worker processes; required.
	Launcher Launcher
	// Progress receives a status line every second; nil means none.
	Progress io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ProgressEvery is the interval of progress lines; zero means 1 s.
	ProgressEvery time.Duration
}

// stopGrace bounds how long workers may take to send their final report
// after "stop" before they are killed.
const stopGrace = 30 * time.Second

// Run performs one load run against the daemon at cfg.URL / cfg.Socket and
// returns its report. A report is returned whenever workers were started,
// also when ctx ends early (Interrupted) or something failed (the error,
// also listed in Report.Errors); the error alone when nothing could start.
func Run(ctx context.Context, cfg Config, o Options) (*Report, error) {
	cfg = cfg.Resolve()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Launcher == nil {
		return nil, fmt.Errorf("%w: no worker launcher", ErrConfig)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	target, _ := ParseTarget(cfg.URL) // validated above
	r := &run{cfg: cfg, o: o, target: target, api: newServerAPI(cfg), fleet: newFleet()}
	defer r.api.close()
	r.rep = r.newReport()
	return r.run(ctx)
}

// run is one run's state; all of it belongs to the goroutine in Run,
// except the publisher's atomics.
type run struct {
	cfg    Config
	o      Options
	target Target
	api    serverAPI
	fleet  *fleet
	rep    *Report
	daemon Proc
	token  string
	subs   *Subscribers
	pub    *publisher

	selfCPU0 float64
}

func (r *run) run(ctx context.Context) (*Report, error) {
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	err := r.launch(ctx)
	if err == nil {
		err = r.connect(ctx)
	}
	if err == nil {
		r.measureConnected(ctx)
		err = r.publishAndDrain(ctx)
	}
	workerCPU := r.fleet.stop(stopGrace)
	r.finish(workerCPU)
	if errors.Is(err, context.Canceled) {
		r.rep.Interrupted, err = true, nil
	}
	err = errors.Join(err, r.fleet.errs())
	if err != nil {
		r.rep.Errors = append(r.rep.Errors, err.Error())
	}
	return r.rep, err
}

// prepare gets a token, finds the daemon through its stats and reads its
// memory before any connection exists.
func (r *run) prepare(ctx context.Context) error {
	r.selfCPU0, _ = Proc{}.CPUSeconds()
	r.token = r.cfg.Token
	if r.token == "" {
		tok, err := r.mint()
		if err != nil {
			return fmt.Errorf("mint token: %w", err)
		}
		r.token = tok
	}
	st, err := r.api.stats(ctx)
	if err != nil && !errors.Is(err, errNoStats) {
		return fmt.Errorf("is the daemon running? %w", err)
	}
	r.rep.Daemon.PID = r.cfg.PID
	if r.rep.Daemon.PID == 0 {
		r.rep.Daemon.PID = st.PID
	}
	if r.rep.Daemon.PID == 0 {
		r.rep.Daemon.ProcError = "daemon pid unknown (no \"pid\" in /v1/stats, or no stats): pass --pid"
		return nil
	}
	r.daemon = Proc{PID: r.rep.Daemon.PID}
	ps, err := r.daemon.Status()
	if err != nil {
		r.rep.Daemon.ProcError = err.Error()
		return nil
	}
	r.rep.Daemon.RSSBeforeBytes = ps.RSSBytes
	return nil
}

// mint signs a token for the run's protocol, valid for the whole run.
func (r *run) mint() (string, error) {
	ttl := r.cfg.ConnectTimeout + r.cfg.Duration + r.cfg.Drain + 10*time.Minute
	if r.cfg.Protocol == ProtocolCentrifugo {
		return mintCentrifugoToken([]byte(r.cfg.Secret), ttl, r.o.Now())
	}
	return jwtauth.Mint([]byte(r.cfg.Secret), "fanout-bench", []string{ChannelPrefix + "*"}, ttl, r.o.Now())
}

// newServerAPI is the publish (and stats) API of cfg's protocol.
func newServerAPI(cfg Config) serverAPI {
	if cfg.Protocol == ProtocolCentrifugo {
		return newCentrifugoAPI(strings.TrimRight(cfg.APIURL, "/"), cfg.APIKey, cfg.Batch)
	}
	return newAPIClient(cfg.Socket)
}

// launch starts the workers and hands each its Spec.
func (r *run) launch(ctx context.Context) error {
	c := r.cfg
	lifetime := c.ConnectTimeout + c.Duration + c.Drain + 2*stopGrace
	for id := range c.Procs {
		first, count := ProcRange(c.Conns, c.Procs, id)
		w, err := r.o.Launcher.Launch(ctx, id)
		if err != nil {
			return err
		}
		r.fleet.add(w)
		spec := Spec{
			Worker: id, Target: r.target, Token: r.token, First: first, Count: count,
			Channels: c.Channels, SourceIPs: c.SourceIPs,
			ConnectRate:        c.ConnectRate / float64(c.Procs),
			ConnectConcurrency: max(1, c.ConnectConcurrency/c.Procs),
			ConnectTimeout:     c.ConnectTimeout,
			HandshakeTimeout:   10 * time.Second,
			ReadBuffer:         readBufferFor(c.Payload),
			Lifetime:           lifetime,
			ProgressEvery:      250 * time.Millisecond,
			Deflate:            c.Deflate,
			Protocol:           c.Protocol,
			SubscribeInURL:     c.SubscribeInURL,
		}
		if err := newLineWriter(w.Stdin()).write(spec); err != nil {
			return fmt.Errorf("%w: worker %d: send spec: %w", ErrWorker, id, err)
		}
	}
	return nil
}

// readBufferFor sizes a connection's reader so one event frame fits (the
// zero-copy path of frameReader) with room for a few more: the payload plus
// 512 bytes, rounded up to a power of two, 1 KiB to 64 KiB.
func readBufferFor(payload int) int {
	n := 1024
	for n < payload+512 && n < 64<<10 {
		n *= 2
	}
	return n
}

func (r *run) progress(format string, a ...any) {
	_, _ = fmt.Fprintf(r.o.Progress, format+"\n", a...)
}

func (r *run) newReport() *Report {
	c := r.cfg
	return &Report{
		Label: c.Label, Conns: c.Conns, Channels: c.Channels, Procs: c.Procs, SourceIPs: c.SourceIPs,
		Rate: c.Rate, Batch: c.Batch, PayloadBytes: c.Payload, DurationSeconds: c.Duration.Seconds(),
		Deflate: c.Deflate, PayloadStyle: c.PayloadStyle, SubscribeInURL: c.SubscribeInURL,
		TargetEvents: Pacer{Rate: c.Rate, Duration: c.Duration}.Total(),
	}
}
