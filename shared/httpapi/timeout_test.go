package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
)

// A handler whose work outlives the area's request deadline answers 503 "unavailable" with Retry-After,
// whatever opaque error its database call returned (the embedded engine's lock wait does not wrap the
// context's error), and shows none of that error.
func TestRequestDeadlineAnswersUnavailable(t *testing.T) {
	var sawDeadline bool
	area := NewArea("slow", []Route{{Method: "GET", Path: "/wait", Permission: rbac.Public, Summary: "waits for the database",
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			_, sawDeadline = r.Context().Deadline()
			<-r.Context().Done()
			return errors.New("token acquisition timeout on edu_acme")
		}}}, Options{Timeout: 20 * time.Millisecond})
	rec := httptest.NewRecorder()
	start := time.Now()
	area.ServeHTTP(rec, httptest.NewRequest("GET", "/slow/wait", nil))
	if !sawDeadline {
		t.Fatal("the handler's context has no deadline")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %s, want about the 20 ms deadline", d)
	}
	p := problemOf(t, rec, http.StatusServiceUnavailable)
	if p.Code != apperr.Unavailable || rec.Header().Get("Retry-After") != RetryAfterUnavailable {
		t.Fatalf("problem %+v, Retry-After %q", p, rec.Header().Get("Retry-After"))
	}
	if strings.Contains(rec.Body.String(), "token") || strings.Contains(rec.Body.String(), "edu_acme") {
		t.Fatalf("the answer leaks the internal error: %s", rec.Body)
	}
}

// Without a timeout the request has no deadline of the area's making, and an opaque error stays a 500.
func TestNoTimeoutNoDeadline(t *testing.T) {
	area := NewArea("plain", []Route{{Method: "GET", Path: "/x", Permission: rbac.Public, Summary: "fails",
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			if _, ok := r.Context().Deadline(); ok {
				t.Error("deadline set without Options.Timeout")
			}
			return errors.New("boom")
		}}}, Options{})
	rec := httptest.NewRecorder()
	area.ServeHTTP(rec, httptest.NewRequest("GET", "/plain/x", nil).WithContext(context.Background()))
	if p := problemOf(t, rec, http.StatusInternalServerError); p.Code != apperr.Internal {
		t.Fatalf("problem %+v", p)
	}
}
