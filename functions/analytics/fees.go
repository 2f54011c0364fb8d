package analytics

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// FeeCollectionFilter narrows the fee collection report.
type FeeCollectionFilter struct {
	Window Window
	Range  Range
	// Branch, when set, keeps only that branch's rows.
	Branch string
}

// FeeCollectionPeriod is one window of one branch, in minor units. Due is what fell due in the window
// (instalments by due day: amount + late fee - waived); Collected is what was received in it (payments by
// the day received, less what has been refunded of them).
type FeeCollectionPeriod struct {
	Start     string `json:"start" format:"date"`
	Due       int64  `json:"due"`
	Collected int64  `json:"collected"`
}

// BranchFeeCollection is one branch's collection against dues over the report's range.
type BranchFeeCollection struct {
	BranchID  string                `json:"branch_id"`
	Due       int64                 `json:"due"`
	Collected int64                 `json:"collected"`
	Periods   []FeeCollectionPeriod `json:"periods"`
}

// FeeCollectionReport is fee collection against dues per window and branch.
type FeeCollectionReport struct {
	Window   Window                `json:"window"`
	From     string                `json:"from" format:"date"`
	To       string                `json:"to" format:"date"`
	Branches []BranchFeeCollection `json:"branches"`
}

// Both queries group by day and branch; the windows are made in Go, as for attendance, so the SQL needs
// no engine-specific date functions.
const (
	feeDueSQL = `SELECT branch_id, due_date, SUM(amount + late_fee - waived) AS due
FROM fee_instalments
WHERE due_date >= @from AND due_date <= @to
GROUP BY branch_id, due_date`
	feeCollectedSQL = `SELECT branch_id, paid_on, SUM(amount - refunded) AS collected
FROM fee_payments
WHERE paid_on >= @from AND paid_on <= @to
GROUP BY branch_id, paid_on`
)

// FeeCollection returns the caller's tenant's fees due against fees collected per window and branch over
// f.Range: the caller's branches only for branch admins. Errors: Invalid for a malformed filter,
// Unavailable when no warehouse is configured.
func (s *Service) FeeCollection(ctx context.Context, f FeeCollectionFilter) (*FeeCollectionReport, error) {
	if f.Branch != "" && !id.Valid(f.Branch) {
		return nil, apperr.Field("branch", apperr.FieldFormat, "must be a branch id")
	}
	from, to := warehouse.Day{Time: f.Range.From}, warehouse.Day{Time: f.Range.To}
	due, err := s.query(ctx, newQuery(ctx, feeDueSQL, warehouse.FeeInstalments).With("from", from).With("to", to))
	if err != nil {
		return nil, err
	}
	collected, err := s.query(ctx, newQuery(ctx, feeCollectedSQL, warehouse.FeePayments).With("from", from).With("to", to))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	byBranch := map[string]*BranchFeeCollection{}
	periods := map[string]map[time.Time]*FeeCollectionPeriod{}
	add := func(rows []warehouse.Row, collected bool) error {
		for _, r := range rows {
			branch := str(r[0])
			day, ok := r[1].(time.Time)
			if !ok {
				return fmt.Errorf("fee collection report: day is %T", r[1])
			}
			if (f.Branch != "" && branch != f.Branch) || !p.CanSeeBranch(branch) {
				continue
			}
			b := byBranch[branch]
			if b == nil {
				b = &BranchFeeCollection{BranchID: branch}
				byBranch[branch] = b
				periods[branch] = map[time.Time]*FeeCollectionPeriod{}
			}
			start := f.Window.Start(day)
			per := periods[branch][start]
			if per == nil {
				per = &FeeCollectionPeriod{Start: start.Format(time.DateOnly)}
				periods[branch][start] = per
			}
			n := num(r[2])
			if collected {
				per.Collected += n
				b.Collected += n
			} else {
				per.Due += n
				b.Due += n
			}
		}
		return nil
	}
	if err := add(due, false); err != nil {
		return nil, err
	}
	if err := add(collected, true); err != nil {
		return nil, err
	}
	out := &FeeCollectionReport{Window: f.Window, From: f.Range.From.Format(time.DateOnly), To: f.Range.To.Format(time.DateOnly), Branches: []BranchFeeCollection{}}
	for k, b := range byBranch {
		for _, per := range periods[k] {
			b.Periods = append(b.Periods, *per)
		}
		sort.Slice(b.Periods, func(i, j int) bool { return b.Periods[i].Start < b.Periods[j].Start })
		out.Branches = append(out.Branches, *b)
	}
	sort.Slice(out.Branches, func(i, j int) bool { return out.Branches[i].BranchID < out.Branches[j].BranchID })
	return out, nil
}

// The ageing buckets, by whole days past the due day as of the report's day.
const (
	AgeNotDue = "not_due"
	Age0To30  = "0-30"
	Age31To60 = "31-60"
	Age61To90 = "61-90"
	AgeOver90 = "90+"
)

// AgeingBuckets lists the buckets in the order the report shows them.
var AgeingBuckets = []string{AgeNotDue, Age0To30, Age31To60, Age61To90, AgeOver90}

func ageBucket(due, asOf time.Time) string {
	days := int(asOf.Sub(due).Hours() / 24)
	switch {
	case due.After(asOf):
		return AgeNotDue
	case days <= 30:
		return Age0To30
	case days <= 60:
		return Age31To60
	case days <= 90:
		return Age61To90
	}
	return AgeOver90
}

// AgeingBucket is the open instalments of one age bucket, outstanding in minor units.
type AgeingBucket struct {
	Bucket      string `json:"bucket" example:"0-30"`
	Outstanding int64  `json:"outstanding"`
	Instalments int64  `json:"instalments"`
}

// BranchAgeing is one branch's outstanding dues by age.
type BranchAgeing struct {
	BranchID    string         `json:"branch_id"`
	Outstanding int64          `json:"outstanding"`
	Buckets     []AgeingBucket `json:"buckets"`
}

// AgeingReport is the outstanding amount of open instalments by days overdue as of a day.
type AgeingReport struct {
	AsOf     string         `json:"as_of" format:"date"`
	Branches []BranchAgeing `json:"branches"`
}

const ageingSQL = `SELECT branch_id, due_date, SUM(outstanding) AS outstanding, COUNT(*) AS instalments
FROM fee_instalments
WHERE status = 'open' AND outstanding > 0
GROUP BY branch_id, due_date`

// DuesAgeing returns the caller's tenant's outstanding dues by branch and age bucket as of asOf (the
// instalments' current state, bucketed by how many days asOf is past their due day): the caller's
// branches only for branch admins. Errors: Invalid for a malformed branch, Unavailable when no warehouse
// is configured.
func (s *Service) DuesAgeing(ctx context.Context, asOf time.Time, branch string) (*AgeingReport, error) {
	if branch != "" && !id.Valid(branch) {
		return nil, apperr.Field("branch", apperr.FieldFormat, "must be a branch id")
	}
	rows, err := s.query(ctx, newQuery(ctx, ageingSQL, warehouse.FeeInstalments))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	byBranch := map[string]*BranchAgeing{}
	for _, r := range rows {
		br := str(r[0])
		due, ok := r[1].(time.Time)
		if !ok {
			return nil, fmt.Errorf("dues ageing report: due date is %T", r[1])
		}
		if (branch != "" && br != branch) || !p.CanSeeBranch(br) {
			continue
		}
		b := byBranch[br]
		if b == nil {
			b = &BranchAgeing{BranchID: br, Buckets: make([]AgeingBucket, len(AgeingBuckets))}
			for i, name := range AgeingBuckets {
				b.Buckets[i].Bucket = name
			}
			byBranch[br] = b
		}
		i := slices.Index(AgeingBuckets, ageBucket(due, asOf))
		b.Buckets[i].Outstanding += num(r[2])
		b.Buckets[i].Instalments += num(r[3])
		b.Outstanding += num(r[2])
	}
	out := &AgeingReport{AsOf: asOf.Format(time.DateOnly), Branches: []BranchAgeing{}}
	for _, b := range byBranch {
		out.Branches = append(out.Branches, *b)
	}
	sort.Slice(out.Branches, func(i, j int) bool { return out.Branches[i].BranchID < out.Branches[j].BranchID })
	return out, nil
}
