package payments

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/money"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// KindRequest is the notification kind of a sent payment request. It has no template of its own: the
// notifications area renders its subject and body in the institution's branding.
const KindRequest = "fees.payment_request"

// SendRequest sends an open request's link to the student and each guardian with a sign-in account,
// through the notifications outbox: at most once per request and person, however often it is called.
// NotFound unless the caller may see the student; Conflict unless the request is open; Unavailable when
// notifications cannot be sent. Callers: paymentrequests.send (staff).
func (s *Service) SendRequest(ctx context.Context, requestID string) (*Request, error) {
	r, err := s.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if r.Status != RequestOpen {
		return nil, apperr.Errorf(apperr.Conflict, "the request is %s; only an open request can be sent", r.Status)
	}
	if s.deps.Notifier == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "notifications cannot be sent from here")
	}
	db := store.Database(ctx)
	t := tenant.FromContext(ctx)
	sts, err := students.ContactsOf(ctx, db, []string{r.StudentID})
	if err != nil || len(sts) == 0 {
		return nil, fmt.Errorf("payments: contacts of %s: %w", r.StudentID, err)
	}
	guardians, err := students.GuardianAccounts(ctx, db, sts[0].GuardianIDs)
	if err != nil {
		return nil, err
	}
	to := []string{sts[0].AccountID}
	for _, acc := range guardians {
		to = append(to, acc)
	}
	now := s.now()
	subject := fmt.Sprintf("%s: please pay %s", t.Name, money.Format(r.Amount, r.Currency))
	body := fmt.Sprintf("%s asks for %s (%s). Pay online at %s before %s.", t.Name, money.Format(r.Amount, r.Currency), r.Description,
		r.URL, r.ExpiresAt.In(t.Location()).Format("2 Jan 2006 15:04"))
	var ns []notify.Notification
	for _, acc := range to {
		if acc == "" {
			continue
		}
		ns = append(ns, notify.Notification{ID: "payment_request:" + r.ID + ":" + acc, Tenant: t.Slug, Kind: KindRequest, Recipient: acc,
			Subject: subject, Body: body, Data: map[string]string{"url": r.URL, "amount": money.Format(r.Amount, r.Currency), "request_id": r.ID}, CreatedAt: now})
	}
	if len(ns) == 0 {
		return nil, apperr.Errorf(apperr.Conflict, "neither the student nor a guardian has an account to send to")
	}
	if _, err := notify.Send(ctx, db, s.deps.Notifier, ns); err != nil {
		return nil, err
	}
	if _, err := db.Collection(requestsCollection).UpdateOne(ctx, bson.M{"_id": r.ID}, bson.M{"$set": bson.M{"sent_at": now}}); err != nil {
		return nil, fmt.Errorf("payments: mark request %s sent: %w", r.ID, err)
	}
	if err := s.deps.Audit.Record(ctx, db, audit.By(rbac.Must(ctx)), "payments.request.sent", audit.Target{Kind: "payment_request", ID: r.ID},
		map[string]any{"recipients": len(ns)}); err != nil {
		return nil, err
	}
	r.SentAt = now
	return r, nil
}
