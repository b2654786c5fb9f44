package fanoutd

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(childClientsEnv); addr != "" {
		os.Exit(runChildClients(addr))
	}
	if dir := os.Getenv(lowFDChildEnv); dir != "" {
		os.Exit(runLowFDChild(dir))
	}
	goleak.VerifyTestMain(m,
		// go-redis redials a dead server from a goroutine that sleeps a
		// second between attempts and notices the pool's Close only then.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}
