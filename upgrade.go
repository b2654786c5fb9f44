package fanoutd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fanoutd/fanoutd/handoff"
	"go.uber.org/zap"
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

// EnvListeners names, in the new process's environment, the listeners an
// upgrade passes and their descriptors: "ws=4,publish=5,metrics=6".
const EnvListeners = "FANOUTD_HANDOFF_LISTENERS"

// Upgrade hands every connection to a new process started from o (the
// classic binary upgrade): the new binary starts with the listeners
// inherited, says it can take over, receives every WebSocket and the
// state behind it, and serves; then this Server stops serving and Run
// returns nil. Nothing is closed and nothing is refused: publishes that
// arrive meanwhile wait in the listen backlog. If the new process fails
// to start, refuses the image or does not take over within
// handoff.timeout, it is stopped and this Server carries on serving
// everyone; the error says why.
func (s *Server) Upgrade(ctx context.Context, o UpgradeOptions) (HandOffReport, error) {
	rep, err := s.upgrade(ctx, o)
	if err != nil {
		s.handOffStat.Store(&HandOffStatus{LastError: err.Error(), At: s.now()})
		s.log.Warn("upgrade failed: this process serves on", zap.Error(err))
	}
	return rep, err
}

func (s *Server) upgrade(ctx context.Context, o UpgradeOptions) (HandOffReport, error) {
	if !s.live.Load().HandOff.Enabled {
		return HandOffReport{}, ErrHandOffDisabled
	}
	ctx, cancel := context.WithTimeout(ctx, s.live.Load().HandOff.Timeout)
	defer cancel()
	lns, err := s.HandOffListeners()
	if err != nil {
		return HandOffReport{}, err
	}
	co := handoff.ChildOptions{Path: o.Path, Args: o.Args, Env: o.Env, Stdout: o.Stdout, Stderr: o.Stderr}
	if co.Env == nil {
		co.Env = os.Environ()
	}
	if co.Stdout == nil {
		co.Stdout = os.Stdout
	}
	if co.Stderr == nil {
		co.Stderr = os.Stderr
	}
	var spec []string
	for _, name := range []string{ListenerWS, ListenerPublish, ListenerMetrics} {
		if f := lns[name]; f != nil {
			spec = append(spec, fmt.Sprintf("%s=%d", name, handoff.ChildFD(len(co.ExtraFiles))))
			co.ExtraFiles = append(co.ExtraFiles, f)
		}
	}
	co.Env = append(co.Env, EnvListeners+"="+strings.Join(spec, ","))
	child, err := handoff.StartChild(ctx, co)
	for _, f := range lns {
		_ = f.Close() // the child has its own
	}
	if err != nil {
		return HandOffReport{}, fmt.Errorf("start %s: %w", o.Path, err)
	}
	if _, err := child.WaitHello(ctx); err != nil {
		child.Abort()
		return HandOffReport{}, fmt.Errorf("the new process did not start: %w", err)
	}
	return s.handOff(ctx, upgradeRoute{child})
}

// upgradeRoute hands over to a child process (Upgrade).
type upgradeRoute struct{ c *handoff.Child }

func (r upgradeRoute) send(ctx context.Context, b handoff.Bundle) error {
	if err := r.c.Send(ctx, b); err != nil {
		return err
	}
	return r.c.WaitReady(ctx)
}

func (r upgradeRoute) commit(context.Context) error { return r.c.Commit() }
func (r upgradeRoute) abort()                       { r.c.Abort() }
func (r upgradeRoute) pid() int                     { return r.c.Pid() }

// FDStore is a service manager's file-descriptor store (systemd's
// FDSTORE=1): a stopping Server hands its connections there for the next
// start of the service instead of draining them.
type FDStore struct {
	// Socket is $NOTIFY_SOCKET.
	Socket string
	// Max is how many descriptors the store holds: $FDSTORE (systemd 254
	// and later) or the unit's FileDescriptorStoreMax= as
	// handoff.fdstore_max says.
	Max int
}

// storeRoute hands over to the service manager's store (Options.FDStore):
// the connections, the image and the listeners this Server bound itself
// (those the manager passed, it still holds).
type storeRoute struct {
	s     *Server
	store FDStore
}

func (r storeRoute) send(ctx context.Context, b handoff.Bundle) error {
	lns, err := r.s.HandOffListeners()
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range lns {
			_ = f.Close()
		}
	}()
	named := map[string]*os.File{}
	if r.s.ownWS {
		named["websocket"] = lns[ListenerWS]
	}
	if r.s.ownSocket && lns[ListenerPublish] != nil {
		named["publish"] = lns[ListenerPublish]
	}
	if need := len(b.Files) + len(named) + 1; need > r.store.Max {
		return fmt.Errorf("the service manager's descriptor store holds %d, %d needed: raise FileDescriptorStoreMax= (and handoff.fdstore_max)",
			r.store.Max, need)
	}
	return handoff.Store(r.store.Socket, b, named)
}

func (r storeRoute) commit(context.Context) error { return nil }
func (r storeRoute) abort()                       { _ = handoff.ClearStore(r.store.Socket) }
func (r storeRoute) pid() int                     { return 0 }
