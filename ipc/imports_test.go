package ipc

import (
	"testing"

	"github.com/fanoutd/fanoutd/internal/deptest"
)

// TestNoModuleImports keeps the seam honest: ipc owns the Publisher
// interface precisely so that it never imports daemon, netpoll or config.
func TestNoModuleImports(t *testing.T) {
	deptest.Check(t, ".")
}
