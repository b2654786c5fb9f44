package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// asMainEnv makes the test binary behave as fanout-bench itself (and, when
// the parent re-executes it with --worker, as its worker), so the
// end-to-end test needs no go build.
const asMainEnv = "FANOUT_BENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
	goleak.VerifyTestMain(m)
}
