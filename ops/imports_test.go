package ops

import (
	"testing"

	"github.com/fanoutd/fanoutd/internal/deptest"
)

// TestOpsImportsStayInward enforces doc.go's "Imports": of fanoutd's
// packages, ops imports only the core and the transport's vocabulary
// (never config or jwtauth); the rest comes from the root through Source,
// Settings and MintStatusToken.
func TestOpsImportsStayInward(t *testing.T) {
	deptest.Check(t, ".", deptest.Module+"/daemon", deptest.Module+"/netpoll")
}
