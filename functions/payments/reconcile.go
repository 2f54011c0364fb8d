package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/store"
)

// DefaultReconcileWindow is how far back a reconciliation looks for requests still waiting on a payment.
const DefaultReconcileWindow = 7 * 24 * time.Hour

// ReconcileReport is what one reconciliation run did.
type ReconcileReport struct {
	Institutions int `json:"institutions"`
	// Checked is how many open requests were asked about; Recorded how many captures whose webhook never
	// arrived were recorded; Reviewed how many went to the review list.
	Checked  int      `json:"checked"`
	Recorded int      `json:"recorded"`
	Reviewed int      `json:"reviewed"`
	Failed   []string `json:"failed,omitempty"`
}

// Reconcile asks each institution's gateways about every request still open that was created within
// window, and records every capture found through the same path as a webhook (recordCapture), so a
// payment whose webhook was lost, refused or late is recorded exactly once. It is idempotent: run it as
// often as wanted. The report names the institutions that failed (the error says why); the others are
// done.
func (s *Service) Reconcile(ctx context.Context, window time.Duration) (ReconcileReport, error) {
	if window <= 0 {
		window = DefaultReconcileWindow
	}
	ts, err := s.deps.Institutions.Active(ctx)
	if err != nil {
		return ReconcileReport{}, fmt.Errorf("payments: reconcile: institutions: %w", err)
	}
	var rep ReconcileReport
	var errs []error
	for _, t := range ts {
		checked, recorded, reviewed, err := s.reconcileOne(ctx, t.Slug, window)
		rep.Institutions++
		rep.Checked, rep.Recorded, rep.Reviewed = rep.Checked+checked, rep.Recorded+recorded, rep.Reviewed+reviewed
		if err != nil {
			rep.Failed = append(rep.Failed, t.Slug)
			errs = append(errs, fmt.Errorf("%s: %w", t.Slug, err))
			s.deps.Logger.Error("payments: reconcile an institution", slog.String("tenant", t.Slug), slog.String("error", err.Error()))
		}
	}
	return rep, errors.Join(errs...)
}

func (s *Service) reconcileOne(ctx context.Context, slug string, window time.Duration) (checked, recorded, reviewed int, err error) {
	t, db, release, err := s.deps.Institutions.Open(ctx, slug)
	if err != nil {
		return 0, 0, 0, err
	}
	defer release()
	cur, err := db.Collection(requestsCollection).Find(ctx, bson.M{"status": RequestOpen, "created_at": bson.M{"$gte": s.now().Add(-window)}})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("open requests: %w", err)
	}
	var open []Request
	if err := cur.All(ctx, &open); err != nil {
		return 0, 0, 0, fmt.Errorf("open requests: %w", err)
	}
	creds := map[Provider]*credentials{}
	for _, r := range open {
		c, ok := creds[r.Provider]
		if !ok {
			if c, err = s.openAccount(ctx, db, t.Slug, r.Provider); err != nil && apperr.CodeOf(err) != apperr.NotFound {
				return checked, recorded, reviewed, err
			}
			creds[r.Provider] = c
		}
		gw, gerr := s.gateway(r.Provider)
		if c == nil || gerr != nil {
			continue
		}
		checked++
		captures, err := gw.LinkCaptures(ctx, *c, r.ProviderRef)
		if err != nil {
			return checked, recorded, reviewed, fmt.Errorf("request %s: %w", r.ID, err)
		}
		gctx := asGateway(ctx, t, db, r.Provider)
		for _, cp := range captures {
			o, err := s.recordCapture(gctx, cp)
			if err != nil {
				return checked, recorded, reviewed, err
			}
			switch o {
			case OutcomeRecorded:
				recorded++
			case OutcomeReview:
				reviewed++
			}
		}
	}
	return checked, recorded, reviewed, nil
}

// Settlement is what went through one gateway account over a period.
type Settlement struct {
	Provider Provider `json:"provider"`
	Currency string   `json:"currency"`
	From     string   `json:"from" format:"date"`
	To       string   `json:"to" format:"date"`
	// Captured is what payers paid (recorded payments, by paid_on); Refunded what went back through the
	// gateway (processed refunds) and RefundsPending what it has not confirmed yet; InReview what waits
	// on the review list.
	Payments       int   `json:"payments"`
	Captured       int64 `json:"captured"`
	Refunded       int64 `json:"refunded"`
	RefundsPending int64 `json:"refunds_pending"`
	InReview       int64 `json:"in_review"`
	// Fees is what the gateway charged, as far as its webhooks said (Razorpay reports its fee; Stripe's
	// Checkout events do not, so Stripe's are 0 here).
	Fees int64 `json:"fees"`
	// Net is Captured less Refunded and Fees: what the gateway owes the institution for the period.
	Net int64 `json:"net"`
}

// SettlementView returns, per gateway, what was captured, refunded and held for review between from and
// to (dates, inclusive). Invalid for bad dates. Callers: gateways.read.
func (s *Service) SettlementView(ctx context.Context, from, to string) ([]Settlement, error) {
	var bad apperr.Problems
	for _, q := range [][2]string{{"from", from}, {"to", to}} {
		field, v := q[0], q[1]
		if v == "" {
			bad.Add(field, apperr.FieldRequired, "is a required date (YYYY-MM-DD)")
		}
		bad.Check(httpapi.OptionalDate(field, v))
	}
	if !bad.Has("from") && !bad.Has("to") && from > to {
		bad.Add("to", apperr.FieldOutOfRange, "must not be before from")
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	db := store.Database(ctx)
	out := []Settlement{}
	for _, p := range providers {
		st := Settlement{Provider: p, From: from, To: to}
		var paid []Request
		cur, err := db.Collection(requestsCollection).Find(ctx, bson.M{"provider": p, "status": RequestPaid, "paid_on": bson.M{"$gte": from, "$lte": to}})
		if err == nil {
			err = cur.All(ctx, &paid)
		}
		if err != nil {
			return nil, fmt.Errorf("payments: settlement: %w", err)
		}
		for _, r := range paid {
			st.Payments++
			st.Captured += r.Amount
			st.Fees += r.GatewayFee
			st.Currency = r.Currency
		}
		var refunds []OnlineRefund
		cur, err = db.Collection(refundsCollection).Find(ctx, bson.M{"provider": p})
		if err == nil {
			err = cur.All(ctx, &refunds)
		}
		if err != nil {
			return nil, fmt.Errorf("payments: settlement: %w", err)
		}
		for _, r := range refunds {
			day := r.CreatedAt.Format(time.DateOnly)
			if day < from || day > to {
				continue
			}
			switch r.Status {
			case RefundProcessed:
				st.Refunded += r.Amount
			case RefundPending:
				st.RefundsPending += r.Amount
			}
		}
		var reviews []Review
		cur, err = db.Collection(reviewsCollection).Find(ctx, bson.M{"provider": p, "status": ReviewOpen})
		if err == nil {
			err = cur.All(ctx, &reviews)
		}
		if err != nil {
			return nil, fmt.Errorf("payments: settlement: %w", err)
		}
		for _, r := range reviews {
			st.InReview += r.Amount
		}
		st.Net = st.Captured - st.Refunded - st.Fees
		out = append(out, st)
	}
	return out, nil
}
