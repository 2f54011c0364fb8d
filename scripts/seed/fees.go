package seed

import (
	"context"
	"fmt"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// seedFees gives the demo institution two fee plans, assigns one to every active enrolment, grants a few
// concessions and records payments (some partial, one overpaid into credit), so dues, receipts and the
// reminder run have realistic data. tctx is the owner's request-like context.
func seedFees(tctx context.Context, svcs *all.Services) error {
	svc := svcs.Fees
	quarterly, err := svc.CreatePlan(tctx, fees.NewPlan{Name: "Term fee, three monthly instalments", Total: 45_000_00,
		Schedule: fees.Schedule{Kind: fees.ScheduleCount, Count: 3, IntervalMonths: 1}})
	if err != nil {
		return fmt.Errorf("seed fee plan: %w", err)
	}
	upfront, err := svc.CreatePlan(tctx, fees.NewPlan{Name: "Term fee, 40/30/30", Total: 60_000_00,
		Schedule: fees.Schedule{Kind: fees.SchedulePercentages, Percentages: []int64{4000, 3000, 3000}, IntervalMonths: 1},
		LateFee:  &tenant.LateFeeRule{Kind: fees.LateFeePerDay, Amount: 50_00, GraceDays: 5, Cap: 1_000_00}})
	if err != nil {
		return fmt.Errorf("seed fee plan: %w", err)
	}
	es, err := students.ActiveEnrolments(tctx, store.Database(tctx))
	if err != nil {
		return fmt.Errorf("seed fees: %w", err)
	}
	for i, e := range es {
		plan := quarterly.ID
		if i%2 == 1 {
			plan = upfront.ID
		}
		v, err := svc.Assign(tctx, fees.NewAssignment{EnrolmentID: e.ID, PlanID: plan})
		if err != nil {
			return fmt.Errorf("seed fee assignment of %s: %w", e.ID, err)
		}
		if i%7 == 3 {
			if _, err := svc.GrantConcession(tctx, v.ID, fees.NewConcession{Kind: fees.ConcessionPercent, BasisPoints: 1500, Reason: "sibling discount"}); err != nil {
				return fmt.Errorf("seed concession: %w", err)
			}
		}
		var amount int64
		method, ref := fees.MethodCash, ""
		switch i % 4 {
		case 0: // the first instalment
			amount = v.Instalments[0].Amount
		case 1: // part of it, online
			amount, method, ref = v.Instalments[0].Amount/2, fees.MethodOnline, fmt.Sprintf("pay_demo_%03d", i)
		case 2: // nothing yet
			continue
		case 3: // everything and a little more, held as credit
			amount, method = v.Net+500_00, fees.MethodBankTransfer
		}
		if _, _, err := svc.Pay(tctx, fmt.Sprintf("seed-payment-%03d", i), fees.NewPayment{StudentID: e.StudentID, Amount: amount, Method: method, Reference: ref}); err != nil {
			return fmt.Errorf("seed payment for %s: %w", e.StudentID, err)
		}
	}
	return nil
}
