package control

import (
	"testing"

	"github.com/fanoutd/fanoutd/internal/deptest"
)

// TestNoModuleImports: the plane owns its Node, Bus and Store interfaces
// so that it imports no other package of the module (the root wires it).
func TestNoModuleImports(t *testing.T) {
	deptest.Check(t, ".")
}
