package loadgen

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/daemontest"
)

const testSecret = "loadgen-test-secret-0123456789-abcdef"

// testDaemon is a real fanoutd in this process (see internal/daemontest).
type testDaemon struct{ *daemontest.Daemon }

func startDaemon(t *testing.T, mutate ...func(*config.Config)) *testDaemon {
	t.Helper()
	return &testDaemon{daemontest.Start(t, testSecret, mutate...)}
}

func (d *testDaemon) config(conns, procs, channels int, rate float64, dur time.Duration) Config {
	c := DefaultConfig()
	c.URL, c.Socket, c.Secret = d.URL, d.Socket, testSecret
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
