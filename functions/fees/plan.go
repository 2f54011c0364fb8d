package fees

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// ScheduleKind is how a plan's instalments are laid out.
type ScheduleKind string

// Schedule kinds.
const (
	ScheduleCount       ScheduleKind = "count"       // Count equal instalments, IntervalMonths apart from the term start
	SchedulePercentages ScheduleKind = "percentages" // one instalment per percentage (basis points), IntervalMonths apart
	ScheduleDates       ScheduleKind = "dates"       // one instalment per explicit due date, equal or by Percentages
)

// scheduleKinds lists every schedule kind; Schedule.Validate accepts exactly these.
var scheduleKinds = []ScheduleKind{ScheduleCount, SchedulePercentages, ScheduleDates}

// Values implements httpapi.Enum.
func (ScheduleKind) Values() []string { return httpapi.EnumValues(scheduleKinds) }

// Valid reports whether v is one of Values.
func (v ScheduleKind) Valid() bool { return slices.Contains(scheduleKinds, v) }

// Late-fee kinds (tenant.LateFeeRule.Kind).
const (
	LateFeeNone   = tenant.LateFeeNone
	LateFeeFlat   = tenant.LateFeeFlat
	LateFeePerDay = tenant.LateFeePerDay
)

// MaxInstalments bounds a schedule.
const MaxInstalments = 60

// Schedule says when a plan's instalments fall due and how the total is shared between them.
type Schedule struct {
	Kind ScheduleKind `bson:"kind" json:"kind"`
	// Count is the number of equal instalments (kind count).
	Count int `bson:"count,omitempty" json:"count,omitempty"`
	// Percentages are the instalments' shares in basis points (12.5% = 1250), summing to 10000 (kind
	// percentages; optional for kind dates).
	Percentages []int64 `bson:"percentages,omitempty" json:"percentages,omitempty"`
	// Dates are explicit tenant-local due dates "YYYY-MM-DD", strictly ascending (kind dates).
	Dates []string `bson:"dates,omitempty" json:"dates,omitempty" format:"date"`
	// IntervalMonths separates instalments of kinds count and percentages; the first is due on the term's
	// first day. 1 when omitted.
	IntervalMonths int `bson:"interval_months,omitempty" json:"interval_months,omitempty"`
}

// Validate checks the schedule as normalized leaves it, without changing it; errors are Invalid and name
// every bad field under prefix.
func (sc Schedule) Validate(prefix string) error {
	var bad apperr.Problems
	if iv := sc.normalized().IntervalMonths; iv < 1 || iv > 12 {
		bad.Add(prefix+".interval_months", apperr.FieldOutOfRange, "must be 1 to 12")
	}
	checkPercentages := func(n int) {
		if len(sc.Percentages) != n {
			bad.Add(prefix+".percentages", apperr.FieldNotAllowed, fmt.Sprintf("must have %d entries", n))
			return
		}
		var sum int64
		for _, p := range sc.Percentages {
			if p <= 0 || p > 10_000 {
				bad.Add(prefix+".percentages", apperr.FieldOutOfRange, "each must be 1 to 10000 basis points")
				return
			}
			sum += p
		}
		if sum != 10_000 {
			bad.Add(prefix+".percentages", apperr.FieldOutOfRange, "must sum to 10000 basis points (100%)")
		}
	}
	switch sc.Kind {
	case ScheduleCount:
		if sc.Count < 1 || sc.Count > MaxInstalments {
			bad.Add(prefix+".count", apperr.FieldOutOfRange, fmt.Sprintf("must be 1 to %d", MaxInstalments))
		}
		if len(sc.Percentages) > 0 || len(sc.Dates) > 0 {
			bad.Add(prefix, apperr.FieldNotAllowed, "a count schedule takes neither percentages nor dates")
		}
	case SchedulePercentages:
		if len(sc.Percentages) < 1 || len(sc.Percentages) > MaxInstalments || sc.Count != 0 || len(sc.Dates) > 0 {
			bad.Add(prefix+".percentages", apperr.FieldNotAllowed, fmt.Sprintf("must list 1 to %d shares, without count or dates", MaxInstalments))
		} else {
			checkPercentages(len(sc.Percentages))
		}
	case ScheduleDates:
		if len(sc.Dates) < 1 || len(sc.Dates) > MaxInstalments || sc.Count != 0 {
			bad.Add(prefix+".dates", apperr.FieldNotAllowed, fmt.Sprintf("must list 1 to %d due dates, without count", MaxInstalments))
			break
		}
		for i, d := range sc.Dates {
			if _, err := time.Parse(time.DateOnly, d); err != nil {
				bad.Add(prefix+".dates", apperr.FieldFormat, "must be dates YYYY-MM-DD")
				break
			}
			if i > 0 && d <= sc.Dates[i-1] {
				bad.Add(prefix+".dates", apperr.FieldNotAllowed, "must be strictly ascending")
				break
			}
		}
		if len(sc.Percentages) > 0 {
			checkPercentages(len(sc.Dates))
		}
	case "":
		bad.Add(prefix+".kind", apperr.FieldRequired, `must be "count", "percentages" or "dates"`)
	default:
		bad.Add(prefix+".kind", apperr.FieldNotAllowed, `must be "count", "percentages" or "dates"`)
	}
	return bad.Err()
}

// normalized returns the schedule with the defaults filled in: IntervalMonths 1 when omitted.
func (sc Schedule) normalized() Schedule {
	if sc.IntervalMonths == 0 {
		sc.IntervalMonths = 1
	}
	return sc
}

// Slot is one instalment of a laid-out schedule: its due date, its weight in the total and its amount.
type Slot struct {
	Due    string
	Weight int64
	Amount int64
}

// slots lays the schedule out from the term's first day.
func (sc Schedule) slots(termStart string) []Slot {
	start, _ := time.Parse(time.DateOnly, termStart)
	interval := max(sc.IntervalMonths, 1)
	switch sc.Kind {
	case ScheduleDates:
		out := make([]Slot, len(sc.Dates))
		for i, d := range sc.Dates {
			out[i] = Slot{Due: d, Weight: 1}
			if len(sc.Percentages) > 0 {
				out[i].Weight = sc.Percentages[i]
			}
		}
		return out
	case SchedulePercentages:
		out := make([]Slot, len(sc.Percentages))
		for i, p := range sc.Percentages {
			out[i] = Slot{Due: addMonths(start, i*interval), Weight: p}
		}
		return out
	default:
		out := make([]Slot, sc.Count)
		for i := range out {
			out[i] = Slot{Due: addMonths(start, i*interval), Weight: 1}
		}
		return out
	}
}

// addMonths adds whole months, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb), so a
// monthly schedule never skips a month.
func addMonths(d time.Time, months int) string {
	first := time.Date(d.Year(), d.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d.Day(), last), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// ValidateLateFee checks a late-fee rule; errors are Invalid and name every bad field under prefix.
func ValidateLateFee(prefix string, r tenant.LateFeeRule) error {
	var bad apperr.Problems
	switch r.Kind {
	case LateFeeNone:
	case LateFeeFlat, LateFeePerDay:
		if r.Amount <= 0 || r.Amount > MaxAmount {
			bad.Add(prefix+".amount", apperr.FieldOutOfRange, "must be positive")
		}
	default:
		bad.Add(prefix+".kind", apperr.FieldNotAllowed, `must be "none", "flat" or "per_day"`)
	}
	if r.GraceDays < 0 || r.GraceDays > 365 {
		bad.Add(prefix+".grace_days", apperr.FieldOutOfRange, "must be 0 to 365")
	}
	if r.Cap < 0 || r.Cap > MaxAmount {
		bad.Add(prefix+".cap", apperr.FieldOutOfRange, "must not be negative")
	}
	return bad.Err()
}

// Plan is a fee template: what a course or batch costs and how it is paid.
type Plan struct {
	ID       string `bson:"_id" json:"id"`
	Name     string `bson:"name" json:"name"`
	Currency string `bson:"currency" json:"currency"`
	// Total is the fee for a whole term, in minor units.
	Total    int64    `bson:"total" json:"total"`
	Schedule Schedule `bson:"schedule" json:"schedule"`
	// LateFee overrides the tenant's default late-fee rule when set.
	LateFee   *tenant.LateFeeRule `bson:"late_fee,omitempty" json:"late_fee,omitempty"`
	Active    bool                `bson:"active" json:"active"`
	CreatedAt time.Time           `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time           `bson:"updated_at" json:"updated_at"`
}

// NewPlan creates a fee plan.
type NewPlan struct {
	Name     string              `json:"name"`
	Total    int64               `json:"total"`
	Schedule Schedule            `json:"schedule"`
	LateFee  *tenant.LateFeeRule `json:"late_fee,omitempty"`
}

// Example implements httpapi.Exampler: three monthly instalments and a capped per-day late fee.
func (NewPlan) Example() any {
	return NewPlan{Name: "Class 10 Mathematics 2026-27", Total: 4500000,
		Schedule: Schedule{Kind: ScheduleCount, Count: 3, IntervalMonths: 1},
		LateFee:  &tenant.LateFeeRule{Kind: LateFeePerDay, Amount: 5000, GraceDays: 5, Cap: 100000}}
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing, so
// validating before or after normalising gives one answer.
func (n NewPlan) Validate() error {
	n = n.normalized()
	var bad apperr.Problems
	if len(n.Name) < 1 {
		bad.Add("name", apperr.FieldRequired, "must be 1 to 120 characters")
	} else if len(n.Name) > 120 {
		bad.Add("name", apperr.FieldTooLong, "must be 1 to 120 characters")
	}
	if n.Total < 0 || n.Total > MaxAmount {
		bad.Add("total", apperr.FieldOutOfRange, "must be 0 to 10^12 minor units")
	}
	bad.Check(n.Schedule.Validate("schedule"))
	if n.LateFee != nil {
		bad.Check(ValidateLateFee("late_fee", *n.LateFee))
	}
	return bad.Err()
}

// normalized returns the plan as it is recorded: the name's runs of spaces collapsed, the schedule's
// defaults filled in.
func (n NewPlan) normalized() NewPlan {
	n.Name = strings.Join(strings.Fields(n.Name), " ")
	n.Schedule = n.Schedule.normalized()
	return n
}

// CreatePlan adds a plan in the tenant's currency.
func (s *Service) CreatePlan(ctx context.Context, in NewPlan) (*Plan, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	now := s.deps.Clock.Now()
	p := &Plan{ID: id.New(), Name: in.Name, Currency: currency(ctx), Total: in.Total, Schedule: in.Schedule,
		LateFee: in.LateFee, Active: true, CreatedAt: now, UpdatedAt: now}
	err := store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		if _, err := store.Database(tc).Collection(plansCollection).InsertOne(tc, p); err != nil {
			return fmt.Errorf("create fee plan %s: %w", in.Name, err)
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "fees.plan.created", audit.Target{Kind: "fee_plan", ID: p.ID}, in)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// GetPlan returns a plan; NotFound when there is none.
func (s *Service) GetPlan(ctx context.Context, planID string) (*Plan, error) {
	return store.ByID[Plan](ctx, store.Database(ctx).Collection(plansCollection), planID, "fee plan")
}

// ListPlans returns a page of plans.
func (s *Service) ListPlans(ctx context.Context, pr httpapi.PageRequest) (httpapi.Page[Plan], error) {
	items, err := store.Page[Plan](ctx, store.Database(ctx).Collection(plansCollection), bson.M{}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Plan]{}, fmt.Errorf("list fee plans: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(p Plan) string { return p.ID }), nil
}
