package all

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/envelope"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/triggers/reconcile"
	"github.com/edugrid/edugrid/triggers/reminders"
)

// institutions reaches an institution's database for the payments area's calls without a token
// (webhooks, reconciliation): active institutions only, migrated first as the guard does.
type institutions struct{ a *app.App }

func (i institutions) Open(ctx context.Context, slug string) (*tenant.Tenant, lungo.IDatabase, func(), error) {
	t, err := i.a.Registry.Get(ctx, slug)
	if err != nil {
		return nil, nil, nil, err
	}
	if t.Status != tenant.Active {
		return nil, nil, nil, apperr.Errorf(apperr.NotFound, "no such institution")
	}
	if i.a.Upgrader != nil && i.a.Upgrader.Behind(t) {
		if t, err = i.a.Upgrader.Upgrade(ctx, t); err != nil {
			return nil, nil, nil, &apperr.Error{Code: apperr.Unavailable, Message: "this institution's data is being upgraded; retry shortly"}
		}
	}
	db, release, err := i.a.Databases.Open(ctx, t)
	if err != nil {
		return nil, nil, nil, err
	}
	return t, db, release, nil
}

func (i institutions) Active(ctx context.Context) ([]*tenant.Tenant, error) {
	var out []*tenant.Tenant
	after := ""
	for {
		page, err := i.a.Registry.List(ctx, after, 500)
		if err != nil {
			return nil, err
		}
		for k := range page {
			if page[k].Status == tenant.Active {
				out = append(out, &page[k])
			}
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].Slug
	}
}

// sealers keeps one secrets Box per App: every area of an instance seals and opens with the same key,
// even the key generated for a process that has no key file or KMS key.
var sealers sync.Map // *app.App -> payments.Secrets (nil interface stored as noSecrets)

type noSecrets struct{}

// paymentSecrets returns the Box a's configuration names: Cloud KMS (EDUGRID_SECRETS_KMS_KEY), else off
// production a key file (EDUGRID_SECRETS_KEY_FILE), else a key for this process alone. Production without
// a KMS key seals nothing (nil): the routes that need a secret answer 503.
func paymentSecrets(a *app.App) payments.Secrets {
	if v, ok := sealers.Load(a); ok {
		if s, ok := v.(payments.Secrets); ok {
			return s
		}
		return nil
	}
	var w envelope.Wrapper
	cfg := a.Config.Payments
	var err error
	switch {
	case cfg.KMSKey != "":
		w, err = envelope.NewCloudKMS(context.Background(), cfg.KMSKey)
	case a.Config.Production():
		a.Logger.Error("payments: EDUGRID_SECRETS_KMS_KEY is not set; gateway accounts cannot be stored or used")
	case cfg.KeyFile != "":
		w, err = envelope.LoadOrCreateLocalKey(cfg.KeyFile)
	default:
		w, err = envelope.GenerateLocalKey()
	}
	if err != nil {
		a.Logger.Error("payments: the key sealing gateway secrets is unusable", slog.String("error", err.Error()))
		w = nil
	}
	if w == nil {
		v, _ := sealers.LoadOrStore(a, noSecrets{})
		if s, ok := v.(payments.Secrets); ok {
			return s
		}
		return nil
	}
	v, _ := sealers.LoadOrStore(a, payments.Secrets(envelope.New(w)))
	s, _ := v.(payments.Secrets)
	return s
}

// Gateways returns the payment gateways at the API URLs a's configuration names.
func Gateways(a *app.App) map[payments.Provider]payments.Gateway {
	return map[payments.Provider]payments.Gateway{
		payments.Razorpay: payments.NewRazorpay(a.Config.Payments.RazorpayURL),
		payments.Stripe:   payments.NewStripe(a.Config.Payments.StripeURL),
	}
}

// lateRefunds lets the fees area refund through the payments area, which is built after it (payments
// reads fees' payment path).
type lateRefunds struct{ p *payments.Service }

func (l *lateRefunds) RefundOnline(ctx context.Context, p fees.Payment, amount int64, refundID string) (string, bool, error) {
	if l.p == nil {
		return "", false, nil
	}
	return l.p.RefundOnline(ctx, p, amount, refundID)
}

// newFeesAndPayments builds the fees area and the payments area over it; gws nil uses Gateways(a).
func newFeesAndPayments(a *app.App, gws map[payments.Provider]payments.Gateway) (*fees.Service, *payments.Service) {
	late := &lateRefunds{}
	f := fees.New(fees.Deps{Clock: a.Clock, Audit: a.Audit, Gateway: late})
	if gws == nil {
		gws = Gateways(a)
	}
	p := payments.New(payments.Deps{Clock: a.Clock, Audit: a.Audit, Logger: a.Logger, Fees: f, Secrets: paymentSecrets(a),
		Institutions: institutions{a}, Gateways: gws, Notifier: a.Notifier, PublicURL: a.Config.Delivery.PublicURL})
	late.p = p
	return f, p
}

// reconcileHandler is the reconciliation trigger over p, verifying Cloud Scheduler's OIDC token as the
// reminders trigger does, with the reconciliation's own audience.
func reconcileHandler(a *app.App, p *payments.Service) http.Handler {
	cfg := a.Config
	if cfg.Payments.ReconcileAudience == "" || cfg.SchedulerServiceAccount == "" {
		if cfg.Production() {
			return reconcile.Misconfigured("EDUGRID_RECONCILE_AUDIENCE and EDUGRID_SCHEDULER_SERVICE_ACCOUNT must be set in production", a.Logger)
		}
		return reconcile.Handler(p, payments.DefaultReconcileWindow, nil, a.Logger)
	}
	v, err := reminders.NewOIDC(context.Background(), cfg.Payments.ReconcileAudience, cfg.SchedulerServiceAccount)
	if err != nil {
		return reconcile.Misconfigured(err.Error(), a.Logger)
	}
	return reconcile.Handler(p, payments.DefaultReconcileWindow, v, a.Logger)
}
