package loadgen

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/config"
)

const testSecret = "loadgen-test-secret-0123456789-abcdef"

// testDaemon is a real fanoutd in this process, stopped at cleanup (or
// earlier by stop).
type testDaemon struct {
	url, socket string
	srv         *fanoutd.Server
	stop        func()
}

func startDaemon(t *testing.T, mutate ...func(*config.Config)) *testDaemon {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Socket = filepath.Join(t.TempDir(), "fanoutd.sock")
	cfg.Auth.HMACSecret = testSecret
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := fanoutd.New(fanoutd.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &testDaemon{url: "ws://" + srv.Addr().String() + cfg.WSPath, socket: cfg.Socket, srv: srv, stop: stop}
}

func (d *testDaemon) config(conns, procs, channels int, rate float64, dur time.Duration) Config {
	c := DefaultConfig()
	c.URL, c.Socket, c.Secret = d.url, d.socket, testSecret
	c.Conns, c.Procs, c.Channels, c.Rate, c.Duration = conns, procs, channels, rate, dur
	c.Drain = 3 * time.Second
	c.ConnectTimeout = 20 * time.Second
	return c
}

// execLauncher runs workers as real processes: this test binary, which
// TestMain turns into a worker when workerEnv is set.
func execLauncher() Launcher {
	return ExecLauncher{
		Command: func(int) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), workerEnv+"=1")
			return cmd
		},
		Stderr: os.Stderr,
	}
}

// pipeLauncher runs workers as goroutines over pipes: the whole run in one
// process, so the race detector and goleak see both sides.
type pipeLauncher struct{}

func (pipeLauncher) Launch(_ context.Context, _ int) (Worker, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	w := &pipeWorker{in: inW, out: outR, done: make(chan error, 1), inR: inR, outW: outW}
	go func() {
		err := RunWorker(context.Background(), inR, outW)
		_ = outW.Close()
		w.done <- err
	}()
	return w, nil
}

type pipeWorker struct {
	in   *io.PipeWriter
	out  *io.PipeReader
	inR  *io.PipeReader
	outW *io.PipeWriter
	done chan error
}

func (w *pipeWorker) Stdin() io.WriteCloser { return w.in }
func (w *pipeWorker) Stdout() io.Reader     { return w.out }
func (w *pipeWorker) Kill() {
	_ = w.inR.Close()
	_ = w.outW.CloseWithError(io.ErrClosedPipe)
}
func (w *pipeWorker) Wait() (time.Duration, error) {
	err := <-w.done
	_ = w.inR.Close() // the worker's stdin reader may still wait for EOF
	return 0, err
}

// logWriter sends progress lines to the test log.
type logWriter struct{ t *testing.T }

func (l logWriter) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
