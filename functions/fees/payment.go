package fees

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// PaymentMethod is how money was received or given back.
type PaymentMethod string

// Payment methods.
const (
	MethodCash         PaymentMethod = "cash"
	MethodCard         PaymentMethod = "card"
	MethodBankTransfer PaymentMethod = "bank_transfer"
	MethodOnline       PaymentMethod = "online" // through a payment gateway; Reference is the gateway's
)

// paymentMethods lists every payment method; the API document shows them as the enum of a payment method field.
var paymentMethods = []PaymentMethod{MethodCash, MethodCard, MethodBankTransfer, MethodOnline}

// Values implements httpapi.Enum.
func (PaymentMethod) Values() []string { return httpapi.EnumValues(paymentMethods) }

// Valid reports whether v is one of Values.
func (v PaymentMethod) Valid() bool { return slices.Contains(paymentMethods, v) }

// Allocation is the part of a payment applied to one instalment. Refunded is how much of it was given back.
type Allocation struct {
	InstalmentID string `bson:"instalment_id" json:"instalment_id"`
	Amount       int64  `bson:"amount" json:"amount"`
	Refunded     int64  `bson:"refunded" json:"refunded"`
}

// Payment is money received from or for a student, and its receipt: ReceiptNo is the tenant's gap-free
// receipt sequence. Credit is the part no open instalment needed, held as the student's credit.
type Payment struct {
	ID          string        `bson:"_id" json:"id"`
	ReceiptNo   int64         `bson:"receipt_no" json:"receipt_no"`
	StudentID   string        `bson:"student_id" json:"student_id"`
	BranchID    string        `bson:"branch_id" json:"branch_id"`
	Currency    string        `bson:"currency" json:"currency"`
	Amount      int64         `bson:"amount" json:"amount"`
	Method      PaymentMethod `bson:"method" json:"method"`
	Reference   string        `bson:"reference,omitempty" json:"reference,omitempty"`
	PaidOn      string        `bson:"paid_on" json:"paid_on" format:"date"`
	Note        string        `bson:"note,omitempty" json:"note,omitempty"`
	Allocations []Allocation  `bson:"allocations" json:"allocations"`
	Credit      int64         `bson:"credit" json:"credit"`
	// CreditRefunded is how much of Credit was given back by refunds.
	CreditRefunded int64     `bson:"credit_refunded" json:"credit_refunded"`
	Refunded       int64     `bson:"refunded" json:"refunded"`
	RecordedBy     string    `bson:"recorded_by" json:"recorded_by"`
	CreatedAt      time.Time `bson:"created_at" json:"created_at"`
}

// Credit is a student's balance of overpayments not yet refunded or used.
type Credit struct {
	StudentID string    `bson:"_id" json:"student_id"`
	Currency  string    `bson:"currency" json:"currency"`
	Balance   int64     `bson:"balance" json:"balance"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// NewPayment records a payment for a student.
type NewPayment struct {
	StudentID string        `json:"student_id"`
	Amount    int64         `json:"amount"`
	Method    PaymentMethod `json:"method"`
	// Reference is the gateway's reference (required for online payments), a card slip or a bank
	// transaction number.
	Reference string `json:"reference,omitempty"`
	// PaidOn is the tenant-local date the money was received; today when omitted.
	PaidOn string `json:"paid_on,omitempty" format:"date"`
	Note   string `json:"note,omitempty"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing, so
// validating before or after normalising gives one answer.
func (n NewPayment) Validate() error {
	n = n.normalized()
	var bad apperr.Problems
	httpapi.CheckID(&bad, "student_id", n.StudentID, "must be a student id")
	checkAmount(&bad, n.Amount)
	checkMethod(&bad, n.Method)
	if n.Method == MethodOnline && n.Reference == "" {
		bad.Add("reference", apperr.FieldRequired, "is required for online payments: the gateway's reference")
	}
	if len(n.Reference) > 200 {
		bad.Add("reference", apperr.FieldTooLong, "must be at most 200 bytes")
	}
	if len(n.Note) > 500 {
		bad.Add("note", apperr.FieldTooLong, "must be at most 500 bytes")
	}
	bad.Check(httpapi.OptionalDate("paid_on", n.PaidOn))
	return bad.Err()
}

// checkAmount records amount as out of range unless it is a positive amount in minor units.
func checkAmount(bad *apperr.Problems, amount int64) {
	if amount < 1 || amount > MaxAmount {
		bad.Add("amount", apperr.FieldOutOfRange, "must be a positive amount in minor units")
	}
}

// checkMethod records method as missing or not allowed unless it is a payment method.
func checkMethod(bad *apperr.Problems, m PaymentMethod) {
	switch m {
	case MethodCash, MethodCard, MethodBankTransfer, MethodOnline:
	case "":
		bad.Add("method", apperr.FieldRequired, `must be "cash", "card", "bank_transfer" or "online"`)
	default:
		bad.Add("method", apperr.FieldNotAllowed, `must be "cash", "card", "bank_transfer" or "online"`)
	}
}

// normalized returns n as it is recorded and fingerprinted: the reference without surrounding spaces.
func (n NewPayment) normalized() NewPayment {
	n.Reference = strings.TrimSpace(n.Reference)
	return n
}

// idempotencyRecord remembers which payment a key recorded and for which request.
type idempotencyRecord struct {
	Key       string    `bson:"_id"`
	Hash      string    `bson:"hash"`
	PaymentID string    `bson:"payment_id"`
	CreatedAt time.Time `bson:"created_at"`
}

// ValidateIdempotencyKey checks an Idempotency-Key header value: 1 to 200 printable ASCII characters.
func ValidateIdempotencyKey(key string) error {
	if key == "" {
		return apperr.Field("Idempotency-Key", apperr.FieldRequired, "the header is required: a unique key per payment, reused on retries")
	}
	if len(key) > 200 {
		return apperr.Field("Idempotency-Key", apperr.FieldTooLong, "must be at most 200 characters")
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return apperr.Field("Idempotency-Key", apperr.FieldFormat, "must be printable ASCII without spaces")
		}
	}
	return nil
}

func requestHash(in NewPayment) string {
	b, _ := json.Marshal(in) // a plain struct: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Pay records a payment under an idempotency key and allocates it to the student's oldest open
// instalments (by due date), holding any overpayment as the student's credit. The key, the receipt number,
// the allocations, the credit and the audit entry are written in one transaction, so retries and
// concurrent duplicates record exactly one payment and an aborted payment leaves no gap in the receipts.
//
// Pay validates key (ValidateIdempotencyKey) and in (NewPayment.Validate) itself, so a Go caller gets the
// Invalid answers an HTTP caller gets. A repeat of a key with the same request returns the original
// payment and replayed = true; with a different request it is a Conflict. NotFound unless the caller may
// see the student.
func (s *Service) Pay(ctx context.Context, key string, in NewPayment) (*Payment, bool, error) {
	if err := ValidateIdempotencyKey(key); err != nil {
		return nil, false, err
	}
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	in = in.normalized()
	// Visibility first, so a replay never shows a payment to a caller who may not see its student.
	st, err := students.VisibleStudent(ctx, in.StudentID)
	if err != nil {
		return nil, false, err
	}
	hash := requestHash(in)
	now := s.deps.Clock.Now()
	paidOn := in.PaidOn
	if paidOn == "" {
		paidOn = s.today(ctx)
	}
	var (
		out      *Payment
		replayed bool
	)
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		out, replayed = nil, false // the driver may run this function again
		// The key is looked up inside the transaction: on the embedded engine transactions run one at a
		// time, so a concurrent duplicate that committed first is seen here.
		if p, err := replay(tc, key, hash); p != nil || err != nil {
			out, replayed = p, p != nil
			return err
		}
		db := store.Database(tc)
		p := &Payment{ID: id.New(), StudentID: in.StudentID, BranchID: st.BranchID, Currency: currency(tc), Amount: in.Amount,
			Method: in.Method, Reference: in.Reference, PaidOn: paidOn, Note: in.Note, Allocations: []Allocation{},
			RecordedBy: rbac.Must(tc).Subject, CreatedAt: now}
		// On MongoDB the unique _id decides between concurrent duplicates: the loser's transaction fails
		// here or at commit, and the replay below answers it.
		if _, err := db.Collection(idempotencyCollection).InsertOne(tc, idempotencyRecord{Key: key, Hash: hash, PaymentID: p.ID, CreatedAt: now}); err != nil {
			return fmt.Errorf("record idempotency key: %w", err)
		}
		if err := allocate(tc, p, now); err != nil {
			return err
		}
		if p.Credit > 0 {
			if err := addCredit(tc, p.StudentID, p.Currency, p.Credit, now); err != nil {
				return err
			}
		}
		// The receipt counter and the audit head are the institution's hot documents: every payment
		// writes both, and on MongoDB a second transaction writing one waits for this one's commit by
		// aborting and rerunning. Taking them last keeps that window to the commit itself.
		var err error
		if p.ReceiptNo, err = nextNumber(tc, "receipt"); err != nil {
			return err
		}
		if _, err := db.Collection(paymentsCollection).InsertOne(tc, p); err != nil {
			return fmt.Errorf("record payment: %w", err)
		}
		if err := s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "fees.payment.recorded", audit.Target{Kind: "fee_payment", ID: p.ID}, map[string]any{
			"receipt_no": p.ReceiptNo, "student_id": p.StudentID, "amount": p.Amount, "method": p.Method,
			"reference": p.Reference, "credit": p.Credit, "allocations": len(p.Allocations),
		}); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		if store.IsDuplicateKey(err) || apperr.CodeOf(err) == apperr.Conflict && !isKeyReused(err) {
			// A concurrent duplicate won the race for the key (MongoDB); answer with its payment.
			if p, rerr := replay(ctx, key, hash); p != nil || rerr != nil {
				return p, p != nil, rerr
			}
		}
		return nil, false, err
	}
	return out, replayed, nil
}

var errKeyReused = apperr.Errorf(apperr.Conflict, "this Idempotency-Key was used for a different payment")

func keyReused() error           { return errKeyReused }
func isKeyReused(err error) bool { return apperr.As(err) == errKeyReused }

// replay returns the payment recorded under key, nil when the key is unused, or Conflict when it was used
// for a different request. ctx is the payment's transaction, or after a lost race the request itself.
func replay(ctx context.Context, key, hash string) (*Payment, error) {
	db := store.Database(ctx)
	var rec idempotencyRecord
	err := db.Collection(idempotencyCollection).FindOne(ctx, bson.M{"_id": key}).Decode(&rec)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up idempotency key: %w", err)
	}
	if rec.Hash != hash {
		return nil, keyReused()
	}
	var p Payment
	if err := db.Collection(paymentsCollection).FindOne(ctx, bson.M{"_id": rec.PaymentID}).Decode(&p); err != nil {
		return nil, fmt.Errorf("replay payment %s: %w", rec.PaymentID, err)
	}
	return &p, nil
}

// allocate applies p to the student's open instalments, oldest due date first, inside tc; what is left
// becomes p.Credit.
func allocate(tc context.Context, p *Payment, now time.Time) error {
	coll := store.Database(tc).Collection(instalmentsCollection)
	cur, err := coll.Find(tc, bson.M{"student_id": p.StudentID, "status": InstalmentOpen},
		options.Find().SetSort(bson.D{{Key: "due_date", Value: 1}, {Key: "seq", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("open instalments of %s: %w", p.StudentID, err)
	}
	var open []Instalment
	if err := cur.All(tc, &open); err != nil {
		return fmt.Errorf("open instalments of %s: %w", p.StudentID, err)
	}
	left := p.Amount
	for _, i := range open {
		if left == 0 {
			break
		}
		x := min(left, i.Outstanding)
		if x <= 0 {
			continue
		}
		if err := moveMoney(tc, i, x, 0, now); err != nil {
			return err
		}
		p.Allocations = append(p.Allocations, Allocation{InstalmentID: i.ID, Amount: x})
		left -= x
	}
	p.Credit = left
	return nil
}

// moveMoney records paid (negative for a refund) and waived amounts against an instalment inside tc. The
// filter re-checks the outstanding amount read earlier, so a change made meanwhile outside the transaction
// (a late fee) is never overwritten: the payment fails with Conflict and the caller retries.
func moveMoney(tc context.Context, i Instalment, paid, waived int64, now time.Time) error {
	outstanding := i.Outstanding - paid - waived
	res, err := store.Database(tc).Collection(instalmentsCollection).UpdateOne(tc,
		bson.M{"_id": i.ID, "outstanding": i.Outstanding},
		bson.M{"$inc": bson.M{"paid": paid, "waived": waived, "outstanding": -paid - waived},
			"$set": bson.M{"status": statusOf(outstanding), "updated_at": now}})
	if err != nil {
		return fmt.Errorf("record money on instalment %s: %w", i.ID, err)
	}
	if res.MatchedCount == 0 {
		return apperr.Errorf(apperr.Conflict, "the instalment changed meanwhile; try again")
	}
	return nil
}

func addCredit(tc context.Context, studentID, cur string, amount int64, now time.Time) error {
	_, err := store.Database(tc).Collection(creditsCollection).UpdateOne(tc, bson.M{"_id": studentID},
		bson.M{"$inc": bson.M{"balance": amount}, "$set": bson.M{"currency": cur, "updated_at": now}},
		options.Update().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("credit student %s: %w", studentID, err)
	}
	return nil
}

func creditOf(ctx context.Context, studentID string) (int64, error) {
	var c Credit
	err := store.Database(ctx).Collection(creditsCollection).FindOne(ctx, bson.M{"_id": studentID}).Decode(&c)
	if store.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("credit of %s: %w", studentID, err)
	}
	return c.Balance, nil
}

// GetPayment returns a payment (its receipt); NotFound unless the caller may see its student.
func (s *Service) GetPayment(ctx context.Context, paymentID string) (*Payment, error) {
	p, err := store.ByID[Payment](ctx, store.Database(ctx).Collection(paymentsCollection), paymentID, "payment")
	if err != nil {
		return nil, err
	}
	if err := students.CanSeeStudent(ctx, p.StudentID); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such payment")
	}
	return p, nil
}

// PaymentsOf returns a page of a student's payments in id order; NotFound unless the caller may see them.
func (s *Service) PaymentsOf(ctx context.Context, studentID string, pr httpapi.PageRequest) (httpapi.Page[Payment], error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return httpapi.Page[Payment]{}, err
	}
	items, err := store.Page[Payment](ctx, store.Database(ctx).Collection(paymentsCollection), bson.M{"student_id": studentID}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Payment]{}, fmt.Errorf("payments of %s: %w", studentID, err)
	}
	return httpapi.NewPage(items, pr.Limit, func(p Payment) string { return p.ID }), nil
}
