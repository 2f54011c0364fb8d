package all_test

import (
	"go/ast"
	"go/token"
	"testing"
)

// TestValidateJudgesAValue: every request type's Validate has a value receiver, so validating cannot change
// what it judges; normalising (trimming, defaults, stored forms) is each type's own normalized step, which
// the service runs after Validate. A Go caller and an HTTP caller thus get one answer for one input.
func TestValidateJudgesAValue(t *testing.T) {
	fset := token.NewFileSet()
	n := 0
	for name, f := range parseDir(t, fset, "../*/*.go") {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Name.Name != "Validate" || len(fn.Recv.List) != 1 {
				continue
			}
			n++
			if _, pointer := fn.Recv.List[0].Type.(*ast.StarExpr); pointer {
				t.Errorf("%s: %s has a pointer receiver; Validate must judge a copy", name, fset.Position(fn.Pos()))
			}
		}
	}
	if n < 30 {
		t.Fatalf("found %d Validate methods; the glob no longer finds the areas' request types", n)
	}
}
