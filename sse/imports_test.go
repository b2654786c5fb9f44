package sse

import (
	"testing"

	"github.com/fanoutd/fanoutd/internal/deptest"
)

// TestSSEImportsStayInward enforces doc.go's "Imports": of fanoutd's packages,
// sse imports only the core and the transport whose queue and vocabulary
// it shares; the policy it needs from the root comes through Admitter.
func TestSSEImportsStayInward(t *testing.T) {
	deptest.Check(t, ".", deptest.Module+"/daemon", deptest.Module+"/netpoll")
}
