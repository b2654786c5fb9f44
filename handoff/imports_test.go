package handoff

import (
	"testing"

	"github.com/fanoutd/fanoutd/internal/deptest"
)

// The hand-off moves bytes and descriptors; it knows nothing of the core,
// the transport or systemd's package (which it must coexist with, not
// call), so any of them can use it.
func TestImports(t *testing.T) {
	deptest.Check(t, ".")
}
