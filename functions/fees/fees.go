// Package fees is the area money depends on: fee plans (templates), their assignment to enrolments as
// instalments, concessions, late fees, payments with receipts, refunds and waivers, and dues.
//
// Every amount is an int64 count of minor units of the tenant's currency (tenant.Settings.Currency),
// never a float; every split rounds with shared/money so the parts sum exactly to the whole. Money
// documents are never edited into something else: a payment, a refund and a waiver are each their own
// document with its own gap-free per-tenant number, and every change is written to the audit log in the
// same transaction as the change itself.
//
// Permissions: fees.read (owners, branch admins, accountants, counsellors; students and guardians for
// their own fees; not teachers), feeplans.write (owners, accountants), fees.assign (owners, branch admins,
// accountants, counsellors: assigning plans and recalculating after a batch transfer),
// concessions.approve (owners, accountants: the approver of a concession is its caller), payments.write
// (owners, branch admins, accountants), refunds.write (owners, accountants: refunds and waivers).
// Branch-scoped staff see only the fees of their branches' students; anything else reads as not found.
//
// # Rules and where they live
//
//   - plan.go: what a plan may say (schedule by count, percentages or explicit dates; late-fee rule) and
//     how a schedule becomes due dates and weights.
//   - assignment.go: assigning a plan materialises instalments whose amounts always sum to the net total;
//     a mid-term join prorates by days; a concession change or a batch transfer recalculates the open
//     instalments and never touches one that money has already been recorded against.
//   - payment.go: payments with an Idempotency-Key, allocation to the oldest open instalments,
//     overpayment held as the student's credit, gap-free receipt numbers.
//   - refund.go: refunds (never more than was paid) and waivers.
//   - dues.go: outstanding per student, batch and branch, with ageing buckets.
//   - run.go: what the scheduled run does per tenant (late fees once per rule and instalment; reminders
//     once per instalment and stage), called by triggers/reminders.
//
// # Batch transfers
//
// The students area cannot call fees (the import graph is students <- fees), so a transfer is picked up by
// fees when asked: POST /fees/assignments/{id}/recalculate follows the enrolment's transfer chain to the
// student's current enrolment, moves the assignment and its open instalments to the new batch and branch,
// and, when given the new batch's plan, re-prices the rest of the term and recalculates the open
// instalments. Nothing changes behind anyone's back on a read.
package fees

import (
	"context"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// The area's collections in a tenant database, its own: other areas go through its Go API. Documents are
// flat and typed, amounts int64, so the warehouse can read them as they are.
const (
	plansCollection       = "fee_plans"
	assignmentsCollection = "fee_assignments"
	instalmentsCollection = "fee_instalments"
	paymentsCollection    = "fee_payments"
	refundsCollection     = "fee_refunds"
	waiversCollection     = "fee_waivers"
	creditsCollection     = "fee_credits"
	countersCollection    = "fee_counters"
	idempotencyCollection = "fee_idempotency"
)

// MaxAmount bounds every amount a request may carry (10^12 minor units: ten billion rupees), so sums and
// products of amounts and days stay far from int64 overflow.
const MaxAmount int64 = 1_000_000_000_000

// Service is the fees area. Construct with New.
type Service struct {
	deps Deps
}

// Deps is what the fees area needs; Clock and Audit are required.
type Deps struct {
	Clock clock.Clock
	Audit audit.Recorder
	// Gateway refunds online payments through the gateway that took them (functions/payments); nil
	// records every refund by hand.
	Gateway Gateway
}

// Gateway gives money back through the payment gateway that took it.
type Gateway interface {
	// RefundOnline refunds amount of p at its gateway, as the fees refund refundID, and returns the
	// gateway's refund id (the refund's reference); handled is false for a payment no gateway took,
	// which is refunded by hand. An error leaves the refund unrecorded.
	RefundOnline(ctx context.Context, p Payment, amount int64, refundID string) (ref string, handled bool, err error)
}

// New returns the fees service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// EnsureIndexes creates the area's indexes in a tenant database; idempotent.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	models := map[string][]mongo.IndexModel{
		assignmentsCollection: {
			// One fee assignment per enrolment, whoever races.
			{Keys: bson.D{{Key: "enrolment_id", Value: 1}}, Options: options.Index().SetUnique(true).SetName("enrolment_unique")},
			{Keys: bson.D{{Key: "student_id", Value: 1}}, Options: options.Index().SetName("student")},
		},
		instalmentsCollection: {
			{Keys: bson.D{{Key: "student_id", Value: 1}, {Key: "due_date", Value: 1}}, Options: options.Index().SetName("student_due")},
			{Keys: bson.D{{Key: "status", Value: 1}, {Key: "due_date", Value: 1}}, Options: options.Index().SetName("status_due")},
			{Keys: bson.D{{Key: "assignment_id", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("assignment_seq")},
			{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "status", Value: 1}}, Options: options.Index().SetName("batch_status")},
			{Keys: bson.D{{Key: "branch_id", Value: 1}, {Key: "status", Value: 1}}, Options: options.Index().SetName("branch_status")},
		},
		paymentsCollection: {
			{Keys: bson.D{{Key: "receipt_no", Value: 1}}, Options: options.Index().SetUnique(true).SetName("receipt_unique")},
			{Keys: bson.D{{Key: "student_id", Value: 1}, {Key: "receipt_no", Value: 1}}, Options: options.Index().SetName("student_receipt")},
		},
		refundsCollection: {
			{Keys: bson.D{{Key: "number", Value: 1}}, Options: options.Index().SetUnique(true).SetName("number_unique")},
			{Keys: bson.D{{Key: "payment_id", Value: 1}}, Options: options.Index().SetName("payment")},
		},
		waiversCollection: {
			{Keys: bson.D{{Key: "number", Value: 1}}, Options: options.Index().SetUnique(true).SetName("number_unique")},
		},
	}
	for coll, ms := range models {
		if _, err := db.Collection(coll).Indexes().CreateMany(ctx, ms); err != nil {
			return fmt.Errorf("create %s indexes: %w", coll, err)
		}
	}
	return nil
}

// today is the tenant-local date now.
func (s *Service) today(ctx context.Context) string {
	return tenant.FromContext(ctx).Today(s.deps.Clock.Now())
}

func currency(ctx context.Context) string { return tenant.FromContext(ctx).Settings.Currency }

// nextNumber takes the next number of a per-tenant sequence ("receipt", "refund", "waiver"). Called inside
// the transaction that writes the numbered document, so an aborted write gives its number back and the
// sequence has no gaps.
func nextNumber(tc context.Context, name string) (int64, error) {
	var c struct {
		Seq int64 `bson:"seq"`
	}
	err := store.Database(tc).Collection(countersCollection).FindOneAndUpdate(tc, bson.M{"_id": name},
		bson.M{"$inc": bson.M{"seq": int64(1)}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&c)
	if err != nil {
		return 0, fmt.Errorf("next %s number: %w", name, err)
	}
	return c.Seq, nil
}
