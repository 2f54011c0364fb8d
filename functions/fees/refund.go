package fees

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Refund is money given back against one payment, its own numbered document. It first takes from the
// payment's part held as credit, then reverses the payment's allocations, newest first, which reopens
// those instalments.
type Refund struct {
	ID        string `bson:"_id" json:"id"`
	Number    int64  `bson:"number" json:"number"`
	PaymentID string `bson:"payment_id" json:"payment_id"`
	ReceiptNo int64  `bson:"receipt_no" json:"receipt_no"`
	StudentID string `bson:"student_id" json:"student_id"`
	BranchID  string `bson:"branch_id" json:"branch_id"`
	Currency  string `bson:"currency" json:"currency"`
	Amount    int64  `bson:"amount" json:"amount"`
	// FromCredit is the part taken from the student's credit; the rest reopened instalments.
	FromCredit int64         `bson:"from_credit" json:"from_credit"`
	Reversals  []Allocation  `bson:"reversals" json:"reversals"`
	Method     PaymentMethod `bson:"method" json:"method"`
	Reference  string        `bson:"reference,omitempty" json:"reference,omitempty"`
	Reason     string        `bson:"reason" json:"reason"`
	RefundedBy string        `bson:"refunded_by" json:"refunded_by"`
	CreatedAt  time.Time     `bson:"created_at" json:"created_at"`
	RefundedOn string        `bson:"refunded_on" json:"refunded_on" format:"date"`
}

// NewRefund gives money back against a payment.
type NewRefund struct {
	PaymentID string        `json:"payment_id"`
	Amount    int64         `json:"amount"`
	Method    PaymentMethod `json:"method"`
	Reference string        `json:"reference,omitempty"`
	Reason    string        `json:"reason"`
}

// checkReason checks a refund's or waiver's reason, already trimmed.
func checkReason(s string) error {
	switch {
	case s == "":
		return apperr.Field("reason", apperr.FieldRequired, "must be 3 to 500 characters")
	case len(s) < 3:
		return apperr.Field("reason", apperr.FieldTooShort, "must be 3 to 500 characters")
	case len(s) > 500:
		return apperr.Field("reason", apperr.FieldTooLong, "must be 3 to 500 characters")
	}
	return nil
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing, so
// validating before or after normalising gives one answer.
func (n NewRefund) Validate() error {
	n = n.normalized()
	var bad apperr.Problems
	httpapi.CheckID(&bad, "payment_id", n.PaymentID, "must be a payment id")
	checkAmount(&bad, n.Amount)
	checkMethod(&bad, n.Method)
	if len(n.Reference) > 200 {
		bad.Add("reference", apperr.FieldTooLong, "must be at most 200 bytes")
	}
	bad.Check(checkReason(n.Reason))
	return bad.Err()
}

// normalized returns the refund as it is recorded: the reason without surrounding spaces.
func (n NewRefund) normalized() NewRefund {
	n.Reason = strings.TrimSpace(n.Reason)
	return n
}

// RefundPayment records a refund against a payment. NotFound unless the caller may see the payment's
// student; Invalid when the amount exceeds what is left of the payment after earlier refunds; Conflict
// when the payment's credit was already used elsewhere so the refund cannot be covered.
func (s *Service) RefundPayment(ctx context.Context, in NewRefund) (*Refund, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	paid, err := s.GetPayment(ctx, in.PaymentID)
	if err != nil {
		return nil, err
	}
	refundID := id.New()
	if s.deps.Gateway != nil && paid.Method == MethodOnline {
		// The money goes back through the gateway first; only a refund it accepted is recorded.
		if left := paid.Amount - paid.Refunded; in.Amount > left {
			return nil, apperr.InvalidField("amount", fmt.Sprintf("exceeds what is left of the payment to refund (%d)", left))
		}
		ref, handled, err := s.deps.Gateway.RefundOnline(ctx, *paid, in.Amount, refundID)
		if err != nil {
			return nil, err
		}
		if handled {
			in.Method, in.Reference = MethodOnline, ref
		}
	}
	now := s.deps.Clock.Now()
	today := s.today(ctx)
	var out *Refund
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		db := store.Database(tc)
		var p Payment
		if err := db.Collection(paymentsCollection).FindOne(tc, bson.M{"_id": in.PaymentID}).Decode(&p); err != nil {
			return fmt.Errorf("refund payment %s: %w", in.PaymentID, err)
		}
		if left := p.Amount - p.Refunded; in.Amount > left {
			return apperr.Field("amount", apperr.FieldOutOfRange, fmt.Sprintf("exceeds what is left of the payment to refund (%d)", left))
		}
		r := &Refund{ID: refundID, PaymentID: p.ID, ReceiptNo: p.ReceiptNo, StudentID: p.StudentID, BranchID: p.BranchID,
			Currency: p.Currency, Amount: in.Amount, Reversals: []Allocation{}, Method: in.Method, Reference: in.Reference,
			Reason: in.Reason, RefundedBy: rbac.Must(tc).Subject, CreatedAt: now, RefundedOn: today}
		left := in.Amount
		if fromCredit := min(left, p.Credit-p.CreditRefunded); fromCredit > 0 {
			balance, err := creditOf(tc, p.StudentID)
			if err != nil {
				return err
			}
			fromCredit = min(fromCredit, balance)
			if fromCredit > 0 {
				if err := addCredit(tc, p.StudentID, p.Currency, -fromCredit, now); err != nil {
					return err
				}
				r.FromCredit, p.CreditRefunded, left = fromCredit, p.CreditRefunded+fromCredit, left-fromCredit
			}
		}
		for k := len(p.Allocations) - 1; k >= 0 && left > 0; k-- {
			al := &p.Allocations[k]
			x := min(left, al.Amount-al.Refunded)
			if x <= 0 {
				continue
			}
			var i Instalment
			if err := db.Collection(instalmentsCollection).FindOne(tc, bson.M{"_id": al.InstalmentID}).Decode(&i); err != nil {
				return fmt.Errorf("refund payment %s: instalment %s: %w", p.ID, al.InstalmentID, err)
			}
			// Never more than the instalment still holds as paid (a waiver or another refund may have
			// taken part of it).
			x = min(x, i.Paid)
			if x <= 0 {
				continue
			}
			if err := moveMoney(tc, i, -x, 0, now); err != nil {
				return err
			}
			al.Refunded += x
			r.Reversals = append(r.Reversals, Allocation{InstalmentID: i.ID, Amount: x})
			left -= x
		}
		if left > 0 {
			return apperr.Errorf(apperr.Conflict, "the payment's credit was used elsewhere; at most %d can be refunded now", in.Amount-left)
		}
		p.Refunded += in.Amount
		if _, err := db.Collection(paymentsCollection).UpdateOne(tc, bson.M{"_id": p.ID}, bson.M{"$set": bson.M{
			"refunded": p.Refunded, "credit_refunded": p.CreditRefunded, "allocations": p.Allocations,
		}}); err != nil {
			return fmt.Errorf("refund payment %s: %w", p.ID, err)
		}
		var err error
		if r.Number, err = nextNumber(tc, "refund"); err != nil {
			return err
		}
		if _, err := db.Collection(refundsCollection).InsertOne(tc, r); err != nil {
			return fmt.Errorf("record refund of payment %s: %w", p.ID, err)
		}
		if err := s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "fees.refund.recorded", audit.Target{Kind: "fee_refund", ID: r.ID}, map[string]any{
			"number": r.Number, "payment_id": p.ID, "receipt_no": p.ReceiptNo, "amount": r.Amount, "from_credit": r.FromCredit, "reason": r.Reason,
		}); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Waiver forgives part or all of what an instalment still owes (its amount or its late fee), its own
// numbered document.
type Waiver struct {
	ID           string    `bson:"_id" json:"id"`
	Number       int64     `bson:"number" json:"number"`
	InstalmentID string    `bson:"instalment_id" json:"instalment_id"`
	AssignmentID string    `bson:"assignment_id" json:"assignment_id"`
	StudentID    string    `bson:"student_id" json:"student_id"`
	BranchID     string    `bson:"branch_id" json:"branch_id"`
	Currency     string    `bson:"currency" json:"currency"`
	Amount       int64     `bson:"amount" json:"amount"`
	Reason       string    `bson:"reason" json:"reason"`
	WaivedBy     string    `bson:"waived_by" json:"waived_by"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
}

// NewWaiver forgives part of an instalment.
type NewWaiver struct {
	InstalmentID string `json:"instalment_id"`
	Amount       int64  `json:"amount"`
	Reason       string `json:"reason"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing, so
// validating before or after normalising gives one answer.
func (n NewWaiver) Validate() error {
	n = n.normalized()
	var bad apperr.Problems
	httpapi.CheckID(&bad, "instalment_id", n.InstalmentID, "must be an instalment id")
	checkAmount(&bad, n.Amount)
	bad.Check(checkReason(n.Reason))
	return bad.Err()
}

// normalized returns the waiver as it is recorded: the reason without surrounding spaces.
func (n NewWaiver) normalized() NewWaiver {
	n.Reason = strings.TrimSpace(n.Reason)
	return n
}

// Waive records a waiver on an instalment. NotFound unless the caller may see its student; Invalid when
// the amount exceeds what the instalment still owes.
func (s *Service) Waive(ctx context.Context, in NewWaiver) (*Waiver, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	var i Instalment
	err := store.Database(ctx).Collection(instalmentsCollection).FindOne(ctx, bson.M{"_id": in.InstalmentID}).Decode(&i)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such instalment")
	}
	if err != nil {
		return nil, fmt.Errorf("waive instalment %s: %w", in.InstalmentID, err)
	}
	if err := students.CanSeeStudent(ctx, i.StudentID); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such instalment")
	}
	now := s.deps.Clock.Now()
	var out *Waiver
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		db := store.Database(tc)
		var i Instalment
		if err := db.Collection(instalmentsCollection).FindOne(tc, bson.M{"_id": in.InstalmentID}).Decode(&i); err != nil {
			return fmt.Errorf("waive instalment %s: %w", in.InstalmentID, err)
		}
		if in.Amount > i.Outstanding {
			return apperr.Field("amount", apperr.FieldOutOfRange, fmt.Sprintf("exceeds what the instalment still owes (%d)", i.Outstanding))
		}
		if err := moveMoney(tc, i, 0, in.Amount, now); err != nil {
			return err
		}
		w := &Waiver{ID: id.New(), InstalmentID: i.ID, AssignmentID: i.AssignmentID, StudentID: i.StudentID, BranchID: i.BranchID,
			Currency: i.Currency, Amount: in.Amount, Reason: in.Reason, WaivedBy: rbac.Must(tc).Subject, CreatedAt: now}
		var err error
		if w.Number, err = nextNumber(tc, "waiver"); err != nil {
			return err
		}
		if _, err := db.Collection(waiversCollection).InsertOne(tc, w); err != nil {
			return fmt.Errorf("record waiver on %s: %w", i.ID, err)
		}
		if err := s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "fees.waiver.recorded", audit.Target{Kind: "fee_waiver", ID: w.ID}, map[string]any{
			"number": w.Number, "instalment_id": i.ID, "amount": w.Amount, "reason": w.Reason,
		}); err != nil {
			return err
		}
		out = w
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
