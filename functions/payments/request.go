package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// RequestStatus is where a payment request stands.
type RequestStatus string

// The request states. Open: it can be paid. Paid: a capture was recorded as a fees payment. Review: a
// capture did not match and waits on the review list. Cancelled: withdrawn. Expired: past ExpiresAt
// unpaid (shown on read; a late capture of an expired link is still recorded, the money being taken).
const (
	RequestOpen      RequestStatus = "open"
	RequestPaid      RequestStatus = "paid"
	RequestReview    RequestStatus = "review"
	RequestCancelled RequestStatus = "cancelled"
	RequestExpired   RequestStatus = "expired"
)

// Values implements httpapi.Enum.
func (RequestStatus) Values() []string {
	return httpapi.EnumValues([]RequestStatus{RequestOpen, RequestPaid, RequestReview, RequestCancelled, RequestExpired})
}

// The bounds of a request's life. Stripe's Checkout Sessions live at most 24 hours.
const (
	MinExpiry           = 30 * time.Minute
	DefaultExpiry       = 24 * time.Hour
	MaxExpiry           = 30 * 24 * time.Hour
	maxStripeExpiry     = 24 * time.Hour
	defaultExpiryMinute = int(DefaultExpiry / time.Minute)
)

// Request is a payment request: a link at the institution's gateway for part or all of a student's dues.
// Its id is edugrid's reference, carried by the link.
type Request struct {
	ID           string        `bson:"_id" json:"id"`
	StudentID    string        `bson:"student_id" json:"student_id"`
	BranchID     string        `bson:"branch_id" json:"branch_id"`
	InstalmentID string        `bson:"instalment_id,omitempty" json:"instalment_id,omitempty"`
	Provider     Provider      `bson:"provider" json:"provider"`
	Mode         Mode          `bson:"mode" json:"mode"`
	Currency     string        `bson:"currency" json:"currency"`
	Amount       int64         `bson:"amount" json:"amount"`
	Description  string        `bson:"description" json:"description"`
	Status       RequestStatus `bson:"status" json:"status"`
	// ProviderRef is the gateway's id of the link (plink_…, cs_…); URL is what the payer opens.
	ProviderRef string    `bson:"provider_ref" json:"provider_ref" example:"plink_Hq2mVtP1Pz1mNn"`
	URL         string    `bson:"url" json:"url" example:"https://rzp.io/i/nxrHnLJ"`
	ExpiresAt   time.Time `bson:"expires_at" json:"expires_at"`
	// ProviderPaymentID and PaidOn are fixed by the first capture seen, so every later sighting records
	// the very same payment; PaymentID and ReceiptNo are the fees payment it became.
	ProviderPaymentID string `bson:"provider_payment_id,omitempty" json:"provider_payment_id,omitempty"`
	PaidOn            string `bson:"paid_on,omitempty" json:"paid_on,omitempty" format:"date"`
	PaymentID         string `bson:"payment_id,omitempty" json:"payment_id,omitempty"`
	ReceiptNo         int64  `bson:"receipt_no,omitempty" json:"receipt_no,omitempty"`
	// GatewayFee is what the gateway charged for the payment, when its webhook said (Razorpay).
	GatewayFee int64     `bson:"gateway_fee,omitempty" json:"gateway_fee,omitempty"`
	SentAt     time.Time `bson:"sent_at,omitempty" json:"sent_at,omitzero"`
	CreatedBy  string    `bson:"created_by" json:"created_by"`
	CreatedAt  time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt  time.Time `bson:"updated_at" json:"updated_at"`
}

// NewRequest asks for a payment of a student's dues: one instalment (instalment_id), an amount within
// what is due (amount), or, with neither, everything due.
type NewRequest struct {
	StudentID    string `json:"student_id"`
	InstalmentID string `json:"instalment_id,omitempty"`
	Amount       int64  `json:"amount,omitempty"`
	// Provider picks the gateway; by default Razorpay for rupees when the institution has a Razorpay
	// account, else its Stripe account.
	Provider Provider `json:"provider,omitempty"`
	// ExpiresInMinutes is the link's life: 30 to 43,200 (30 days; Stripe at most 1,440); 1,440 by default.
	ExpiresInMinutes int `json:"expires_in_minutes,omitempty" example:"1440"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing, and
// names every bad field at once.
func (n NewRequest) Validate() error {
	n = n.normalized()
	var bad apperr.Problems
	httpapi.CheckID(&bad, "student_id", n.StudentID, "must be a student id")
	if n.InstalmentID != "" {
		httpapi.CheckID(&bad, "instalment_id", n.InstalmentID, "must be an instalment id")
	}
	switch {
	case n.Amount < 0 || n.Amount > fees.MaxAmount:
		bad.Add("amount", apperr.FieldOutOfRange, "must be a positive amount in minor units")
	case n.InstalmentID != "" && n.Amount != 0:
		bad.Add("amount", apperr.FieldNotAllowed, "give an instalment_id or an amount, not both")
	}
	if n.Provider != "" && !n.Provider.Valid() {
		bad.Add("provider", apperr.FieldNotAllowed, `must be "razorpay" or "stripe"`)
	}
	life := time.Duration(n.ExpiresInMinutes) * time.Minute
	switch {
	case life < MinExpiry || life > MaxExpiry:
		bad.Add("expires_in_minutes", apperr.FieldOutOfRange, "must be from 30 to 43200")
	case n.Provider == Stripe && life > maxStripeExpiry:
		bad.Add("expires_in_minutes", apperr.FieldOutOfRange, "must be at most 1440 for Stripe, whose checkout sessions live at most a day")
	}
	return bad.Err()
}

// normalized returns n with its defaults filled in.
func (n NewRequest) normalized() NewRequest {
	if n.ExpiresInMinutes == 0 {
		n.ExpiresInMinutes = defaultExpiryMinute
	}
	return n
}

// CreateRequest creates a payment request and its link at the gateway. NotFound unless the caller may see
// the student (students and guardians: their own) and, when named, the instalment is the student's and
// open; Invalid when the amount exceeds what is due; Conflict when nothing is due or the institution has
// no account for the provider; Unavailable when the gateway cannot be reached.
func (s *Service) CreateRequest(ctx context.Context, in NewRequest) (*Request, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	st, err := students.VisibleStudent(ctx, in.StudentID)
	if err != nil {
		return nil, err
	}
	dues, err := s.deps.Fees.DuesOfStudent(ctx, in.StudentID)
	if err != nil {
		return nil, err
	}
	amount, desc := dues.Outstanding, "fees due"
	switch {
	case in.InstalmentID != "":
		found := false
		for _, x := range dues.Instalments {
			if x.ID == in.InstalmentID {
				amount, desc, found = x.Outstanding, "instalment due "+x.DueDate, true
			}
		}
		if !found {
			return nil, apperr.Errorf(apperr.NotFound, "no such open instalment of the student")
		}
	case in.Amount > 0:
		if in.Amount > dues.Outstanding {
			return nil, apperr.Field("amount", apperr.FieldOutOfRange, fmt.Sprintf("exceeds what the student owes (%d)", dues.Outstanding))
		}
		amount, desc = in.Amount, "part of the fees due"
	}
	if amount <= 0 {
		return nil, apperr.Errorf(apperr.Conflict, "nothing is due from the student")
	}
	t := tenant.FromContext(ctx)
	db := store.Database(ctx)
	provider, err := s.pickProvider(ctx, in.Provider, dues.Currency)
	if err != nil {
		return nil, err
	}
	creds, err := s.openAccount(ctx, db, t.Slug, provider)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil, apperr.Errorf(apperr.Conflict, "the institution has no %s account", provider.Title())
		}
		return nil, err
	}
	gw, err := s.gateway(provider)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &Request{ID: id.New(), StudentID: st.ID, BranchID: st.BranchID, InstalmentID: in.InstalmentID, Provider: provider,
		Mode: creds.Mode, Currency: dues.Currency, Amount: amount, Description: desc + " for " + st.Name, Status: RequestOpen,
		ExpiresAt: now.Add(time.Duration(in.ExpiresInMinutes) * time.Minute), CreatedBy: rbac.Must(ctx).Subject, CreatedAt: now, UpdatedAt: now}
	link, err := gw.CreateLink(ctx, *creds, LinkRequest{RequestID: r.ID, Institution: t.Name, Slug: t.Slug, Amount: r.Amount,
		Currency: r.Currency, Description: r.Description, PayerName: st.Name, ExpiresAt: r.ExpiresAt})
	if err != nil {
		return nil, gatewayError(provider, err)
	}
	r.ProviderRef, r.URL = link.ProviderRef, link.URL
	// A link created at the gateway whose request is not stored would be paid into a void: the capture
	// then has no request and lands on the review list, where it is not lost.
	err = store.Tx(ctx, db, func(tc context.Context) error {
		if _, err := store.Database(tc).Collection(requestsCollection).InsertOne(tc, r); err != nil {
			return fmt.Errorf("payments: record request: %w", err)
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "payments.request.created", audit.Target{Kind: "payment_request", ID: r.ID},
			map[string]any{"student_id": r.StudentID, "amount": r.Amount, "provider": r.Provider, "provider_ref": r.ProviderRef})
	})
	if err != nil {
		return nil, err
	}
	return s.shown(r), nil
}

func gatewayError(p Provider, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w (cause: %v)", unavailable(p), err)
	}
	return err
}

func (s *Service) gateway(p Provider) (Gateway, error) {
	gw, ok := s.deps.Gateways[p]
	if !ok {
		return nil, apperr.Errorf(apperr.Unavailable, "%s is not available in this deployment", p.Title())
	}
	return gw, nil
}

// pickProvider returns want, or the institution's default gateway for currency.
func (s *Service) pickProvider(ctx context.Context, want Provider, currency string) (Provider, error) {
	if want != "" {
		return want, nil
	}
	var have []Provider
	for _, p := range providers {
		n, err := store.Database(ctx).Collection(accountsCollection).CountDocuments(ctx, bson.M{"_id": p})
		if err != nil {
			return "", fmt.Errorf("payments: accounts: %w", err)
		}
		if n > 0 {
			have = append(have, p)
		}
	}
	switch {
	case len(have) == 0:
		return "", apperr.Errorf(apperr.Conflict, "the institution has no payment gateway account")
	case slices.Contains(have, Razorpay) && (strings.EqualFold(currency, "INR") || !slices.Contains(have, Stripe)):
		return Razorpay, nil
	}
	return Stripe, nil
}

// shown returns r as a reader sees it now: open past its expiry reads as expired.
func (s *Service) shown(r *Request) *Request {
	if r.Status == RequestOpen && !s.now().Before(r.ExpiresAt) {
		c := *r
		c.Status = RequestExpired
		return &c
	}
	return r
}

// GetRequest returns a payment request; NotFound unless the caller may see its student.
func (s *Service) GetRequest(ctx context.Context, requestID string) (*Request, error) {
	r, err := store.ByID[Request](ctx, store.Database(ctx).Collection(requestsCollection), requestID, "payment request")
	if err != nil {
		return nil, err
	}
	if err := students.CanSeeStudent(ctx, r.StudentID); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such payment request")
	}
	return s.shown(r), nil
}

// RequestsOf returns a page of a student's payment requests in id order; NotFound unless the caller may
// see the student.
func (s *Service) RequestsOf(ctx context.Context, studentID string, pr httpapi.PageRequest) (httpapi.Page[Request], error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return httpapi.Page[Request]{}, err
	}
	items, err := store.Page[Request](ctx, store.Database(ctx).Collection(requestsCollection), bson.M{"student_id": studentID}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Request]{}, fmt.Errorf("payments: requests of %s: %w", studentID, err)
	}
	for i := range items {
		items[i] = *s.shown(&items[i])
	}
	return httpapi.NewPage(items, pr.Limit, func(r Request) string { return r.ID }), nil
}

// CancelRequest cancels an open request at the gateway and in edugrid. NotFound unless the caller may see
// its student; Conflict unless it is open (a paid one is refunded instead); Unavailable when the gateway
// cannot be reached (nothing changes).
func (s *Service) CancelRequest(ctx context.Context, requestID string) (*Request, error) {
	r, err := s.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	if r.Status != RequestOpen && r.Status != RequestExpired {
		return nil, apperr.Errorf(apperr.Conflict, "the request is %s; only an open request can be cancelled", r.Status)
	}
	t := tenant.FromContext(ctx)
	db := store.Database(ctx)
	creds, err := s.openAccount(ctx, db, t.Slug, r.Provider)
	if err != nil {
		return nil, err
	}
	gw, err := s.gateway(r.Provider)
	if err != nil {
		return nil, err
	}
	if err := gw.CancelLink(ctx, *creds, r.ProviderRef); err != nil {
		return nil, gatewayError(r.Provider, err)
	}
	now := s.now()
	var out Request
	err = store.Tx(ctx, db, func(tc context.Context) error {
		res, err := store.Database(tc).Collection(requestsCollection).UpdateOne(tc, bson.M{"_id": r.ID, "status": RequestOpen},
			bson.M{"$set": bson.M{"status": RequestCancelled, "updated_at": now}})
		if err != nil {
			return fmt.Errorf("payments: cancel request %s: %w", r.ID, err)
		}
		if res.MatchedCount == 0 {
			return apperr.Errorf(apperr.Conflict, "the request was paid or changed meanwhile")
		}
		if err := store.Database(tc).Collection(requestsCollection).FindOne(tc, bson.M{"_id": r.ID}).Decode(&out); err != nil {
			return fmt.Errorf("payments: cancel request %s: %w", r.ID, err)
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "payments.request.cancelled", audit.Target{Kind: "payment_request", ID: r.ID}, nil)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
