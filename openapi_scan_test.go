package fanoutd

import (
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The code's side of the OpenAPI contract, read from the source: the
// patterns registered on the muxes, and the status codes the API's handlers
// name. A ServeMux cannot list its patterns, and a status that no call in
// contractCalls produces would otherwise go unnoticed.

// statusCodes maps the net/http constants the API's code may use to their
// codes; a constant missing here fails the test, so that a new one is
// looked at.
var statusCodes = map[string]string{
	"StatusOK": "200", "StatusBadRequest": "400", "StatusUnauthorized": "401", "StatusForbidden": "403",
	"StatusNotFound": "404", "StatusMethodNotAllowed": "405", "StatusRequestEntityTooLarge": "413",
	"StatusTooManyRequests": "429", "StatusInternalServerError": "500", "StatusServiceUnavailable": "503",
	"StatusGatewayTimeout": "504", "StatusConflict": "409", "StatusAccepted": "202", "StatusNoContent": "204",
}

// testStatusConstants: every status the API's handlers name (the ipc and
// control packages, and the health routes) is documented for some
// operation.
func (f *contractFixture) testStatusConstants(t *testing.T) {
	documented := map[string]bool{}
	for _, statuses := range f.doc.operations() {
		for s := range statuses {
			documented[s] = true
		}
	}
	files, _ := filepath.Glob(filepath.Join("ipc", "*.go"))
	control, _ := filepath.Glob(filepath.Join("control", "*.go"))
	files = append(append(files, control...), filepath.Join("ops", "health.go"))
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(gotoken.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, isID := sel.X.(*ast.Ident); !isID || id.Name != "http" || !strings.HasPrefix(sel.Sel.Name, "Status") || sel.Sel.Name == "StatusText" {
				return true
			}
			code, known := statusCodes[sel.Sel.Name]
			switch {
			case !known:
				t.Errorf("%s uses http.%s: add it to statusCodes and, if the API can answer it, to api/openapi.yaml", name, sel.Sel.Name)
			case !documented[code]:
				t.Errorf("%s answers %s (http.%s), which api/openapi.yaml documents nowhere", name, code, sel.Sel.Name)
			}
			return true
		})
	}
}

// scanRoutes reads every Handle and HandleFunc call of the module's
// packages (not commands, examples or test helpers: their muxes are not
// the API). It returns "method path" -> file of the method patterns, and
// path -> file of the method-less ones other than the "/" fallbacks.
func scanRoutes(t *testing.T) (map[string]string, map[string]string) {
	registered, anyMethod := map[string]string{}, map[string]string{}
	skip := []string{"cmd", "examples", "internal", "bench", "test", "clients", "node_modules", ".git"}
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && slices.Contains(skip, e.Name()) {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		return scanFile(t, path, registered, anyMethod)
	})
	if err != nil {
		t.Fatal(err)
	}
	return registered, anyMethod
}

func scanFile(t *testing.T, path string, registered, anyMethod map[string]string) error {
	fset := gotoken.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return err
	}
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != gotoken.STRING {
			expr := exprSource(fset, call.Args[0])
			if _, known := unscanned[path+": "+expr]; !known {
				t.Errorf("%s: a route pattern that is not a literal (%s): add it to the document and the scan", fset.Position(call.Pos()), expr)
			}
			return true
		}
		pattern, _ := strconv.Unquote(lit.Value)
		where := fset.Position(call.Pos()).String()
		method, route, hasMethod := strings.Cut(pattern, " ")
		switch {
		case !hasMethod && pattern == "/":
		case !hasMethod:
			anyMethod[pattern] = where
		default:
			if route == "/{$}" {
				route = "/"
			}
			registered[strings.ToLower(method)+" "+route] = where
		}
		return true
	})
	return nil
}

func exprSource(fset *gotoken.FileSet, e ast.Expr) string {
	var b strings.Builder
	start, end := fset.Position(e.Pos()).Offset, fset.Position(e.End()).Offset
	src, err := os.ReadFile(fset.Position(e.Pos()).Filename)
	if err != nil || end > len(src) {
		return fmt.Sprintf("%T", e)
	}
	b.Write(src[start:end])
	return b.String()
}
