package main

import (
	"encoding/json"
	"testing"
	"time"
)

func accountants(t *testing.T, base, token string) int64 {
	t.Helper()
	code, _, b := call(t, "GET", base+"/analytics/staff", token, nil)
	if code != 200 {
		t.Fatalf("/analytics/staff = %d %s", code, b)
	}
	var rep struct {
		Roles []struct {
			Role  string `json:"role"`
			Total int64  `json:"total"`
		} `json:"roles"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Roles {
		if r.Role == "accountant" {
			return r.Total
		}
	}
	return 0
}

// checkAnalytics checks the local stack's analytics: the seeded demo reached the warehouse, and a write
// through the API shows in a report within seconds (relay, pstest, ingest, DuckDB in the data directory).
// It returns the accountants the report counts at the end.
func checkAnalytics(t *testing.T, base, token string) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for accountants(t, base, token) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	before := accountants(t, base, token)
	if before == 0 {
		t.Fatal("the seeded accountant never reached the warehouse")
	}
	code, _, b := call(t, "POST", base+"/users/staff", token, map[string]any{
		"email": "new.accountant@demo.test", "name": "New Accountant", "role": "accountant", "branches": []string{}, "password": "stack-test-pass-1"})
	if code != 201 {
		t.Fatalf("create accountant: %d %s", code, b)
	}
	deadline = time.Now().Add(10 * time.Second)
	for accountants(t, base, token) != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("accountants in the report = %d, want %d", accountants(t, base, token), before+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return before + 1
}

// checkAnalyticsAfterRestart checks that the warehouse survived a restart of the stack.
func checkAnalyticsAfterRestart(t *testing.T, base, token string, want int64) {
	t.Helper()
	if got := accountants(t, base, token); got != want {
		t.Fatalf("after restart the report counts %d accountants, want %d", got, want)
	}
}
