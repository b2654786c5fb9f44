package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/fanoutd/fanoutd"
	"github.com/fanoutd/fanoutd/handoff"
	"github.com/fanoutd/fanoutd/ipc"
	"go.uber.org/zap"
)

// inheritance is what a starting daemon takes over from the process before
// it: nil when it starts afresh.
type inheritance struct {
	// parent is the old process of an upgrade (fanoutd upgrade, SIGUSR2),
	// which waits for this one to take over; listeners are the sockets it
	// passed, by name (fanoutd.ListenerWS…).
	parent    *handoff.Parent
	listeners map[string]*os.File
	// stored is what a previous run left in the service manager's
	// descriptor store (systemctl restart).
	stored *handoff.Bundle
}

// inherit finds the hand-off this process starts into, if any.
func inherit(getenv func(string) string) (*inheritance, error) {
	p, err := handoff.Inherited(getenv)
	if err != nil {
		return nil, err
	}
	if p != nil {
		lns, err := inheritedListeners(getenv(fanoutd.EnvListeners))
		if err != nil {
			_ = p.Refuse(err.Error())
			return nil, err
		}
		return &inheritance{parent: p, listeners: lns}, nil
	}
	b, err := handoff.Restore(getenv)
	if err != nil || b == nil {
		return nil, err
	}
	return &inheritance{stored: b}, nil
}

// inheritedListeners reads fanoutd.EnvListeners: "ws=4,publish=5".
func inheritedListeners(spec string) (map[string]*os.File, error) {
	out := map[string]*os.File{}
	for part := range strings.SplitSeq(spec, ",") {
		if part == "" {
			continue
		}
		name, fdText, ok := strings.Cut(part, "=")
		fd, err := strconv.Atoi(fdText)
		if !ok || err != nil || fd < 3 {
			return nil, fmt.Errorf("%s: malformed entry %q", fanoutd.EnvListeners, part)
		}
		syscall.CloseOnExec(fd)
		out[name] = os.NewFile(uintptr(fd), "fanoutd-"+name)
	}
	return out, nil
}

// applyListeners sets o's listeners from an upgrade's (the publish socket
// keeps the API's fast path and owns its file, as one bound here would).
func (in *inheritance) applyListeners(o *fanoutd.Options, socketPath string) error {
	if in == nil || in.parent == nil {
		return nil
	}
	defer func() {
		for _, f := range in.listeners {
			_ = f.Close()
		}
	}()
	for name, f := range in.listeners {
		var ln net.Listener
		var err error
		if name == fanoutd.ListenerPublish {
			ln, err = ipc.AdoptUnixListener(f, socketPath)
		} else {
			ln, err = net.FileListener(f)
		}
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
		default:
			_ = ln.Close()
		}
	}
	return nil
}

// takeOver takes the inherited connections over before Run serves them.
// From an upgrade: say hello, receive the image and descriptors, restore,
// say ready, and adopt once the old process committed; any failure before
// that leaves every socket to the old process, which serves on. From the
// service manager's store: restore and adopt, or, for an image this binary
// cannot read, close the connections as a drain would (the old process is
// gone), and then clear the store.
func (in *inheritance) takeOver(ctx context.Context, srv *fanoutd.Server, notifySocket string, log *zap.Logger) error {
	switch {
	case in == nil:
		return nil
	case in.parent != nil:
		return takeOverUpgrade(ctx, srv, in.parent, log)
	case in.stored != nil:
		defer func() {
			if err := handoff.ClearStore(notifySocket); err != nil {
				log.Warn("hand-off: clearing the service manager's descriptor store failed", zap.Error(err))
			}
		}()
		t, err := srv.TakeOver(*in.stored)
		if err != nil {
			log.Error("hand-off: the image in the descriptor store cannot be read; closing its connections (code 1012) for them to reconnect",
				zap.Int("connections", len(in.stored.Files)), zap.Error(err))
			fanoutd.DrainFiles(in.stored.Files, 1012, `{"reconnect_after_ms":1000}`)
			return nil
		}
		t.Adopt()
	}
	return nil
}

func takeOverUpgrade(ctx context.Context, srv *fanoutd.Server, p *handoff.Parent, log *zap.Logger) error {
	if err := p.Hello(handoff.Hello{Version: currentBuild().Version, Image: handoff.Version}); err != nil {
		return fmt.Errorf("hand-off: %w", err)
	}
	b, err := p.Receive(ctx)
	if err != nil {
		return fmt.Errorf("hand-off: receiving: %w", err)
	}
	t, err := srv.TakeOver(b)
	if err != nil {
		_ = p.Refuse(err.Error())
		for _, f := range b.Files {
			_ = f.Close() // the old process still holds them: nothing goes on the wire
		}
		return fmt.Errorf("hand-off refused: %w", err)
	}
	if err := p.Ready(); err != nil {
		t.Release()
		return fmt.Errorf("hand-off: %w", err)
	}
	if err := p.WaitCommit(ctx); err != nil {
		t.Release()
		return fmt.Errorf("hand-off aborted by the old process: %w", err)
	}
	n := t.Adopt()
	if err := p.Serving(); err != nil {
		log.Warn("hand-off: telling the old process failed (it stops anyway)", zap.Error(err))
	}
	_ = n
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
	usr2 := make(chan os.Signal, 1)
	quit := make(chan struct{})
	signal.Notify(usr2, syscall.SIGUSR2)
	bg.Go(func() {
		for {
			select {
			case <-quit:
				return
			case <-usr2:
				log.Info("SIGUSR2 received: upgrading to the binary on disk", zap.String("path", exe))
				_, _ = srv.Upgrade(context.Background(), fanoutd.UpgradeOptions{Path: exe, Args: os.Args[1:]})
			}
		}
	})
	return func() {
		signal.Stop(usr2)
		close(quit)
	}
}
