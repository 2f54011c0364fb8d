package payments

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// ReviewStatus is where a review stands.
type ReviewStatus string

// The review states: open until someone records the payment or dismisses it (refunded at the gateway,
// say).
const (
	ReviewOpen      ReviewStatus = "open"
	ReviewRecorded  ReviewStatus = "recorded"
	ReviewDismissed ReviewStatus = "dismissed"
)

// Values implements httpapi.Enum.
func (ReviewStatus) Values() []string {
	return httpapi.EnumValues([]ReviewStatus{ReviewOpen, ReviewRecorded, ReviewDismissed})
}

// Review is a captured payment held back from the fees ledger because it did not match what edugrid
// asked for. One per provider payment (Key).
type Review struct {
	ID string `bson:"_id" json:"id"`
	// Key is PaymentKey of the provider's payment: unique, so a capture is reviewed once.
	Key              string       `bson:"key" json:"-"`
	Provider         Provider     `bson:"provider" json:"provider"`
	ProviderPayment  string       `bson:"provider_payment_id" json:"provider_payment_id" example:"pay_29QQoUBi66xm2f"`
	ProviderRef      string       `bson:"provider_ref,omitempty" json:"provider_ref,omitempty"`
	RequestID        string       `bson:"request_id,omitempty" json:"request_id,omitempty"`
	StudentID        string       `bson:"student_id,omitempty" json:"student_id,omitempty"`
	Amount           int64        `bson:"amount" json:"amount"`
	Currency         string       `bson:"currency" json:"currency"`
	ExpectedAmount   int64        `bson:"expected_amount,omitempty" json:"expected_amount,omitempty"`
	ExpectedCurrency string       `bson:"expected_currency,omitempty" json:"expected_currency,omitempty"`
	Reason           string       `bson:"reason" json:"reason"`
	Status           ReviewStatus `bson:"status" json:"status"`
	Note             string       `bson:"note,omitempty" json:"note,omitempty"`
	PaymentID        string       `bson:"payment_id,omitempty" json:"payment_id,omitempty"`
	ReceiptNo        int64        `bson:"receipt_no,omitempty" json:"receipt_no,omitempty"`
	CreatedAt        time.Time    `bson:"created_at" json:"created_at"`
	ResolvedBy       string       `bson:"resolved_by,omitempty" json:"resolved_by,omitempty"`
	ResolvedAt       time.Time    `bson:"resolved_at,omitempty" json:"resolved_at,omitzero"`
}

// review puts a capture on the review list (once per provider payment) and marks its request.
func (s *Service) review(ctx context.Context, c Capture, r *Request, reason string) (Outcome, error) {
	db := store.Database(ctx)
	now := s.now()
	rv := Review{ID: id.New(), Key: PaymentKey(c.Provider, c.PaymentID), Provider: c.Provider, ProviderPayment: c.PaymentID,
		ProviderRef: c.ProviderRef, RequestID: c.RequestID, Amount: c.Amount, Currency: c.Currency, Reason: reason,
		Status: ReviewOpen, CreatedAt: now}
	if r != nil {
		rv.RequestID, rv.StudentID, rv.ExpectedAmount, rv.ExpectedCurrency = r.ID, r.StudentID, r.Amount, r.Currency
	}
	if len(rv.RequestID) > 100 {
		rv.RequestID = ""
	}
	_, err := db.Collection(reviewsCollection).InsertOne(ctx, rv)
	if store.IsDuplicateKey(err) {
		return OutcomeDuplicate, nil
	}
	if err != nil {
		return "", fmt.Errorf("payments: review %s payment %s: %w", c.Provider, c.PaymentID, err)
	}
	if r != nil {
		if _, err := db.Collection(requestsCollection).UpdateOne(ctx, bson.M{"_id": r.ID, "status": RequestOpen},
			bson.M{"$set": bson.M{"status": RequestReview, "updated_at": now}}); err != nil {
			return "", fmt.Errorf("payments: mark request %s for review: %w", r.ID, err)
		}
	}
	s.deps.Logger.Warn("payments: a gateway payment needs review", "tenant", tenant.FromContext(ctx).Slug,
		"provider", string(c.Provider), "payment", c.PaymentID, "reason", reason)
	return OutcomeReview, nil
}

// Reviews returns a page of the review list in id order, the open ones when status is "open". Callers:
// gateways.read.
func (s *Service) Reviews(ctx context.Context, status string, pr httpapi.PageRequest) (httpapi.Page[Review], error) {
	if err := checkReviewStatus(status); err != nil {
		return httpapi.Page[Review]{}, err
	}
	filter := bson.M{}
	if status != "" {
		filter["status"] = ReviewStatus(status)
	}
	items, err := store.Page[Review](ctx, store.Database(ctx).Collection(reviewsCollection), filter, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Review]{}, fmt.Errorf("payments: reviews: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(r Review) string { return r.ID }), nil
}

// checkReviewStatus checks a review list's status filter ("" for every review).
func checkReviewStatus(status string) error {
	switch ReviewStatus(status) {
	case "", ReviewOpen, ReviewRecorded, ReviewDismissed:
		return nil
	}
	return apperr.Field("status", apperr.FieldNotAllowed, `must be "open", "recorded" or "dismissed"`)
}

// ReviewAction is what resolving a review does.
type ReviewAction string

// The actions: record the payment as received (for the student of its request, or student_id), or
// dismiss it (refunded or settled outside edugrid).
const (
	ActionRecord  ReviewAction = "record"
	ActionDismiss ReviewAction = "dismiss"
)

// Values implements httpapi.Enum.
func (ReviewAction) Values() []string {
	return httpapi.EnumValues([]ReviewAction{ActionRecord, ActionDismiss})
}

// Resolution resolves a review.
type Resolution struct {
	Action ReviewAction `json:"action"`
	// StudentID is whose payment it is, for a payment no request matched.
	StudentID string `json:"student_id,omitempty"`
	Note      string `json:"note"`
}

// Validate implements httpapi.Validator. It judges r as normalized leaves it and changes nothing, and
// names every bad field at once.
func (r Resolution) Validate() error {
	r = r.normalized()
	var bad apperr.Problems
	switch r.Action {
	case ActionRecord, ActionDismiss:
	case "":
		bad.Add("action", apperr.FieldRequired, `must be "record" or "dismiss"`)
	default:
		bad.Add("action", apperr.FieldNotAllowed, `must be "record" or "dismiss"`)
	}
	if r.StudentID != "" {
		httpapi.CheckID(&bad, "student_id", r.StudentID, "must be a student id")
	}
	switch {
	case r.Note == "":
		bad.Add("note", apperr.FieldRequired, "must be 3 to 500 characters")
	case len(r.Note) < 3:
		bad.Add("note", apperr.FieldTooShort, "must be 3 to 500 characters")
	case len(r.Note) > 500:
		bad.Add("note", apperr.FieldTooLong, "must be 3 to 500 characters")
	}
	return bad.Err()
}

// normalized returns r as it is recorded: the note without surrounding spaces.
func (r Resolution) normalized() Resolution {
	r.Note = strings.TrimSpace(r.Note)
	return r
}

// ResolveReview records or dismisses a review. Recording goes through the fees payment path under the
// payment's PaymentKey, for the amount actually received. NotFound for no such review (or a student the
// caller may not see); Conflict when it is resolved already, or in another currency than the
// institution's (refund it instead); Invalid without a student to record for. Callers:
// paymentreviews.write.
func (s *Service) ResolveReview(ctx context.Context, reviewID string, in Resolution) (*Review, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	coll := store.Database(ctx).Collection(reviewsCollection)
	rv, err := store.ByID[Review](ctx, coll, reviewID, "review")
	if err != nil {
		return nil, err
	}
	if rv.Status != ReviewOpen {
		return nil, apperr.Errorf(apperr.Conflict, "the review is %s already", rv.Status)
	}
	set := bson.M{"note": in.Note, "resolved_by": rbac.Must(ctx).Subject, "resolved_at": s.now()}
	if in.Action == ActionDismiss {
		set["status"] = ReviewDismissed
	} else {
		student := rv.StudentID
		if student == "" {
			student = in.StudentID
		}
		if student == "" {
			return nil, apperr.Field("student_id", apperr.FieldRequired, "is required: no payment request names whose payment it is")
		}
		if rv.Currency != tenant.FromContext(ctx).Settings.Currency {
			return nil, apperr.Errorf(apperr.Conflict, "the payment is in %s, not the institution's currency; refund it at the gateway and dismiss the review", rv.Currency)
		}
		p, _, err := s.deps.Fees.Pay(ctx, PaymentKey(rv.Provider, rv.ProviderPayment), fees.NewPayment{StudentID: student, Amount: rv.Amount,
			Method: fees.MethodOnline, Reference: rv.ProviderPayment, PaidOn: tenant.FromContext(ctx).Today(rv.CreatedAt),
			Note: fmt.Sprintf("%s payment recorded on review: %s", rv.Provider.Title(), in.Note)})
		if err != nil {
			return nil, err
		}
		set["status"], set["payment_id"], set["receipt_no"], set["student_id"] = ReviewRecorded, p.ID, p.ReceiptNo, student
	}
	var out Review
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		err := store.Database(tc).Collection(reviewsCollection).FindOneAndUpdate(tc, bson.M{"_id": rv.ID, "status": ReviewOpen}, bson.M{"$set": set},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
		if store.IsNotFound(err) {
			return apperr.Errorf(apperr.Conflict, "the review was resolved meanwhile")
		}
		if err != nil {
			return fmt.Errorf("payments: resolve review %s: %w", rv.ID, err)
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "payments.review.resolved", audit.Target{Kind: "payment_review", ID: rv.ID},
			map[string]any{"action": in.Action, "provider_payment_id": rv.ProviderPayment, "amount": rv.Amount, "note": in.Note})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
