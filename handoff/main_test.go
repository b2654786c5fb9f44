package handoff

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/systemd"
)

// connsFlag sets the size of the two 1,000-connection tests: larger runs need
// room, as this process holds both ends (and, for the fd store, the fake
// manager's copy) of every connection within 20,000 descriptors.
var connsFlag = flag.Int("handoff.conns", 1000, "connections handed off by the large tests (at most 6,000 here)")

// envChild selects a role when the test binary runs as the new process.
const envChild = "HANDOFF_TEST_CHILD"

// Exit codes of the child roles.
const (
	exitOK      = 0
	exitFailed  = 1
	exitAtStart = 2
	exitAborted = 3
)

// TestMain runs the test binary as a hand-off child when envChild says so:
// real processes, real inherited descriptors, no other binary to build.
func TestMain(m *testing.M) {
	if role := os.Getenv(envChild); role != "" {
		os.Exit(runChild(role))
	}
	os.Exit(m.Run())
}

func runChild(role string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	code := exitFailed
	switch role {
	case "exit":
		return exitAtStart
	case "silent":
		time.Sleep(30 * time.Second) // bounded: the parent kills it long before
		return exitOK
	case "upgrade":
		code, err = childUpgrade(ctx)
	case "refuse":
		code, err = childRefuse(ctx)
	case "restore":
		code, err = childRestore()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "handoff test child (%s): %v\n", role, err)
	}
	return code
}

// childUpgrade checks every descriptor against the image, and on commit
// writes "<its key>\n" through each; on abort it exits touching nothing.
func childUpgrade(ctx context.Context) (int, error) {
	p, err := Inherited(os.Getenv)
	if err != nil || p == nil {
		return exitFailed, fmt.Errorf("inherited: %v, %v", p, err)
	}
	if err := p.Hello(Hello{Version: "test", Images: []int{Version}}); err != nil {
		return exitFailed, err
	}
	b, err := p.Receive(ctx)
	if err != nil {
		return exitFailed, err
	}
	if err := matchImage(b); err != nil {
		_ = p.Refuse(err.Error())
		return exitFailed, err
	}
	if err := p.Ready(); err != nil {
		return exitFailed, err
	}
	if err := p.WaitCommit(ctx); err != nil {
		if errors.Is(err, ErrAborted) {
			return exitAborted, nil
		}
		return exitFailed, err
	}
	if err := greet(b); err != nil {
		return exitFailed, err
	}
	return exitOK, p.Serving()
}

func childRefuse(ctx context.Context) (int, error) {
	p, err := Inherited(os.Getenv)
	if err != nil || p == nil {
		return exitFailed, fmt.Errorf("inherited: %v, %v", p, err)
	}
	if err := p.Hello(Hello{Version: "test", Images: []int{Version + 1}}); err != nil {
		return exitFailed, err
	}
	b, err := p.Receive(ctx)
	if err != nil {
		return exitFailed, err
	}
	b.Close()
	return exitFailed, p.Refuse("cannot read image version 1")
}

// childRestore takes the fd store's descriptors and the socket unit's
// listener, checks them, greets every client, clears the store and says
// READY=1.
func childRestore() (int, error) {
	b, err := Restore(os.Getenv)
	if err != nil || b == nil {
		return exitFailed, fmt.Errorf("restore: %v, %v", b, err)
	}
	lns, err := systemd.Listeners(os.Getenv, IsHandoffName)
	if err != nil {
		return exitFailed, fmt.Errorf("listeners next to the store: %w", err)
	}
	if len(lns) != 1 || lns[0].Name != "ws" || lns[0].Addr().String() != os.Getenv("HANDOFF_TEST_LISTENER") {
		return exitFailed, fmt.Errorf("listeners: %v", lns)
	}
	if err := matchImage(*b); err != nil {
		return exitFailed, err
	}
	if err := greet(*b); err != nil {
		return exitFailed, err
	}
	if err := ClearStore(os.Getenv); err != nil {
		return exitFailed, err
	}
	return exitOK, systemd.NewNotifier(os.Getenv).Ready()
}

// matchImage checks that the descriptors are exactly the sockets the
// image names, in any order.
func matchImage(b Bundle) error {
	var keys []string
	if err := Decode(b.Image, map[string]any{"keys": &keys}); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	if len(b.Files) != len(want) {
		return fmt.Errorf("%d descriptors, the image names %d sockets", len(b.Files), len(want))
	}
	for i, fd := range b.Files {
		k, err := SocketKey(fd)
		if err != nil {
			return err
		}
		if !want[k] || b.Name(i) != ConnName {
			return fmt.Errorf("descriptor %d (%s, %q) is not in the image", fd, k, b.Name(i))
		}
		delete(want, k)
	}
	return nil
}

// greet writes each socket's key through it.
func greet(b Bundle) error {
	for _, fd := range b.Files {
		k, err := SocketKey(fd)
		if err != nil {
			return err
		}
		if err := writeAll(fd, []byte(k+"\n")); err != nil {
			return fmt.Errorf("%s: %w", strings.TrimSpace(k), err)
		}
	}
	return nil
}
