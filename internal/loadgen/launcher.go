package loadgen

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// Launcher starts worker processes. Run calls Launch once per worker, from
// one goroutine, before any worker is told to stop.
type Launcher interface {
	// Launch starts worker id, which must run RunWorker on the returned
	// Worker's Stdin and Stdout.
	Launch(ctx context.Context, id int) (Worker, error)
}

// Worker is one started worker as the parent sees it.
type Worker interface {
	// Stdin carries the Spec line and then "stop"; Run closes it after stop.
	Stdin() io.WriteCloser
	// Stdout carries the worker's JSON lines until it exits.
	Stdout() io.Reader
	// Wait is called once Stdout has ended; it reaps the worker and
	// returns the CPU time it used (0 when unknown).
	Wait() (time.Duration, error)
	// Kill ends a worker that does not finish in time; Wait still follows.
	Kill()
}

// ExecLauncher runs each worker as a child process: Command builds the
// command for worker id (typically the generator's own binary, from
// os.Executable, with its hidden worker flag). Stderr, if set, receives the
// workers' stderr.
type ExecLauncher struct {
	Command func(id int) *exec.Cmd
	Stderr  io.Writer
}

var _ Launcher = ExecLauncher{}

// Launch starts the command in its own process group, so a Ctrl-C at the
// terminal reaches only the parent, which then stops the workers in order
// and still reports.
func (l ExecLauncher) Launch(_ context.Context, id int) (Worker, error) {
	cmd := l.Command(id)
	cmd.Stderr = l.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("worker %d stdin: %w", id, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("worker %d stdout: %w", id, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker %d: %w", id, err)
	}
	return &execWorker{cmd: cmd, in: in, out: out}, nil
}

type execWorker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.Reader
}

func (w *execWorker) Stdin() io.WriteCloser { return w.in }
func (w *execWorker) Stdout() io.Reader     { return w.out }
func (w *execWorker) Kill()                 { _ = w.cmd.Process.Kill() }

func (w *execWorker) Wait() (time.Duration, error) {
	err := w.cmd.Wait()
	var cpu time.Duration
	if st := w.cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	if err != nil {
		return cpu, fmt.Errorf("%w: process: %w", ErrWorker, err)
	}
	return cpu, nil
}
