package ops

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestOpsImportsStayInward enforces doc.go's "Imports": of fanoutd's
// packages, ops imports only the core and the transport's vocabulary
// (never config or jwtauth); the rest comes from the root through Source,
// Settings and MintStatusToken.
func TestOpsImportsStayInward(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"github.com/fanoutd/fanoutd/daemon", "github.com/fanoutd/fanoutd/netpoll"}
	for _, imp := range pkg.Imports {
		if (imp == "github.com/fanoutd/fanoutd" || strings.HasPrefix(imp, "github.com/fanoutd/fanoutd/")) &&
			!slices.Contains(allowed, imp) {
			t.Errorf("ops imports %s", imp)
		}
	}
}
