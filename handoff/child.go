package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// EnvFD is the environment variable through which StartChild tells the new
// process which inherited descriptor is its hand-off socket.
const EnvFD = "FANOUTD_HANDOFF_FD"

// Hello is the new process's first word: it runs, and it can take over.
type Hello struct {
	// Pid is the new process's; Parent.Hello fills it when zero.
	Pid int `json:"pid"`
	// Version is the new binary's version, for the old one's log.
	Version string `json:"version"`
	// Images lists the image versions the new binary reads.
	Images []int `json:"images"`
}

// Reads reports whether the new binary reads image version v.
func (h Hello) Reads(v int) bool {
	for _, x := range h.Images {
		if x == v {
			return true
		}
	}
	return false
}

// ChildOptions configure StartChild.
type ChildOptions struct {
	// Path is the new binary. Required.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env is the new process's environment; nil means this process's.
	// Any EnvFD in it is replaced.
	Env []string
	// Stdout and Stderr of the new process; nil means /dev/null.
	Stdout, Stderr io.Writer
	// ExtraFiles are inherited at descriptors 3, 4, …; the hand-off socket
	// comes after them. Prefer passing sockets in the Bundle: a File from
	// net.Conn.File or net.Listener.File turns the shared socket blocking
	// when exec reads its Fd, in this process too.
	ExtraFiles []*os.File
	// AbortGrace is how long Abort waits for the new process to exit
	// before killing it; zero means 5 s.
	AbortGrace time.Duration
	// Log gets the hand-off's own events (a refusal, a kill); nil means
	// none.
	Log *zap.Logger
}

// Child is the old process's handle on the new one. Its methods are called
// in order (WaitHello, Send, WaitReady, Commit, WaitServing) from one
// goroutine; Abort and Pid may be called from any goroutine at any time.
type Child struct {
	w      *wire
	cmd    *exec.Cmd
	grace  time.Duration
	log    *zap.Logger
	exited chan struct{} // closed once the process is reaped
	status error         // cmd.Wait's result, set before exited closes

	mu        sync.Mutex
	committed bool
	aborted   bool
}

// StartChild starts the new binary with one end of a SOCK_SEQPACKET
// socket pair inherited and named by EnvFD, and returns once it runs (not
// once it said hello: see WaitHello). ctx bounds the start only: the new
// process outlives it, and ends by itself or by Abort.
func StartChild(ctx context.Context, o ChildOptions) (*Child, error) {
	if o.Path == "" {
		return nil, errors.New("handoff: ChildOptions.Path is empty")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("handoff: socketpair: %w", err)
	}
	w, err := newWire(fds[0])
	if err != nil {
		_ = unix.Close(fds[1])
		return nil, err
	}
	theirs := os.NewFile(uintptr(fds[1]), "handoff-child")
	defer func() { _ = theirs.Close() }() // the child's copy is all that must remain
	if err := ctx.Err(); err != nil {
		_ = w.close()
		return nil, fmt.Errorf("handoff: start %s: %w", o.Path, err)
	}
	cmd := exec.Command(o.Path, o.Args...)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	cmd.ExtraFiles = append(append([]*os.File(nil), o.ExtraFiles...), theirs)
	cmd.Env = childEnv(o.Env, 3+len(o.ExtraFiles))
	if err := cmd.Start(); err != nil {
		_ = w.close()
		return nil, fmt.Errorf("handoff: start %s: %w", o.Path, err)
	}
	c := &Child{w: w, cmd: cmd, grace: o.AbortGrace, log: o.Log, exited: make(chan struct{})}
	if c.grace <= 0 {
		c.grace = 5 * time.Second
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	go func() {
		c.status = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func childEnv(env []string, fd int) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvFD+"=") {
			out = append(out, kv)
		}
	}
	return append(out, EnvFD+"="+strconv.Itoa(fd))
}

// Pid is the new process's id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// WaitHello waits for the new process's Hello. It fails with ErrChildExited
// as soon as the process exits, with a *RefusedError when it refuses, and
// with ctx's error at ctx's end.
func (c *Child) WaitHello(ctx context.Context) (Hello, error) {
	var h Hello
	p, err := c.expect(ctx, kindHello)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(p, &h); err != nil {
		return h, fmt.Errorf("%w: hello: %v", ErrProtocol, err)
	}
	return h, nil
}

// Send passes the bundle: a header, the descriptors in batches of at most
// 253 per sendmsg (SCM_RIGHTS) with their names, then the image in chunks.
// This process keeps its copies of the descriptors; it closes them after
// Commit (never shutdown(2), which would end the connection for the new
// process too), or keeps serving them after Abort.
func (c *Child) Send(ctx context.Context, b Bundle) error {
	for i := range b.Files {
		if err := validName(b.Name(i)); err != nil {
			return err
		}
	}
	if err := c.w.sendJSON(ctx, kindHeader, bundleHeader{Files: len(b.Files), Image: len(b.Image)}, nil); err != nil {
		return c.sendErr("header", err)
	}
	for i := 0; i < len(b.Files); i += maxFDsPerMsg {
		end := min(i+maxFDsPerMsg, len(b.Files))
		names := make([]string, 0, end-i)
		for j := i; j < end; j++ {
			names = append(names, b.Name(j))
		}
		if err := c.w.sendJSON(ctx, kindFiles, names, b.Files[i:end]); err != nil {
			return c.sendErr(fmt.Sprintf("descriptors %d-%d", i, end-1), err)
		}
	}
	for i := 0; i < len(b.Image); i += imageChunk {
		if err := c.w.send(ctx, kindImage, b.Image[i:min(i+imageChunk, len(b.Image))], nil); err != nil {
			return c.sendErr("image", err)
		}
	}
	if err := c.w.send(ctx, kindEnd, nil, nil); err != nil {
		return c.sendErr("end", err)
	}
	return nil
}

// WaitReady waits until the new process has decoded the image and
// registered every descriptor, without serving any. A refusal is a
// *RefusedError (logged with its reason): call Abort and carry on.
func (c *Child) WaitReady(ctx context.Context) error {
	_, err := c.expect(ctx, kindReady)
	return err
}

// Commit is the point of no return: once it returns nil the new process
// may serve, and this one must stop reading and writing every handed-off
// socket and close its copies. When it fails, the new process did not get
// the word: Abort it and carry on serving.
func (c *Child) Commit() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		return fmt.Errorf("%w: commit after abort", ErrProtocol)
	}
	if err := c.w.sendNow(kindCommit, nil); err != nil {
		return c.sendErr("commit", err)
	}
	c.committed = true
	return nil
}

// WaitServing waits for the new process's confirmation that it serves,
// then closes the hand-off socket. Optional: the hand-off is complete at
// Commit.
func (c *Child) WaitServing(ctx context.Context) error {
	_, err := c.expect(ctx, kindServing)
	_ = c.w.close()
	return err
}

// Abort, before Commit, tells the new process to exit without touching any
// socket, waits AbortGrace for it to exit and kills it otherwise; it
// returns once the process is gone. After Commit it only releases the
// hand-off socket. Safe to call more than once, from any goroutine.
func (c *Child) Abort() {
	c.mu.Lock()
	committed, again := c.committed, c.aborted
	c.aborted = true
	c.mu.Unlock()
	if committed || again {
		_ = c.w.close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = c.w.send(ctx, kindAbort, nil, nil) // fails when the process is gone already
	cancel()
	_ = c.w.close()
	select {
	case <-c.exited:
		return
	case <-time.After(c.grace):
	}
	c.log.Warn("handoff: new process did not exit after abort, killing it", zap.Int("pid", c.Pid()), zap.Duration("grace", c.grace))
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// Exited is closed once the new process has exited and been reaped; Err
// then says how.
func (c *Child) Exited() <-chan struct{} { return c.exited }

// Err is the new process's exit status (cmd.Wait's error) once Exited is
// closed, nil before.
func (c *Child) Err() error {
	select {
	case <-c.exited:
		return c.status
	default:
		return nil
	}
}

// expect reads the next message and wants it to be of kind want.
func (c *Child) expect(ctx context.Context, want byte) ([]byte, error) {
	kind, p, fds, err := c.w.recv(ctx)
	closeAll(fds) // the new process never sends descriptors
	switch {
	case errors.Is(err, io.EOF):
		return nil, c.exitErr()
	case err != nil:
		return nil, err
	case kind == kindRefuse:
		reason := string(p)
		c.log.Warn("handoff: the new process refused the hand-off", zap.Int("pid", c.Pid()), zap.String("reason", reason))
		return nil, &RefusedError{Reason: reason}
	case kind != want:
		return nil, fmt.Errorf("%w: got message %q, want %q", ErrProtocol, kind, want)
	}
	return p, nil
}

// exitErr describes the new process's end, waiting briefly for its status
// (its socket closes a moment before it is reaped).
func (c *Child) exitErr() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%w (pid %d): %v", ErrChildExited, c.Pid(), exitStatus(c.status))
	case <-time.After(time.Second):
		return fmt.Errorf("%w (pid %d): closed the hand-off socket", ErrChildExited, c.Pid())
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// sendErr turns a broken pipe into ErrChildExited.
func (c *Child) sendErr(what string, err error) error {
	if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		return fmt.Errorf("sending %s: %w", what, c.exitErr())
	}
	return fmt.Errorf("handoff: sending %s: %w", what, err)
}
