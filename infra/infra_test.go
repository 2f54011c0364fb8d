// Package infra_test checks the Terraform in this directory offline, with the HCL parser Terraform itself
// uses: it parses, every function entry point in the Go code has its Terraform and every one in Terraform
// has its code, nothing private is invokable by allUsers, scheduler jobs authenticate with OIDC, Pub/Sub
// subscriptions have dead-letter policies, and every EDUGRID_ variable Terraform sets is one the code reads.
package infra_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/shared/config"
)

// parseAll parses every .tf file of the directory and fails on any diagnostic.
func parseAll(t *testing.T) map[string]*hclsyntax.Body {
	t.Helper()
	files, err := filepath.Glob("*.tf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Terraform files found: %v", err)
	}
	p := hclparse.NewParser()
	out := map[string]*hclsyntax.Body{}
	for _, f := range files {
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s does not parse: %s", f, diags.Error())
		}
		out[f] = file.Body.(*hclsyntax.Body)
	}
	return out
}

// resources returns the resource blocks of a type across all files.
func resources(bodies map[string]*hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range bodies {
		for _, blk := range b.Blocks {
			if blk.Type == "resource" && len(blk.Labels) == 2 && blk.Labels[0] == typ {
				out = append(out, blk)
			}
		}
	}
	return out
}

// httpFunctions returns local.http_functions: area name -> its literal attributes.
func httpFunctions(t *testing.T, bodies map[string]*hclsyntax.Body) map[string]map[string]hclsyntax.Expression {
	t.Helper()
	for _, b := range bodies {
		for _, blk := range b.Blocks {
			if blk.Type != "locals" {
				continue
			}
			attr, ok := blk.Body.Attributes["http_functions"]
			if !ok {
				continue
			}
			obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				t.Fatalf("local.http_functions is not an object literal")
			}
			out := map[string]map[string]hclsyntax.Expression{}
			for _, item := range obj.Items {
				name := hcl.ExprAsKeyword(item.KeyExpr)
				fields := map[string]hclsyntax.Expression{}
				if inner, ok := item.ValueExpr.(*hclsyntax.ObjectConsExpr); ok {
					for _, f := range inner.Items {
						fields[hcl.ExprAsKeyword(f.KeyExpr)] = f.ValueExpr
					}
				}
				out[name] = fields
			}
			return out
		}
	}
	t.Fatal("no local.http_functions")
	return nil
}

// literalString returns a string literal expression's value.
func literalString(e hclsyntax.Expression) (string, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type().FriendlyName() != "string" {
		return "", false
	}
	return v.AsString(), true
}

// codeEntryPoints finds every functions.HTTP / functions.CloudEvent registration in the Go code: the HTTP
// entry points functions/all registers from its list (all.EntryPoints), and every registration elsewhere
// that names its function with a string.
func codeEntryPoints(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ep := range all.EntryPoints(nil) {
		out[ep.Name] = "HTTP"
	}
	fset := token.NewFileSet()
	for _, dir := range []string{"../functions", "../triggers"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				// functions/all registers its HTTP entry points in a loop over a []EntryPoint literal
				// whose rows start with the entry point's name.
				if lit, ok := n.(*ast.CompositeLit); ok {
					if arr, ok := lit.Type.(*ast.ArrayType); ok {
						if elt, ok := arr.Elt.(*ast.Ident); ok && elt.Name == "EntryPoint" {
							for _, e := range lit.Elts {
								if row, ok := e.(*ast.CompositeLit); ok && len(row.Elts) > 0 {
									if name, ok := row.Elts[0].(*ast.BasicLit); ok && name.Kind == token.STRING {
										v, _ := strconv.Unquote(name.Value)
										out[v] = "HTTP"
									}
								}
							}
						}
					}
				}
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pkg, ok := sel.X.(*ast.Ident)
				if !ok || pkg.Name != "functions" || (sel.Sel.Name != "HTTP" && sel.Sel.Name != "CloudEvent") {
					return true
				}
				if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, _ := strconv.Unquote(lit.Value)
					out[name] = sel.Sel.Name
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatalf("scan %s: %v", dir, err)
		}
	}
	if len(out) == 0 {
		t.Fatal("found no function registrations in the code")
	}
	return out
}

func TestTerraformParses(t *testing.T) {
	parseAll(t)
}

// A function registered in code but missing from Terraform would never deploy; one in Terraform without
// code would fail to build. Both directions are checked.
func TestEveryFunctionHasItsTerraform(t *testing.T) {
	bodies := parseAll(t)
	tf := map[string]bool{}
	for name := range httpFunctions(t, bodies) {
		tf[name] = true
	}
	for _, r := range resources(bodies, "google_cloudfunctions2_function") {
		for _, blk := range r.Body.Blocks {
			if blk.Type != "build_config" {
				continue
			}
			if attr, ok := blk.Body.Attributes["entry_point"]; ok {
				if name, ok := literalString(attr.Expr); ok {
					tf[name] = true
				}
			}
		}
	}
	code := codeEntryPoints(t)
	var missing, orphaned []string
	for name := range code {
		if !tf[name] {
			missing = append(missing, name)
		}
	}
	for name := range tf {
		if _, ok := code[name]; !ok {
			orphaned = append(orphaned, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(orphaned)
	if len(missing) > 0 {
		t.Errorf("functions registered in code without Terraform (add them to infra/functions.tf): %v", missing)
	}
	if len(orphaned) > 0 {
		t.Errorf("functions in Terraform without code: %v", orphaned)
	}
}

// allUsers may only ever be granted through the public_functions set, which holds the areas marked public.
func TestOnlyPublicFunctionsAreOpenToAllUsers(t *testing.T) {
	bodies := parseAll(t)
	var grants int
	for _, b := range bodies {
		hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
			blk, ok := n.(*hclsyntax.Block)
			if !ok || blk.Type != "resource" {
				return nil
			}
			for _, name := range []string{"member", "members"} {
				attr, ok := blk.Body.Attributes[name]
				if !ok || !strings.Contains(exprText(t, attr.Expr), "allUsers") {
					continue
				}
				grants++
				fe, ok := blk.Body.Attributes["for_each"]
				if !ok || !isTraversal(fe.Expr, "local", "public_functions") {
					t.Errorf("resource %s.%s grants allUsers outside local.public_functions", blk.Labels[0], blk.Labels[1])
				}
			}
			return nil
		})
	}
	if grants == 0 {
		t.Fatal("no allUsers grant found: the public API areas must be invokable through the load balancer")
	}
	// public_functions must be the areas whose literal public flag is true.
	for _, b := range bodies {
		for _, blk := range b.Blocks {
			if blk.Type != "locals" {
				continue
			}
			attr, ok := blk.Body.Attributes["public_functions"]
			if !ok {
				continue
			}
			fe, ok := attr.Expr.(*hclsyntax.ForExpr)
			if !ok || fe.CondExpr == nil || !strings.HasSuffix(traversalText(fe.CondExpr), ".public") {
				t.Errorf("local.public_functions must filter on the area's public flag")
			}
		}
	}
	for name, fields := range httpFunctions(t, bodies) {
		v, diags := fields["public"].Value(nil)
		if diags.HasErrors() || v.Type().FriendlyName() != "bool" {
			t.Errorf("http function %s: public must be a literal true or false", name)
		}
	}
}

func TestSchedulerJobsUseOIDC(t *testing.T) {
	for _, r := range resources(parseAll(t), "google_cloud_scheduler_job") {
		if slices.ContainsFunc(r.Body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "pubsub_target" }) {
			continue // publishes to a topic (as Cloud Scheduler's service agent): it calls nothing
		}
		ok := false
		for _, blk := range r.Body.Blocks {
			if blk.Type == "http_target" {
				for _, inner := range blk.Body.Blocks {
					ok = ok || inner.Type == "oidc_token"
				}
			}
		}
		if !ok {
			t.Errorf("scheduler job %s calls its target without an OIDC token", r.Labels[1])
		}
	}
}

func TestSubscriptionsHaveDeadLetterPolicies(t *testing.T) {
	for _, r := range resources(parseAll(t), "google_pubsub_subscription") {
		has := slices.ContainsFunc(r.Body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == "dead_letter_policy" })
		if !has {
			t.Errorf("subscription %s has no dead_letter_policy: a poison message would be retried forever", r.Labels[1])
		}
	}
}

var envName = regexp.MustCompile(`^EDUGRID_[A-Z0-9_]+$`)

// Every EDUGRID_ variable Terraform sets (object keys and string literals) must be one the code reads.
func TestTerraformSetsOnlyKnownVariables(t *testing.T) {
	known := map[string]bool{}
	for _, v := range config.Variables {
		known[v.Name] = true
	}
	found := 0
	for _, b := range parseAll(t) {
		hclsyntax.VisitAll(b, func(n hclsyntax.Node) hcl.Diagnostics {
			var s string
			switch e := n.(type) {
			case *hclsyntax.ObjectConsKeyExpr:
				s = hcl.ExprAsKeyword(e)
			case *hclsyntax.TemplateExpr:
				s, _ = literalString(e)
			}
			if envName.MatchString(s) {
				found++
				if !known[s] {
					t.Errorf("Terraform sets %s, which the code does not read (shared/config)", s)
				}
			}
			return nil
		})
	}
	if found == 0 {
		t.Fatal("found no EDUGRID_ variables in the Terraform")
	}
}

func isTraversal(e hclsyntax.Expression, parts ...string) bool {
	return traversalText(e) == strings.Join(parts, ".")
}

func traversalText(e hclsyntax.Expression) string {
	st, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return ""
	}
	var parts []string
	for _, step := range st.Traversal {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		}
	}
	return strings.Join(parts, ".")
}

// exprText returns the source text of an expression.
func exprText(t *testing.T, e hclsyntax.Expression) string {
	t.Helper()
	r := e.Range()
	src, err := os.ReadFile(r.Filename)
	if err != nil {
		t.Fatal(err)
	}
	return string(src[r.Start.Byte:r.End.Byte])
}
