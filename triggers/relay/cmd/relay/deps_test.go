package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The relay is a long-running Cloud Run service that only streams changes to Pub/Sub: linking the
// warehouse engines (BigQuery's client, DuckDB's cgo driver) or the ingest trigger would add tens of
// megabytes and seconds of start-up for code it never runs. Nothing else would notice such an import.
func TestLinksNoWarehouse(t *testing.T) {
	goCmd := goCommand(t)
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	// Each entry forbids the package and everything below it.
	forbidden := []string{
		"cloud.google.com/go/bigquery",
		"github.com/duckdb",
		"github.com/edugrid/edugrid/shared/warehouse/bigquery",
		"github.com/edugrid/edugrid/shared/warehouse/duckdb",
		"github.com/edugrid/edugrid/triggers/ingest",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("the relay links %s (forbidden: %s and below); go list -deps -json ./triggers/relay/cmd/relay shows who imports it", pkg, f)
			}
		}
	}
}

// goCommand finds the go command. go test puts its own toolchain's bin directory first on PATH, so this
// is the go that runs the test.
func goCommand(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH (%v); run under go test or put the Go toolchain's bin directory on PATH", err)
	}
	return p
}
