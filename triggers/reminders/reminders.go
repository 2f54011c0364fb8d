// Package reminders is the HTTP entry point Cloud Scheduler calls to run the fees area's daily work over
// every institution: apply due late fees and send fee reminders.
//
// In production the trigger acts only for a Google-signed OIDC ID token whose audience is
// EDUGRID_SCHEDULER_AUDIENCE and whose verified email is EDUGRID_SCHEDULER_SERVICE_ACCOUNT (OIDC); without
// them configured it refuses every call. Locally, with no audience configured, it runs for any caller; the
// local stack also runs it on a timer and on demand.
//
// One run walks every active tenant with bounded concurrency (Runner.Concurrency). Per tenant it first
// publishes notifications a previous, interrupted run recorded but did not publish (notify.Flush), then
// applies late fees (Fees.ApplyLateFees: once per rule and instalment) and sends the reminders the tenant's
// policy calls for (Fees.DueReminders through notify.Send: at most once per instalment and stage). Every
// step is idempotent, so a run killed halfway and started again sends nothing twice, and the scheduler may
// retry freely: a run with failed tenants answers 500 so it does.
package reminders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/tenant"
)

// DefaultConcurrency is how many tenants a run works on at once when Runner.Concurrency is 0.
const DefaultConcurrency = 8

// sendBatch bounds how many reminders one notify.Send call records.
const sendBatch = 1000

// Runner runs reminder runs. Its fields are set by the caller and read-only after.
type Runner struct {
	// Fees applies late fees and says which reminders are due (the fees area).
	Fees      Fees
	Registry  *tenant.Registry
	Databases *tenant.Databases
	Publisher notify.Publisher
	Clock     clock.Clock
	Logger    *slog.Logger
	// Concurrency bounds the tenants worked on at once; DefaultConcurrency when 0.
	Concurrency int
	// ProgressEvery is how often a run logs a progress line; 10 s when 0.
	ProgressEvery time.Duration
}

// Fees is what a run asks of the fees area for each tenant.
type Fees interface {
	// ApplyLateFees applies the late fees due as of now and returns how many instalments it changed.
	ApplyLateFees(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, now time.Time) (int, error)
	// DueReminders returns the reminders due now, each with an ID that makes sending it idempotent.
	DueReminders(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, now time.Time) ([]notify.Notification, error)
}

// Report is what one run did.
type Report struct {
	Tenants   int `json:"tenants"`
	Failed    int `json:"failed"`
	LateFees  int `json:"late_fees"`
	Reminders int `json:"reminders"`
	// Skipped counts reminders already sent by an earlier run; Flushed those an interrupted run had
	// recorded and this one published.
	Skipped  int      `json:"skipped"`
	Flushed  int      `json:"flushed"`
	Errors   []string `json:"errors,omitempty"`
	Started  string   `json:"started"`
	Duration string   `json:"duration"`
}

// TenantReport is what a run did for one tenant.
type TenantReport struct {
	LateFees, Reminders, Skipped, Flushed int
}

// Run works through every active tenant. It returns an error, with the report, when any tenant failed
// or ctx ended; the tenants that succeeded keep their work either way.
func (r *Runner) Run(ctx context.Context) (Report, error) {
	start := r.Clock.Now()
	rep := Report{Started: start.Format(time.RFC3339)}
	var ts []tenant.Tenant
	for after := ""; ; {
		page, err := r.Registry.List(ctx, after, 500)
		if err != nil {
			return rep, fmt.Errorf("reminder run: %w", err)
		}
		for _, t := range page[:min(len(page), 500)] {
			if t.Status == tenant.Active {
				ts = append(ts, t)
			}
		}
		if len(page) <= 500 {
			break
		}
		after = page[499].Slug
	}
	rep.Tenants = len(ts)
	r.logger().Info("reminder run started", slog.Int("tenants", len(ts)))

	var (
		mu   sync.Mutex
		done atomic.Int64
		errs []error
		wg   sync.WaitGroup
	)
	jobs := make(chan *tenant.Tenant)
	workers := r.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	for range min(workers, max(len(ts), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range jobs {
				tr, err := r.RunTenant(ctx, t)
				mu.Lock()
				rep.LateFees += tr.LateFees
				rep.Reminders += tr.Reminders
				rep.Skipped += tr.Skipped
				rep.Flushed += tr.Flushed
				if err != nil {
					rep.Failed++
					errs = append(errs, err)
					if len(rep.Errors) < 20 {
						rep.Errors = append(rep.Errors, fmt.Sprintf("tenant %s failed", t.Slug))
					}
					r.logger().Error("reminder run: tenant failed", slog.String("tenant", t.Slug), slog.String("error", err.Error()))
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	stopProgress := r.progress(&done, len(ts))
	for i := range ts {
		if ctx.Err() != nil {
			break
		}
		jobs <- &ts[i]
	}
	close(jobs)
	wg.Wait()
	stopProgress()
	rep.Duration = r.Clock.Now().Sub(start).String()
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("reminder run stopped: %w", ctx.Err()))
	}
	r.logger().Info("reminder run finished", slog.Int("tenants", rep.Tenants), slog.Int("failed", rep.Failed),
		slog.Int("late_fees", rep.LateFees), slog.Int("reminders", rep.Reminders), slog.Int("skipped", rep.Skipped),
		slog.Int("flushed", rep.Flushed), slog.String("duration", rep.Duration))
	return rep, errors.Join(errs...)
}

// progress logs how far the run is every ProgressEvery until the returned function is called.
func (r *Runner) progress(done *atomic.Int64, total int) func() {
	every := r.ProgressEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				r.logger().Info("reminder run progress", slog.Int64("done", done.Load()), slog.Int("tenants", total))
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// RunTenant does one tenant's part of a run.
func (r *Runner) RunTenant(ctx context.Context, t *tenant.Tenant) (TenantReport, error) {
	var tr TenantReport
	db, release, err := r.Databases.Open(ctx, t)
	if err != nil {
		return tr, fmt.Errorf("tenant %s: %w", t.Slug, err)
	}
	defer release()
	// What an interrupted run recorded but did not publish goes out first, once.
	fl, err := notify.Flush(ctx, db, r.Publisher)
	tr.Flushed = fl.Published
	if err != nil {
		return tr, fmt.Errorf("tenant %s: flush: %w", t.Slug, err)
	}
	now := r.Clock.Now()
	if tr.LateFees, err = r.Fees.ApplyLateFees(ctx, db, t, now); err != nil {
		return tr, fmt.Errorf("tenant %s: %w", t.Slug, err)
	}
	ns, err := r.Fees.DueReminders(ctx, db, t, now)
	if err != nil {
		return tr, fmt.Errorf("tenant %s: %w", t.Slug, err)
	}
	for len(ns) > 0 {
		n := min(len(ns), sendBatch)
		res, err := notify.Send(ctx, db, r.Publisher, ns[:n])
		tr.Reminders += res.Published
		tr.Skipped += res.Skipped
		if err != nil {
			return tr, fmt.Errorf("tenant %s: send reminders: %w", t.Slug, err)
		}
		ns = ns[n:]
	}
	return tr, nil
}

// Handler is the trigger's HTTP handler: POST with the scheduler's bearer token runs one reminder run and
// answers its Report (200, or 500 when a tenant failed so the scheduler retries). validator nil accepts
// any caller (local only); a missing or refused token is 401 problem+json.
func Handler(r *Runner, validator TokenValidator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpapi.WriteError(w, req, apperr.Errorf(apperr.MethodNotAllowed, "The method %s is not allowed here; this path answers POST.", req.Method))
			return
		}
		if validator != nil {
			if err := validator.Validate(req.Context(), httpapi.BearerToken(req)); err != nil {
				r.logger().Warn("reminders: refused a token", slog.String("error", err.Error()))
				httpapi.WriteError(w, req, apperr.Errorf(apperr.Unauthenticated, "a valid scheduler token is required"))
				return
			}
		}
		rep, err := r.Run(req.Context())
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
		}
		httpapi.JSON(w, status, rep)
	})
}

// misconfigured answers every call with 503: a production trigger without its token settings must not
// run for anyone.
func misconfigured(why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		slog.Error("reminders: " + why)
		httpapi.WriteError(w, req, apperr.Errorf(apperr.Unavailable, "the reminders trigger is not configured"))
	})
}
