package fanoutd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/fanoutd/fanoutd/handoff"
)

// UpgradeOptions say which binary an upgrade starts.
type UpgradeOptions struct {
	// Path of the new binary; its Args (without the program name) and
	// Env (nil: this process's environment) are how it is started.
	Path string
	Args []string
	Env  []string
	// Stdout and Stderr of the new process; nil: this process's.
	Stdout, Stderr io.Writer
}

// Upgrade hands every connection to a new process started from o (the
// classic binary upgrade), in two steps over the hand-off socket:
//  1. the new process starts and says hello; it is sent the listeners and
//     builds its Server on them (broker links, keys) while this one
//     serves on, and says ready;
//  2. this Server hands over (handOff): every WebSocket and the state
//     behind it; the new process restores it, says ready again, and
//     serves once this one commits.
//
// Then Run returns nil. Nothing is closed and nothing is refused:
// publishes that arrive meanwhile wait in the listen backlog. If the new
// process fails to start, refuses the image or does not take over within
// handoff.timeout, it is stopped and this Server carries on serving
// everyone; the error says why (and Stats' handoff.last_error).
//
// The new process takes the listeners and then the rest with
// handoff.Inherited, New on the listeners and TakeOver (cmd/fanoutd's
// handoff.go is the model).
func (s *Server) Upgrade(ctx context.Context, o UpgradeOptions) (HandOffReport, error) {
	if !s.live.Load().HandOff.Enabled { // before starting anything
		return HandOffReport{}, s.handOffFailed(ErrHandOffDisabled)
	}
	ctx, cancel := context.WithTimeout(ctx, s.live.Load().HandOff.Timeout)
	defer cancel()
	co := handoff.ChildOptions{Path: o.Path, Args: o.Args, Env: o.Env, Stdout: o.Stdout, Stderr: o.Stderr,
		Log: s.log.Named("handoff")}
	if co.Stdout == nil {
		co.Stdout = os.Stdout
	}
	if co.Stderr == nil {
		co.Stderr = os.Stderr
	}
	child, err := handoff.StartChild(ctx, co)
	if err != nil {
		return HandOffReport{}, s.handOffFailed(err)
	}
	lns, err := s.listenerBundle(func(string) bool { return true })
	if err == nil {
		_, err = child.WaitHello(ctx)
		if err != nil {
			err = fmt.Errorf("the new process did not start: %w", err)
		}
	}
	if err == nil {
		err = child.Send(ctx, lns)
	}
	if err == nil {
		err = child.WaitReady(ctx)
	}
	if err != nil {
		child.Abort()
		return HandOffReport{}, s.handOffFailed(err)
	}
	return s.handOff(ctx, upgradeRoute{c: child, notify: s.notify})
}

// upgradeRoute hands over to a child process (Upgrade).
type upgradeRoute struct {
	c      *handoff.Child
	notify Notifier
}

func (r upgradeRoute) send(ctx context.Context, b handoff.Bundle) error {
	if err := r.c.Send(ctx, b); err != nil {
		return err
	}
	return r.c.WaitReady(ctx)
}

func (r upgradeRoute) commit(context.Context) error {
	if err := r.c.Commit(); err != nil {
		return err
	}
	if m, ok := r.notify.(mainPIDNotifier); ok {
		_ = m.MainPID(r.c.Pid()) // under a service manager, the new process is the service now
	}
	return nil
}

func (r upgradeRoute) abort()   { r.c.Abort() }
func (r upgradeRoute) pid() int { return r.c.Pid() }

// mainPIDNotifier is a Notifier that can name the service's new main
// process (*systemd.Notifier: MAINPID=).
type mainPIDNotifier interface{ MainPID(pid int) error }

// FDStore is a service manager's file-descriptor store (systemd's
// FDSTORE=1): a stopping Server hands its connections there for the next
// start of the service instead of draining them.
type FDStore struct {
	// Socket is $NOTIFY_SOCKET.
	Socket string
	// Max is how many descriptors the store holds: $FDSTORE (systemd 254
	// and later); 0 when unknown, and then handoff.fdstore_max says.
	Max int
}

// storeRoute hands over to the service manager's store (Options.FDStore):
// the connections, the image, and the listeners this Server bound itself
// (those the manager passed, it holds already).
type storeRoute struct {
	s     *Server
	store FDStore
	sent  *bool // send began: abort clears what it may have stored
}

func (r storeRoute) getenv(key string) string {
	switch key {
	case "NOTIFY_SOCKET":
		return r.store.Socket
	case "FDSTORE":
		if m := max(r.store.Max, r.s.live.Load().HandOff.FDStoreMax); m > 0 {
			return strconv.Itoa(m)
		}
	}
	return ""
}

// fits says whether the store can take every connection, the listeners
// and the image, before anything is frozen.
func (r storeRoute) fits() error {
	m, _ := strconv.Atoi(r.getenv("FDSTORE"))
	if m == 0 {
		return fmt.Errorf("%w: its size is unknown (systemd before 254 does not pass $FDSTORE): set handoff.fdstore_max to the unit's FileDescriptorStoreMax=",
			handoff.ErrStoreTooSmall)
	}
	if need := r.s.ws.Conns() + 3; need > m {
		return fmt.Errorf("%w: it holds %d descriptors, %d connections and the listeners need %d: raise FileDescriptorStoreMax= (and handoff.fdstore_max)",
			handoff.ErrStoreTooSmall, m, r.s.ws.Conns(), need)
	}
	return nil
}

func (r storeRoute) send(_ context.Context, b handoff.Bundle) error {
	*r.sent = true
	lns, err := r.s.listenerBundle(func(name string) bool {
		return name == ListenerWS && r.s.ownWS || name == ListenerPublish && r.s.ownSocket
	})
	if err != nil {
		return err
	}
	b.Files = append(lns.Files, b.Files...)
	b.Names = append(lns.Names, b.Names...)
	return handoff.Store(r.getenv, b)
}

func (r storeRoute) commit(context.Context) error { return nil }
func (r storeRoute) pid() int                     { return 0 }

func (r storeRoute) abort() {
	if *r.sent {
		_ = handoff.ClearStore(r.getenv, ListenerWS, ListenerPublish)
	}
}
