package all_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/edugrid/edugrid/"

// importRule is one rule of the README's layout: packages matching from may not import a package that
// forbidden reports.
type importRule struct {
	why       string
	from      func(pkg string) bool
	forbidden func(imp string) bool
}

// importRules are the layout's import rules, in one place.
var importRules = []importRule{
	{"shared packages know no area, trigger or test harness",
		func(p string) bool { return strings.HasPrefix(p, "shared/") },
		func(i string) bool {
			return strings.HasPrefix(i, "functions/") || strings.HasPrefix(i, "triggers/") || strings.HasPrefix(i, "internal/")
		}},
	{"an area gets what it needs through its Deps: it holds no application and builds no wiring",
		func(p string) bool { return strings.HasPrefix(p, "functions/") && p != "functions/all" },
		func(i string) bool {
			return i == "shared/app" || i == "functions/all" || strings.HasPrefix(i, "triggers/") || strings.HasPrefix(i, "internal/")
		}},
	{"only the DuckDB engine links the DuckDB driver",
		func(p string) bool { return p != "shared/warehouse/duckdb" },
		func(i string) bool { return strings.Contains(i, "duckdb-go") || strings.Contains(i, "go-duckdb") }},
	{"only the BigQuery engine links the BigQuery client",
		func(p string) bool { return p != "shared/warehouse/bigquery" },
		func(i string) bool { return strings.HasPrefix(i, "cloud.google.com/go/bigquery") }},
}

// importViolations checks each package's direct imports (pkg: imports, module prefix trimmed) against
// the rules.
func importViolations(imports map[string][]string) []string {
	var out []string
	for pkg, imps := range imports {
		for _, r := range importRules {
			if !r.from(pkg) {
				continue
			}
			for _, i := range imps {
				if r.forbidden(i) {
					out = append(out, pkg+" imports "+i+": "+r.why)
				}
			}
		}
	}
	return out
}

func TestImportsKeepTheLayout(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-f", `{{.ImportPath}}:{{join .Imports " "}}`, "../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imps, _ := strings.Cut(line, ":")
		var list []string
		for _, i := range strings.Fields(imps) {
			list = append(list, strings.TrimPrefix(i, module))
		}
		imports[strings.TrimPrefix(pkg, module)] = list
	}
	if len(imports) < 40 || imports["functions/fees"] == nil {
		t.Fatalf("go list found %d packages; the pattern no longer covers the module", len(imports))
	}
	for _, v := range importViolations(imports) {
		t.Error(v)
	}

	// The rules catch each kind of breach.
	probe := map[string][]string{
		"shared/text":     {"functions/students"},
		"functions/fees":  {"shared/app", "shared/store"},
		"functions/leads": {"github.com/marcboeker/go-duckdb/v2"},
	}
	if got := importViolations(probe); len(got) != 3 {
		t.Fatalf("rules found %v, want three breaches", got)
	}
}
