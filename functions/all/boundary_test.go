package all_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// areaFiles groups parsed non-test Go files by the directory (the package) they live in.
type areaFiles map[string]map[string]*ast.File

// collectionOwners maps each collection name an area declares (a constant named ...Collection with a
// string value) to that area's directory.
func collectionOwners(areas areaFiles) map[string]string {
	owners := map[string]string{}
	for dir, files := range areas {
		for _, f := range files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !strings.HasSuffix(n.Name, "Collection") || i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							owners[v] = dir
						}
					}
				}
			}
		}
	}
	return owners
}

// boundaryViolations lists where an area reaches another area's collection: a call .Collection(x) whose x
// is another area's identifier (pkg.Name, pkg being an area) or a string naming a collection another area
// owns; and any exported ...Collection constant in an area, which would invite such reads. Shared packages
// (account, audit, notify, schema, authn) own collections every area may use.
func boundaryViolations(areas areaFiles) []string {
	owners := collectionOwners(areas)
	areaNames := map[string]bool{}
	for dir := range areas {
		areaNames[filepath.Base(dir)] = true
	}
	var out []string
	for dir, files := range areas {
		for name, f := range files {
			for _, d := range f.Decls {
				if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
					for _, s := range g.Specs {
						for _, n := range s.(*ast.ValueSpec).Names {
							if n.IsExported() && strings.HasSuffix(n.Name, "Collection") && !strings.HasPrefix(n.Name, "Attr") {
								out = append(out, name+": exports "+n.Name)
							}
						}
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Collection" {
					return true
				}
				switch arg := call.Args[0].(type) {
				case *ast.SelectorExpr:
					if pkg, ok := arg.X.(*ast.Ident); ok && areaNames[pkg.Name] && pkg.Name != filepath.Base(dir) {
						out = append(out, name+": reads "+pkg.Name+"."+arg.Sel.Name)
					}
				case *ast.BasicLit:
					v, _ := strconv.Unquote(arg.Value)
					if owner, ok := owners[v]; ok && owner != dir {
						out = append(out, name+": reads "+strconv.Quote(v)+" of "+filepath.Base(owner))
					}
				}
				return true
			})
		}
	}
	sort.Strings(out)
	return out
}

func parseAreas(t *testing.T, fset *token.FileSet, patterns ...string) areaFiles {
	t.Helper()
	areas := areaFiles{}
	for _, p := range patterns {
		for name, f := range parseDir(t, fset, p) {
			dir := filepath.Dir(name)
			if areas[dir] == nil {
				areas[dir] = map[string]*ast.File{}
			}
			areas[dir][name] = f
		}
	}
	return areas
}

// TestAreasKeepToTheirOwnCollections: an area reads another's data only through that area's Go API (its
// exported reads), never by naming its collections, so each area can change its storage alone.
func TestAreasKeepToTheirOwnCollections(t *testing.T) {
	fset := token.NewFileSet()
	areas := parseAreas(t, fset, "../*/*.go", "../../triggers/*/*.go")
	owners := collectionOwners(areas)
	for _, c := range []string{"students", "fee_instalments", "attendance_sheets", "leads", "branches"} {
		if owners[c] == "" {
			t.Fatalf("no area owns %q: the checker no longer finds the collection constants", c)
		}
	}
	for _, v := range boundaryViolations(areas) {
		t.Errorf("crosses an area boundary: %s", v)
	}

	// The checker itself finds each kind of crossing, and passes an area's reads of its own collections and
	// of shared ones.
	srcs := map[string]string{
		"students/s.go": `package students
const studentsCollection = "students"
func own(db lungo.IDatabase) { db.Collection(studentsCollection); db.Collection(audit.Collection) }`,
		"fees/f.go": `package fees
const PlansCollection = "fee_plans"
func leak(db lungo.IDatabase) { db.Collection("students"); db.Collection(students.StudentsCollection) }`,
	}
	probe := areaFiles{}
	for name, src := range srcs {
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		probe[filepath.Dir(name)] = map[string]*ast.File{name: f}
	}
	want := []string{`fees/f.go: exports PlansCollection`, `fees/f.go: reads "students" of students`, `fees/f.go: reads students.StudentsCollection`}
	if got := boundaryViolations(probe); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("checker found\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
