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
	goleak.VerifyTestMain(m)
}
