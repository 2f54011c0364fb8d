package reconcile_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/triggers/reconcile"
)

type fakeRun struct {
	err   error
	calls int
}

func (f *fakeRun) Reconcile(context.Context, time.Duration) (payments.ReconcileReport, error) {
	f.calls++
	return payments.ReconcileReport{Institutions: 2, Checked: 3, Recorded: 1}, f.err
}

type tokens struct{}

func (tokens) Validate(_ context.Context, token string) error {
	if token != "good" {
		return errors.New("refused")
	}
	return nil
}

func TestHandler(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name, method, token string
		runErr              error
		status, calls       int
		body                string
	}{
		{"a run", "POST", "good", nil, 200, 1, `"recorded":1`},
		{"a run with a failed institution is retried by the scheduler", "POST", "good", errors.New("one failed"), 500, 1, `"checked":3`},
		{"without a token", "POST", "", nil, 401, 0, "unauthenticated"},
		{"with another token", "POST", "bad", nil, 401, 0, "unauthenticated"},
		{"GET", "GET", "good", nil, 405, 0, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := &fakeRun{err: tc.runErr}
			req := httptest.NewRequest(tc.method, "/", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			reconcile.Handler(run, time.Hour, tokens{}, log).ServeHTTP(rec, req)
			if rec.Code != tc.status || run.calls != tc.calls || !strings.Contains(rec.Body.String(), tc.body) {
				t.Fatalf("%d %s after %d runs; want %d with %s after %d", rec.Code, rec.Body, run.calls, tc.status, tc.body, tc.calls)
			}
		})
	}
	rec := httptest.NewRecorder()
	reconcile.Misconfigured("no audience", log).ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("misconfigured: %d", rec.Code)
	}
}
