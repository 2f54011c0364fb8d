package all_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// dbHandleViolations lists the functions of the Go files in dirs that both take a tenant database
// (a lungo.IDatabase parameter) and read one from their context (store.Database): the one convention is
// that a function gets its database one way (README, "How an area gets what it needs").
func dbHandleViolations(t *testing.T, fset *token.FileSet, files map[string]*ast.File) []string {
	t.Helper()
	var out []string
	for name, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			takes := false
			for _, p := range fn.Type.Params.List {
				if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "IDatabase" {
					takes = true
				}
			}
			reads := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Database" {
						if x, ok := sel.X.(*ast.Ident); ok && x.Name == "store" {
							reads = true
						}
					}
				}
				return !reads
			})
			if takes && reads {
				out = append(out, name+": "+fn.Name.Name)
			}
		}
	}
	return out
}

func parseDir(t *testing.T, fset *token.FileSet, pattern string) map[string]*ast.File {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*ast.File{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = f
	}
	return files
}

func TestOneWayToTheTenantDatabase(t *testing.T) {
	fset := token.NewFileSet()
	files := parseDir(t, fset, "../*/*.go")
	if len(files) < 50 {
		t.Fatalf("parsed %d area files; the glob no longer finds the areas", len(files))
	}
	for _, v := range dbHandleViolations(t, fset, files) {
		t.Errorf("takes a database and also reads one from its context: %s", v)
	}

	// The checker itself finds a function that does both, and passes one that does either.
	src := `package x
func both(ctx context.Context, db lungo.IDatabase) { _ = store.Database(ctx) }
func param(ctx context.Context, db lungo.IDatabase) {}
func fromContext(ctx context.Context) { _ = store.Database(ctx) }`
	f, err := parser.ParseFile(fset, "x.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := dbHandleViolations(t, fset, map[string]*ast.File{"x.go": f}); len(got) != 1 || got[0] != "x.go: both" {
		t.Fatalf("checker found %v, want only x.go: both", got)
	}
}
