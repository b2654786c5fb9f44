package fakesystemd

import (
	"testing"

	"github.com/fanoutd/fanoutd/internal/deptest"
)

// The fake speaks the protocol from its own side: importing the package
// under test would let a shared mistake pass both.
func TestImports(t *testing.T) {
	deptest.Check(t, ".")
}
