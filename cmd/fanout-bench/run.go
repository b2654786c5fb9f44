package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/fanoutd/fanoutd/internal/loadgen"
	"github.com/spf13/pflag"
)

// Exit statuses, so scripts can tell a dirty run from a broken one.
const (
	exitOK          = 0
	exitError       = 1   // bad flags, daemon unreachable, a worker failed
	exitDirty       = 2   // the run completed, but lost, disconnected or failed something
	exitInterrupted = 130 // Ctrl-C: partial report printed
)

// run is main without os.Exit, so tests can drive it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	f, err := parseFlags(args, stderr, getenv)
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "fanout-bench:", err)
		return exitError
	}
	if f.worker {
		return runWorker(stdin, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "fanout-bench: finding own binary for the workers:", err)
		return exitError
	}
	rep, err := loadgen.Run(ctx, f.cfg, loadgen.Options{
		Launcher: loadgen.ExecLauncher{
			Command: func(int) *exec.Cmd { return exec.Command(self, "--"+workerFlag) },
			Stderr:  stderr,
		},
		Progress: stderr,
	})
	return report(rep, err, f.json, stdout, stderr)
}

// runWorker is the hidden worker mode. Ctrl-C at the terminal is the
// parent's to handle (workers run in their own process group anyway); a
// worker stops on "stop", on EOF of stdin, or at its own deadline.
func runWorker(stdin io.Reader, stdout, stderr io.Writer) int {
	signal.Ignore(os.Interrupt)
	if err := loadgen.RunWorker(context.Background(), stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "fanout-bench worker:", err)
		return exitError
	}
	return exitOK
}

func report(rep *loadgen.Report, err error, asJSON bool, stdout, stderr io.Writer) int {
	if rep == nil {
		fmt.Fprintln(stderr, "fanout-bench:", err)
		return exitError
	}
	table := stdout
	if asJSON {
		table = stderr
	}
	_ = rep.WriteTable(table)
	if asJSON {
		if werr := rep.WriteJSON(stdout); werr != nil {
			fmt.Fprintln(stderr, "fanout-bench:", werr)
			return exitError
		}
	}
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "fanout-bench:", err)
		return exitError
	case rep.Interrupted:
		return exitInterrupted
	case !rep.OK():
		return exitDirty
	}
	return exitOK
}
