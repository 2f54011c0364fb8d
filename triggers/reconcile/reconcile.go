// Package reconcile is the HTTP entry point Cloud Scheduler calls to reconcile online payments: every
// institution's open payment requests of the last days are checked with their gateway, and a capture
// whose webhook never arrived is recorded (functions/payments, Service.Reconcile). A run is idempotent,
// so the scheduler may retry freely; a run in which an institution failed answers 500 so it does.
//
// In production the trigger acts only for a Google-signed OIDC token whose audience is
// EDUGRID_RECONCILE_AUDIENCE and whose email is EDUGRID_SCHEDULER_SERVICE_ACCOUNT (the reminders
// trigger's verifier); without them it refuses every call. Locally, with no audience, any caller runs it.
package reconcile

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/triggers/reminders"
)

// Reconciler runs one reconciliation (payments.Service).
type Reconciler interface {
	Reconcile(ctx context.Context, window time.Duration) (payments.ReconcileReport, error)
}

// Handler answers POST with the scheduler's token by running one reconciliation over window and
// answering its report (200, or 500 when an institution failed). validator nil accepts any caller
// (local only).
func Handler(r Reconciler, window time.Duration, validator reminders.TokenValidator, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			httpapi.WriteError(w, req, apperr.Errorf(apperr.MethodNotAllowed, "The method %s is not allowed here; this path answers POST.", req.Method))
			return
		}
		if validator != nil {
			if err := validator.Validate(req.Context(), httpapi.BearerToken(req)); err != nil {
				log.Warn("reconcile: refused a token", slog.String("error", err.Error()))
				httpapi.WriteError(w, req, apperr.Errorf(apperr.Unauthenticated, "a valid scheduler token is required"))
				return
			}
		}
		rep, err := r.Reconcile(req.Context(), window)
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
		}
		httpapi.JSON(w, status, rep)
	})
}

// Misconfigured answers every call with 503: a production trigger without its token settings runs for
// no one.
func Misconfigured(why string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		log.Error("reconcile: " + why)
		httpapi.WriteError(w, req, apperr.Errorf(apperr.Unavailable, "the reconciliation trigger is not configured"))
	})
}
