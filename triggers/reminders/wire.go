package reminders

import (
	"context"
	"net/http"

	"github.com/edugrid/edugrid/shared/app"
)

// FromApp builds the trigger over a warm instance's App and the fees area: the production OIDC check when
// an audience is configured, 503 for every call in production when it is not, and no check locally. The
// wiring (functions/all) registers it as the entry point "reminders".
func FromApp(a *app.App, f Fees) http.Handler {
	r := NewRunner(a, f)
	cfg := a.Config
	if cfg.SchedulerAudience == "" || cfg.SchedulerServiceAccount == "" {
		if cfg.Production() {
			return misconfigured("EDUGRID_SCHEDULER_AUDIENCE and EDUGRID_SCHEDULER_SERVICE_ACCOUNT must be set in production")
		}
		a.Logger.Warn("reminders: no scheduler audience configured; the trigger accepts any caller (local only)")
		return Handler(r, nil)
	}
	v, err := NewOIDC(context.Background(), cfg.SchedulerAudience, cfg.SchedulerServiceAccount)
	if err != nil {
		return misconfigured(err.Error())
	}
	return Handler(r, v)
}

// NewRunner returns a Runner over f and a's registry, databases, notifier, clock and logger.
func NewRunner(a *app.App, f Fees) *Runner {
	return &Runner{Fees: f, Registry: a.Registry, Databases: a.Databases, Publisher: a.Notifier, Clock: a.Clock, Logger: a.Logger}
}
