package ipc

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoModuleImports keeps the seam honest: ipc owns the Publisher
// interface precisely so that it never imports daemon, netpoll or config.
func TestNoModuleImports(t *testing.T) {
	const module = "github.com/fanoutd/fanoutd"
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == module || strings.HasPrefix(path, module+"/") {
				t.Errorf("%s imports %s: ipc must not import other packages of the module", name, path)
			}
		}
	}
}
