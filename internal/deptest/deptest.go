// Package deptest keeps STYLE.md's import directions true: a package's test
// calls Check, and the test fails when the package (its non-test files)
// imports a package of the module it was not meant to. The pattern is
// tailscale's tstest/deptest.
package deptest

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// Module is the module's path.
const Module = "github.com/fanoutd/fanoutd"

// Check fails t for every import of the package in dir that belongs to the
// module and is not in allowed (full import paths). Test files are not
// checked: tests may use the module's test helpers.
func Check(t testing.TB, dir string, allowed ...string) {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if (imp == Module || strings.HasPrefix(imp, Module+"/")) && !slices.Contains(allowed, imp) {
			t.Errorf("package %s imports %s (allowed: %v)", pkg.Name, imp, allowed)
		}
	}
}
