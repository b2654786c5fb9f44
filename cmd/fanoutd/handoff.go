package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/ipc"
	"go.uber.org/zap"
)

// inheritance is what a starting daemon takes over from the process before
// it: nil when it starts afresh.
type inheritance struct {
	// parent is the old process of an upgrade (fanoutd upgrade, SIGUSR2),
	// which waits for this one to take over.
	parent *handoff.Parent
	// listeners are the sockets passed (an upgrade's first bundle, or what
	// the previous run stored), by name (fanoutd.ListenerWS…).
	listeners map[string]int
	// stored is the rest of what a previous run left in the service
	// manager's descriptor store (systemctl restart): connections, image.
	stored *handoff.Bundle
}

// handOffWait bounds a new process's wait for each step of the old one.
const handOffWait = 2 * time.Minute

// inherit finds the hand-off this process starts into, if any: from an
// upgrade, it says hello and receives the listeners (the connections come
// once its Server is built: takeOver).
func inherit(ctx context.Context, getenv func(string) string) (*inheritance, error) {
	p, err := handoff.Inherited(getenv)
	if err != nil {
		return nil, err
	}
	if p != nil {
		if err := p.Hello(handoff.Hello{Version: currentBuild().Version, Images: []int{handoff.Version}}); err != nil {
			return nil, fmt.Errorf("hand-off: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, handOffWait)
		defer cancel()
		b, err := p.Receive(ctx)
		if err != nil {
			return nil, fmt.Errorf("hand-off: receiving the listeners: %w", err)
		}
		in := &inheritance{parent: p}
		in.listeners, _ = splitListeners(b)
		return in, nil
	}
	b, err := handoff.Restore(getenv)
	if err != nil || b == nil {
		return nil, err
	}
	in := &inheritance{}
	var rest handoff.Bundle
	in.listeners, rest = splitListeners(*b)
	rest.Image = b.Image
	in.stored = &rest
	return in, nil
}

// splitListeners takes the listeners out of a bundle, by name.
func splitListeners(b handoff.Bundle) (map[string]int, handoff.Bundle) {
	lns := map[string]int{}
	var rest handoff.Bundle
	for i, fd := range b.Files {
		switch name := b.Name(i); name {
		case fanoutd.ListenerWS, fanoutd.ListenerPublish, fanoutd.ListenerMetrics:
			lns[name] = fd
		default:
			rest.Files = append(rest.Files, fd)
			rest.Names = append(rest.Names, name)
		}
	}
	return lns, rest
}

// applyListeners sets o's listeners from the inherited ones (the publish
// socket keeps the API's fast path and owns its file, as one bound here
// would).
func (in *inheritance) applyListeners(o *fanoutd.Options, socketPath string) error {
	if in == nil {
		return nil
	}
	for name, fd := range in.listeners {
		f := os.NewFile(uintptr(fd), name)
		var ln net.Listener
		var err error
		if name == fanoutd.ListenerPublish {
			ln, err = ipc.AdoptUnixListener(f, socketPath)
		} else {
			ln, err = net.FileListener(f)
		}
		_ = f.Close() // both duplicate it
		if err != nil {
			return fmt.Errorf("inherited %s listener: %w", name, err)
		}
		switch name {
		case fanoutd.ListenerWS:
			o.Listener = ln
		case fanoutd.ListenerPublish:
			o.SocketListener = ln
		case fanoutd.ListenerMetrics:
			o.MetricsListener = ln
		}
	}
	in.listeners = nil
	return nil
}

// refuse tells an upgrade's old process that this one cannot take over,
// and why; it then serves on.
func (in *inheritance) refuse(err error) {
	if in != nil && in.parent != nil {
		_ = in.parent.Refuse(err.Error())
	}
}

// takeOver takes the inherited connections over before Run serves them.
// From an upgrade: say ready (the Server is built), receive the image and
// the connections, restore, say ready again, and adopt once the old
// process committed; any failure before that leaves every socket to the
// old process, which serves on. From the service manager's store: restore
// and adopt, or, for an image this binary cannot read, close the
// connections as a drain would (the old process is gone); then clear the
// store.
func (in *inheritance) takeOver(ctx context.Context, srv *fanoutd.Server, getenv func(string) string, log *zap.Logger) error {
	switch {
	case in == nil:
		return nil
	case in.parent != nil:
		return takeOverUpgrade(ctx, srv, in.parent, log)
	case in.stored != nil:
		defer func() {
			if err := handoff.ClearStore(getenv, fanoutd.ListenerWS, fanoutd.ListenerPublish, fanoutd.ListenerMetrics); err != nil {
				log.Warn("hand-off: clearing the service manager's descriptor store failed", zap.Error(err))
			}
		}()
		if len(in.stored.Files) == 0 && len(in.stored.Image) == 0 {
			return nil
		}
		t, err := srv.TakeOver(*in.stored, false)
		in.stored.Image = nil // restored: its memory goes back at Adopt
		if err != nil {
			log.Error("hand-off: the image in the descriptor store cannot be read; closing its connections (1012) for their clients to reconnect",
				zap.Int("connections", len(in.stored.Files)), zap.Error(err))
			fanoutd.DrainFiles(in.stored.Files, 1012, `{"reconnect_after_ms":1000}`)
			return nil
		}
		t.Adopt()
	}
	return nil
}

func takeOverUpgrade(ctx context.Context, srv *fanoutd.Server, p *handoff.Parent, log *zap.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, handOffWait)
	defer cancel()
	if err := p.Ready(); err != nil {
		return fmt.Errorf("hand-off: %w", err)
	}
	b, err := p.Receive(ctx)
	if err != nil {
		return fmt.Errorf("hand-off: receiving the connections: %w", err)
	}
	t, err := srv.TakeOver(b, true)
	if err != nil {
		_ = p.Refuse(err.Error())
		b.Close() // the old process still holds them: nothing goes on the wire
		return fmt.Errorf("hand-off refused: %w", err)
	}
	b = handoff.Bundle{} // restored: the image's memory goes back at Adopt
	if err := p.Ready(); err != nil {
		t.Release()
		return fmt.Errorf("hand-off: %w", err)
	}
	if err := p.WaitCommit(ctx); err != nil {
		t.Release()
		return fmt.Errorf("hand-off aborted by the old process: %w", err)
	}
	t.Adopt()
	if err := p.Serving(); err != nil {
		log.Debug("hand-off: the old process did not hear that this one serves (it stops anyway)", zap.Error(err))
	}
	return nil
}

// fdStore is the service manager's descriptor store, when there is one.
func fdStore(getenv func(string) string) *fanoutd.FDStore {
	sock := getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	n, _ := strconv.Atoi(getenv("FDSTORE"))
	return &fanoutd.FDStore{Socket: sock, Max: n}
}

// catchUpgrades starts an upgrade on SIGUSR2 (what `fanoutd upgrade`
// sends): the binary at exe, as it is on disk now, with this process's
// arguments. A failed upgrade is logged and shown in /v1/stats; this
// process serves on. Install before READY; stop after Run.
func catchUpgrades(bg *sync.WaitGroup, srv *fanoutd.Server, exe string, log *zap.Logger) (stop func()) {
	return onSignal(bg, syscall.SIGUSR2, func() {
		log.Info("SIGUSR2 received: upgrading to the binary on disk", zap.String("path", exe))
		// The new process is no socket-activated one, and its pid is not
		// known yet: the watchdog applies to whoever is main.
		env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "WATCHDOG_PID=")
		})
		_, _ = srv.Upgrade(context.Background(), fanoutd.UpgradeOptions{Path: exe, Args: os.Args[1:], Env: env})
	})
}

// yieldCPU lowers this process's CPU priority to the lowest (nice 19)
// once its connections are the new process's: what is left here is
// letting go and exiting, and the new process is serving its first
// events on the same cores. Linux keeps a nice value per thread, so each
// of the runtime's threads is lowered (threads made later inherit it from
// the one that makes them).
func yieldCPU() {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
		}
	}
}
