package infra_test

import (
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/edugrid/edugrid/triggers/relay"
)

// child returns the first nested block of b of type typ, or nil.
func child(b *hclsyntax.Block, typ string) *hclsyntax.Block {
	if b == nil {
		return nil
	}
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

// The relay's Cloud Run probes ask the paths its health endpoint serves, and liveness waits long enough
// past the default maximum lag that a relay catching up or backfilling is not restarted at the first
// sign of lag.
func TestRelayProbesUseItsHealthEndpoint(t *testing.T) {
	services := resources(parseAll(t), "google_cloud_run_v2_service")
	var svc *hclsyntax.Block
	for _, s := range services {
		if s.Labels[1] == "relay" {
			svc = s
		}
	}
	containers := child(child(svc, "template"), "containers")
	if containers == nil {
		t.Fatal("no google_cloud_run_v2_service.relay with template.containers")
	}
	number := func(probe *hclsyntax.Block, name string) int {
		t.Helper()
		attr, ok := probe.Body.Attributes[name]
		if !ok {
			t.Fatalf("%s sets no %s", probe.Type, name)
		}
		v, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s.%s is not a literal: %s", probe.Type, name, diags.Error())
		}
		n, _ := v.AsBigFloat().Int64()
		return int(n)
	}
	for _, c := range []struct {
		probe, path string
		minWindow   time.Duration // period x failure threshold
	}{
		{"startup_probe", relay.StartedPath, time.Minute},
		{"liveness_probe", relay.HealthPath, 10 * time.Minute},
	} {
		probe := child(containers, c.probe)
		get := child(probe, "http_get")
		if get == nil {
			t.Errorf("the relay has no %s with http_get", c.probe)
			continue
		}
		attr, ok := get.Body.Attributes["path"]
		if !ok {
			t.Errorf("%s names no path", c.probe)
			continue
		}
		if path, lit := literalString(attr.Expr); !lit || path != c.path {
			t.Errorf("%s asks %q, want %q (triggers/relay/health.go)", c.probe, path, c.path)
		}
		window := time.Duration(number(probe, "period_seconds")*number(probe, "failure_threshold")) * time.Second
		if window < c.minWindow {
			t.Errorf("%s gives up after %v, want at least %v", c.probe, window, c.minWindow)
		}
	}
}
