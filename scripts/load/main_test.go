package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/authn"
)

// A short run over the in-process stack provisions its institutions through the API and sends every kind
// of request in the mix, all answered as expected. The file engine runs the same code over another store;
// its provisioning (every commit rewrites the file) takes minutes under the race detector, so it is left
// to the recorded runs in BENCHMARKS.md.
func TestShortRunHasNoErrors(t *testing.T) {
	for _, engine := range []string{"memory"} {
		t.Run(engine, func(t *testing.T) {
			o := smallRun(engine, 2, 6)
			o.duration, o.ramp, o.requests = 20*time.Second, 100*time.Millisecond, 600
			res, out := runWithoutErrors(t, o)
			if res.Total.Count != 600 {
				t.Errorf("%d requests, want the -requests bound of 600", res.Total.Count)
			}
			kinds := map[string]int{}
			for _, k := range res.Kinds {
				kinds[k.Kind] = k.Count
			}
			for _, k := range []string{kindLogin, kindRead, kindMark, kindPay} {
				if kinds[k] == 0 {
					t.Errorf("no %s requests in the run: %v", k, kinds)
				}
			}
			if kinds[kindLogin] != 6 {
				t.Errorf("%d logins, want one per virtual user", kinds[kindLogin])
			}
			if !strings.Contains(out.String(), "| all | 600 |") {
				t.Errorf("report without the overall row:\n%s", out.String())
			}
		})
	}
}

// With -rate the users keep to a shared schedule: over 2 s at 100 requests/s they send about 200 requests
// after signing in, where back to back they would send as many as the -requests bound allows.
func TestOpenLoopKeepsTheRate(t *testing.T) {
	o := smallRun("memory", 1, 4)
	o.rate, o.duration, o.ramp, o.requests = 100, 2*time.Second, 10*time.Millisecond, 100_000
	res, out := runWithoutErrors(t, o)
	// Each user has a slot every 40 ms from its sign-in: at most 2 s / 40 ms + 1 = 51 requests, plus the
	// sign-in. A slow machine may send fewer before the deadline, never more.
	if n := res.Total.Count; n > 4*52 || n < 40 {
		t.Fatalf("%d requests in 2 s at 100/s:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "open loop") {
		t.Errorf("report does not say it ran an open loop:\n%s", out.String())
	}
}

// smallRun is a run over the in-process stack with few institutions and cheap password hashing.
func smallRun(engine string, tenants, users int) options {
	return options{engine: engine, tenants: tenants, teachers: 2, students: 4, users: users,
		adminEmail: "admin@load.test", adminPassword: "load-admin-password", password: "load-test-password-1",
		seed: 7, passwords: &authn.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}}
}

// runWithoutErrors runs o and fails the test on an error or a failed request; it returns the result and
// the printed report.
func runWithoutErrors(t *testing.T, o options) (result, *strings.Builder) {
	t.Helper()
	var out strings.Builder
	res, err := run(context.Background(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Errors != 0 {
		t.Fatalf("%d errors:\n%s", res.Total.Errors, out.String())
	}
	return res, &out
}

func TestTargetMustBeLoopback(t *testing.T) {
	tests := []struct {
		target string
		ok     bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.2:8080/", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"http://10.0.0.1:8080", false},
		{"https://203.0.113.7", false},
		{"http://[2001:db8::1]:8080", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
		{"http://", false},
	}
	for _, tt := range tests {
		err := loopbackOnly(context.Background(), tt.target)
		if (err == nil) != tt.ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok %v", tt.target, err, tt.ok)
		}
	}
}

func TestReportPercentiles(t *testing.T) {
	l := newLocal()
	for i := 1; i <= 100; i++ {
		l.ok(kindRead, time.Duration(i)*time.Millisecond)
	}
	l.fail(kindPay, "503", "POST /fees/payments: unavailable", 7*time.Millisecond)
	r := newRecorder()
	r.merge(l)
	res := r.result(10 * time.Second)
	read := res.Kinds[0]
	if read.Kind != kindRead || read.P50 != 51*time.Millisecond || read.P99 != 100*time.Millisecond || read.Max != 100*time.Millisecond {
		t.Fatalf("read summary %+v", read)
	}
	if res.Total.Count != 101 || res.Total.Errors != 1 || res.Total.ErrorsByStatus["503"] != 1 {
		t.Fatalf("total %+v", res.Total)
	}
	var out strings.Builder
	res.print(io.MultiWriter(&out))
	if !strings.Contains(out.String(), "1 × 503") || !strings.Contains(out.String(), "payment 503: POST /fees/payments") {
		t.Fatalf("report:\n%s", out.String())
	}
}
