package sse

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestSSEImportsStayInward enforces doc.go's "Imports": of fanoutd's packages,
// sse imports only the core and the transport whose queue and vocabulary
// it shares; the policy it needs from the root comes through Admitter.
func TestSSEImportsStayInward(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"github.com/fanoutd/fanoutd/daemon", "github.com/fanoutd/fanoutd/netpoll"}
	for _, imp := range pkg.Imports {
		if (imp == "github.com/fanoutd/fanoutd" || strings.HasPrefix(imp, "github.com/fanoutd/fanoutd/")) &&
			!slices.Contains(allowed, imp) {
			t.Errorf("sse imports %s", imp)
		}
	}
}
