package fees

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/httpapi"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/money"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// ConcessionKind says how a concession's value is worked out.
type ConcessionKind string

// Concession kinds.
const (
	ConcessionPercent ConcessionKind = "percent" // BasisPoints of the gross fee
	ConcessionFixed   ConcessionKind = "fixed"   // Amount off the gross fee
)

// concessionKinds lists every concession kind; the API document shows them as the enum of a concession kind field.
var concessionKinds = []ConcessionKind{ConcessionPercent, ConcessionFixed}

// Values implements httpapi.Enum.
func (ConcessionKind) Values() []string { return httpapi.EnumValues(concessionKinds) }

// Valid reports whether v is one of Values.
func (v ConcessionKind) Valid() bool { return slices.Contains(concessionKinds, v) }

// Concession is a reduction of an assignment's fee, with the reason and who approved it. A revoked
// concession stays on record.
type Concession struct {
	ID          string         `bson:"id" json:"id"`
	Kind        ConcessionKind `bson:"kind" json:"kind"`
	BasisPoints int64          `bson:"basis_points,omitempty" json:"basis_points,omitempty"`
	Amount      int64          `bson:"amount,omitempty" json:"amount,omitempty"`
	// Value is what the concession takes off the gross fee now, in minor units.
	Value      int64      `bson:"value" json:"value"`
	Reason     string     `bson:"reason" json:"reason"`
	ApprovedBy string     `bson:"approved_by" json:"approved_by"`
	ApprovedAt time.Time  `bson:"approved_at" json:"approved_at"`
	Revoked    bool       `bson:"revoked" json:"revoked"`
	RevokedBy  string     `bson:"revoked_by,omitempty" json:"revoked_by,omitempty"`
	RevokedAt  *time.Time `bson:"revoked_at,omitempty" json:"revoked_at,omitempty"`
}

// Assignment is a plan applied to one enrolment: the fee it owes and the concessions on it. Its
// instalments are separate documents (Instalment).
type Assignment struct {
	ID          string `bson:"_id" json:"id"`
	EnrolmentID string `bson:"enrolment_id" json:"enrolment_id"`
	StudentID   string `bson:"student_id" json:"student_id"`
	BatchID     string `bson:"batch_id" json:"batch_id"`
	BranchID    string `bson:"branch_id" json:"branch_id"`
	PlanID      string `bson:"plan_id" json:"plan_id"`
	PlanName    string `bson:"plan_name" json:"plan_name"`
	Currency    string `bson:"currency" json:"currency"`
	// PlanTotal is the plan's fee for its whole term; TermStart and TermEnd are the batch's first and last
	// days, JoinDate the enrolment's first day.
	PlanTotal int64  `bson:"plan_total" json:"plan_total"`
	TermStart string `bson:"term_start" json:"term_start" format:"date"`
	TermEnd   string `bson:"term_end" json:"term_end" format:"date"`
	JoinDate  string `bson:"join_date" json:"join_date" format:"date"`
	// Gross is the fee before concessions (PlanTotal prorated by days for a mid-term join), Net after.
	Gross           int64               `bson:"gross" json:"gross"`
	Concessions     []Concession        `bson:"concessions" json:"concessions"`
	ConcessionTotal int64               `bson:"concession_total" json:"concession_total"`
	Net             int64               `bson:"net" json:"net"`
	LateFee         *tenant.LateFeeRule `bson:"late_fee,omitempty" json:"late_fee,omitempty"`
	CreatedAt       time.Time           `bson:"created_at" json:"created_at"`
	UpdatedAt       time.Time           `bson:"updated_at" json:"updated_at"`
}

// InstalmentStatus is an instalment's state: open while something is outstanding, settled when nothing is
// (paid, waived or zero).
type InstalmentStatus string

// Instalment states.
const (
	InstalmentOpen    InstalmentStatus = "open"
	InstalmentSettled InstalmentStatus = "settled"
)

// instalmentStatuses lists every instalment status; the API document shows them as the enum of a instalment status field.
var instalmentStatuses = []InstalmentStatus{InstalmentOpen, InstalmentSettled}

// Values implements httpapi.Enum.
func (InstalmentStatus) Values() []string { return httpapi.EnumValues(instalmentStatuses) }

// Instalment is one dated part of an assignment's fee. Outstanding is Amount + LateFee - Paid - Waived,
// kept on the document so dues and reminders read one field.
type Instalment struct {
	ID           string `bson:"_id" json:"id"`
	AssignmentID string `bson:"assignment_id" json:"assignment_id"`
	StudentID    string `bson:"student_id" json:"student_id"`
	EnrolmentID  string `bson:"enrolment_id" json:"enrolment_id"`
	BatchID      string `bson:"batch_id" json:"batch_id"`
	BranchID     string `bson:"branch_id" json:"branch_id"`
	Seq          int    `bson:"seq" json:"seq"`
	DueDate      string `bson:"due_date" json:"due_date" format:"date"`
	// Weight is the instalment's share of the schedule; a recalculation shares the open amount by it.
	Weight      int64            `bson:"weight" json:"weight"`
	Currency    string           `bson:"currency" json:"currency"`
	Amount      int64            `bson:"amount" json:"amount"`
	LateFee     int64            `bson:"late_fee" json:"late_fee"`
	Paid        int64            `bson:"paid" json:"paid"`
	Waived      int64            `bson:"waived" json:"waived"`
	Outstanding int64            `bson:"outstanding" json:"outstanding"`
	Status      InstalmentStatus `bson:"status" json:"status"`
	// LateFeeRule overrides the tenant's default rule (copied from the plan); nil uses the tenant's.
	LateFeeRule *tenant.LateFeeRule `bson:"late_fee_rule,omitempty" json:"late_fee_rule,omitempty"`
	// LateFeeKeys names the flat late-fee rules already applied, so each is applied once.
	LateFeeKeys []string  `bson:"late_fee_keys" json:"-"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt   time.Time `bson:"updated_at" json:"updated_at"`
}

// locked reports whether money has been recorded against the instalment, which fixes its amount.
func (i *Instalment) locked() bool { return i.Paid > 0 || i.Waived > 0 }

func statusOf(outstanding int64) InstalmentStatus {
	if outstanding > 0 {
		return InstalmentOpen
	}
	return InstalmentSettled
}

// AssignmentView is an assignment with its instalments in schedule order.
type AssignmentView struct {
	Assignment
	Instalments []Instalment `json:"instalments"`
}

// NewAssignment assigns a plan to an enrolment.
type NewAssignment struct {
	EnrolmentID string `json:"enrolment_id"`
	PlanID      string `json:"plan_id"`
}

// Validate implements httpapi.Validator.
func (n NewAssignment) Validate() error {
	var bad apperr.Problems
	httpapi.CheckID(&bad, "enrolment_id", n.EnrolmentID, "must be an enrolment id")
	httpapi.CheckID(&bad, "plan_id", n.PlanID, "must be a fee plan id")
	return bad.Err()
}

// Prorate returns the share of total for the days from `from` to the term's end, of a term from start to
// end (tenant-local dates, both included), rounded half up: the whole total when from is on or before the
// start, nothing when it is after the end.
func Prorate(total int64, start, end, from string) int64 {
	s, _ := time.Parse(time.DateOnly, start)
	e, _ := time.Parse(time.DateOnly, end)
	f, _ := time.Parse(time.DateOnly, from)
	days := int64(e.Sub(s).Hours()/24) + 1
	switch {
	case !f.After(s) || days <= 0:
		return total
	case f.After(e):
		return 0
	}
	remaining := int64(e.Sub(f).Hours()/24) + 1
	// total <= MaxAmount and remaining <= a batch's length, so the product is far inside int64.
	return (2*total*remaining + days) / (2 * days)
}

// Materialise lays out the instalments of a net fee on a schedule from the term's start: amounts shared by
// the schedule's weights with exact sums, and any instalment due before the join date due on the join date.
// Exported for tests of awkward totals.
func Materialise(sc Schedule, net int64, termStart, joinDate string) ([]Slot, error) {
	sl := sc.slots(termStart)
	weights := make([]int64, len(sl))
	for i := range sl {
		if sl[i].Due < joinDate {
			sl[i].Due = joinDate
		}
		weights[i] = sl[i].Weight
	}
	amounts, err := money.Allocate(net, weights)
	if err != nil {
		return nil, fmt.Errorf("share %d over %d instalments: %w", net, len(sl), err)
	}
	for i := range sl {
		sl[i].Amount = amounts[i]
	}
	return sl, nil
}

// activePlan returns a plan usable for a new charge: active and in the tenant's currency.
func (s *Service) activePlan(ctx context.Context, planID string) (*Plan, error) {
	p, err := s.GetPlan(ctx, planID)
	if err != nil {
		return nil, apperr.Field("plan_id", apperr.FieldNotAllowed, "names no fee plan")
	}
	if !p.Active {
		return nil, apperr.Field("plan_id", apperr.FieldNotAllowed, "names a plan that is no longer active")
	}
	if p.Currency != currency(ctx) {
		return nil, apperr.Errorf(apperr.Conflict, "the plan is in %s but the institution bills in %s", p.Currency, currency(ctx))
	}
	return p, nil
}

// Assign applies a plan to an active enrolment and materialises its instalments. The caller must see the
// enrolment's student (NotFound otherwise); Invalid when the plan does not exist or is inactive; Conflict
// when the enrolment is not active or already has a plan.
func (s *Service) Assign(ctx context.Context, in NewAssignment) (*AssignmentView, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	e, err := students.EnrolmentByID(ctx, store.Database(ctx), in.EnrolmentID)
	if err != nil {
		return nil, err
	}
	if err := students.CanSeeStudent(ctx, e.StudentID); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such enrolment")
	}
	if e.Status != students.EnrolmentActive {
		return nil, apperr.Errorf(apperr.Conflict, "the enrolment is %s, not active", e.Status)
	}
	p, err := s.activePlan(ctx, in.PlanID)
	if err != nil {
		return nil, err
	}
	b, err := academic.FindBatch(ctx, store.Database(ctx), e.BatchID)
	if err != nil {
		return nil, fmt.Errorf("assign plan to enrolment %s: %w", e.ID, err)
	}
	now := s.deps.Clock.Now()
	gross := Prorate(p.Total, b.StartDate, b.EndDate, e.From)
	a := &Assignment{
		ID: id.New(), EnrolmentID: e.ID, StudentID: e.StudentID, BatchID: e.BatchID, BranchID: e.BranchID,
		PlanID: p.ID, PlanName: p.Name, Currency: p.Currency, PlanTotal: p.Total, TermStart: b.StartDate,
		TermEnd: b.EndDate, JoinDate: e.From, Gross: gross, Concessions: []Concession{}, Net: gross,
		LateFee: p.LateFee, CreatedAt: now, UpdatedAt: now,
	}
	slots, err := Materialise(p.Schedule, a.Net, b.StartDate, e.From)
	if err != nil {
		return nil, err
	}
	view := &AssignmentView{Assignment: *a, Instalments: make([]Instalment, len(slots))}
	docs := make([]any, len(slots))
	for i, sl := range slots {
		view.Instalments[i] = Instalment{
			ID: id.New(), AssignmentID: a.ID, StudentID: a.StudentID, EnrolmentID: a.EnrolmentID, BatchID: a.BatchID,
			BranchID: a.BranchID, Seq: i + 1, DueDate: sl.Due, Weight: sl.Weight, Currency: a.Currency,
			Amount: sl.Amount, Outstanding: sl.Amount, Status: statusOf(sl.Amount), LateFeeRule: a.LateFee,
			LateFeeKeys: []string{}, CreatedAt: now, UpdatedAt: now,
		}
		docs[i] = view.Instalments[i]
	}
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		db := store.Database(tc)
		if _, err := db.Collection(assignmentsCollection).InsertOne(tc, a); err != nil {
			if store.IsDuplicateKey(err) {
				return apperr.Errorf(apperr.Conflict, "the enrolment already has a fee plan")
			}
			return fmt.Errorf("assign plan to enrolment %s: %w", e.ID, err)
		}
		if _, err := db.Collection(instalmentsCollection).InsertMany(tc, docs); err != nil {
			return fmt.Errorf("materialise instalments of %s: %w", a.ID, err)
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "fees.assignment.created", audit.Target{Kind: "fee_assignment", ID: a.ID},
			map[string]any{"enrolment_id": e.ID, "plan_id": p.ID, "gross": gross, "instalments": len(docs)})
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// visibleAssignment returns an assignment whose student the caller may see; NotFound otherwise.
func visibleAssignment(ctx context.Context, assignmentID string) (*Assignment, error) {
	a, err := store.ByID[Assignment](ctx, store.Database(ctx).Collection(assignmentsCollection), assignmentID, "fee assignment")
	if err != nil {
		return nil, err
	}
	if err := students.CanSeeStudent(ctx, a.StudentID); err != nil {
		return nil, apperr.Errorf(apperr.NotFound, "no such fee assignment")
	}
	return a, nil
}

func instalmentsOf(ctx context.Context, assignmentID string) ([]Instalment, error) {
	cur, err := store.Database(ctx).Collection(instalmentsCollection).Find(ctx, bson.M{"assignment_id": assignmentID},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("instalments of %s: %w", assignmentID, err)
	}
	out := []Instalment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("instalments of %s: %w", assignmentID, err)
	}
	return out, nil
}

// GetAssignment returns an assignment and its instalments; NotFound unless the caller may see its student.
func (s *Service) GetAssignment(ctx context.Context, assignmentID string) (*AssignmentView, error) {
	a, err := visibleAssignment(ctx, assignmentID)
	if err != nil {
		return nil, err
	}
	is, err := instalmentsOf(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	return &AssignmentView{Assignment: *a, Instalments: is}, nil
}

// AssignmentsOf returns a student's assignments, oldest first; NotFound unless the caller may see them.
func (s *Service) AssignmentsOf(ctx context.Context, studentID string) ([]Assignment, error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	cur, err := store.Database(ctx).Collection(assignmentsCollection).Find(ctx, bson.M{"student_id": studentID},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("fee assignments of %s: %w", studentID, err)
	}
	out := []Assignment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("fee assignments of %s: %w", studentID, err)
	}
	return out, nil
}

// price recomputes the concessions' values and the net fee from the gross. Concessions never take the fee
// below zero; percentages apply to the gross, so their order does not matter.
func (a *Assignment) price() error {
	var total int64
	for i := range a.Concessions {
		c := &a.Concessions[i]
		switch {
		case c.Revoked:
			c.Value = 0
		case c.Kind == ConcessionPercent:
			v, err := money.PercentBP(a.Gross, c.BasisPoints)
			if err != nil {
				return fmt.Errorf("price concession %s: %w", c.ID, err)
			}
			c.Value = v
		default:
			c.Value = c.Amount
		}
		total += c.Value
	}
	a.ConcessionTotal = min(total, a.Gross)
	a.Net = a.Gross - a.ConcessionTotal
	return nil
}

// recalculate shares what the assignment still owes over its open instalments, by their weights, inside
// the transaction tc. Instalments with money recorded against them keep their amounts; when they already
// cover more than the net fee, the open ones drop to zero (the excess is the institution's to refund).
// When every instalment is locked and something is still owed, an adjustment instalment due today carries
// it. The assignment's batch, branch and enrolment are copied to the open instalments.
func (s *Service) recalculate(tc context.Context, a *Assignment, today string, now time.Time) error {
	is, err := instalmentsOf(tc, a.ID)
	if err != nil {
		return err
	}
	var lockedSum int64
	open := []Instalment{}
	for _, i := range is {
		if i.locked() {
			lockedSum += i.Amount
			continue
		}
		open = append(open, i)
	}
	rest := max(a.Net-lockedSum, 0)
	coll := store.Database(tc).Collection(instalmentsCollection)
	if len(open) == 0 {
		if rest == 0 {
			return nil
		}
		adj := Instalment{
			ID: id.New(), AssignmentID: a.ID, StudentID: a.StudentID, EnrolmentID: a.EnrolmentID, BatchID: a.BatchID,
			BranchID: a.BranchID, Seq: len(is) + 1, DueDate: today, Weight: 1, Currency: a.Currency, Amount: rest,
			Outstanding: rest, Status: InstalmentOpen, LateFeeRule: a.LateFee, LateFeeKeys: []string{}, CreatedAt: now, UpdatedAt: now,
		}
		if _, err := coll.InsertOne(tc, adj); err != nil {
			return fmt.Errorf("add adjustment instalment to %s: %w", a.ID, err)
		}
		return nil
	}
	weights := make([]int64, len(open))
	for k, i := range open {
		weights[k] = i.Weight
	}
	amounts, err := money.Allocate(rest, weights)
	if err != nil {
		return fmt.Errorf("recalculate %s: %w", a.ID, err)
	}
	for k, i := range open {
		outstanding := amounts[k] + i.LateFee
		// The filter re-checks that nothing was paid or waived meanwhile; on MongoDB a concurrent payment
		// is a write conflict that retries the whole transaction.
		res, err := coll.UpdateOne(tc, bson.M{"_id": i.ID, "paid": int64(0), "waived": int64(0)}, bson.M{"$set": bson.M{
			"amount": amounts[k], "outstanding": outstanding, "status": statusOf(outstanding),
			"batch_id": a.BatchID, "branch_id": a.BranchID, "enrolment_id": a.EnrolmentID, "late_fee_rule": a.LateFee, "updated_at": now,
		}})
		if err != nil {
			return fmt.Errorf("recalculate instalment %s: %w", i.ID, err)
		}
		if res.MatchedCount == 0 {
			return apperr.Errorf(apperr.Conflict, "a payment was recorded meanwhile; try again")
		}
	}
	return nil
}

// saveAssignment writes the assignment's priced fields back inside tc.
func saveAssignment(tc context.Context, a *Assignment) error {
	_, err := store.Database(tc).Collection(assignmentsCollection).UpdateOne(tc, bson.M{"_id": a.ID}, bson.M{"$set": bson.M{
		"enrolment_id": a.EnrolmentID, "batch_id": a.BatchID, "branch_id": a.BranchID, "plan_id": a.PlanID,
		"plan_name": a.PlanName, "plan_total": a.PlanTotal, "term_start": a.TermStart, "term_end": a.TermEnd,
		"gross": a.Gross, "concessions": a.Concessions, "concession_total": a.ConcessionTotal, "net": a.Net,
		"late_fee": a.LateFee, "updated_at": a.UpdatedAt,
	}})
	if store.IsDuplicateKey(err) {
		return apperr.Errorf(apperr.Conflict, "the student's current enrolment already has a fee plan")
	}
	if err != nil {
		return fmt.Errorf("save fee assignment %s: %w", a.ID, err)
	}
	return nil
}

// NewConcession grants a concession on an assignment; its approver is the caller.
type NewConcession struct {
	Kind        ConcessionKind `json:"kind"`
	BasisPoints int64          `json:"basis_points,omitempty"`
	Amount      int64          `json:"amount,omitempty"`
	Reason      string         `json:"reason"`
}

// Example implements httpapi.Exampler: a percent concession names basis points, a fixed one an amount.
func (NewConcession) Example() any {
	return NewConcession{Kind: ConcessionPercent, BasisPoints: 1000, Reason: "Sibling discount approved by the owner"}
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing, so
// validating before or after normalising gives one answer.
func (n NewConcession) Validate() error {
	n = n.normalized()
	var bad apperr.Problems
	switch n.Kind {
	case ConcessionPercent:
		if n.BasisPoints < 1 || n.BasisPoints > 10_000 || n.Amount != 0 {
			bad.Add("basis_points", apperr.FieldOutOfRange, "must be 1 to 10000 (100%), without amount")
		}
	case ConcessionFixed:
		if n.Amount < 1 || n.Amount > MaxAmount || n.BasisPoints != 0 {
			bad.Add("amount", apperr.FieldOutOfRange, "must be a positive amount in minor units, without basis_points")
		}
	case "":
		bad.Add("kind", apperr.FieldRequired, `must be "percent" or "fixed"`)
	default:
		bad.Add("kind", apperr.FieldNotAllowed, `must be "percent" or "fixed"`)
	}
	bad.Check(checkReason(n.Reason))
	return bad.Err()
}

// normalized returns the concession as it is recorded: the reason without surrounding spaces.
func (n NewConcession) normalized() NewConcession {
	n.Reason = strings.TrimSpace(n.Reason)
	return n
}

// changeAssignment loads a visible assignment inside a transaction, lets change alter it, reprices it,
// recalculates its open instalments and saves it, with an audit entry.
func (s *Service) changeAssignment(ctx context.Context, assignmentID, action string, change func(tc context.Context, a *Assignment) (any, error)) (*AssignmentView, error) {
	if _, err := visibleAssignment(ctx, assignmentID); err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	today := s.today(ctx)
	var view *AssignmentView
	err := store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		a, err := store.ByID[Assignment](tc, store.Database(tc).Collection(assignmentsCollection), assignmentID, "fee assignment")
		if err != nil {
			return err
		}
		details, err := change(tc, a)
		if err != nil {
			return err
		}
		a.UpdatedAt = now
		if err := a.price(); err != nil {
			return err
		}
		if err := saveAssignment(tc, a); err != nil {
			return err
		}
		if err := s.recalculate(tc, a, today, now); err != nil {
			return err
		}
		if err := s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), action, audit.Target{Kind: "fee_assignment", ID: a.ID}, details); err != nil {
			return err
		}
		is, err := instalmentsOf(tc, a.ID)
		if err != nil {
			return err
		}
		view = &AssignmentView{Assignment: *a, Instalments: is}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}

// GrantConcession adds a concession to an assignment and recalculates its open instalments. NotFound
// unless the caller may see the assignment's student.
func (s *Service) GrantConcession(ctx context.Context, assignmentID string, in NewConcession) (*AssignmentView, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	p := rbac.Must(ctx)
	return s.changeAssignment(ctx, assignmentID, "fees.concession.granted", func(_ context.Context, a *Assignment) (any, error) {
		if len(a.Concessions) >= 20 {
			return nil, apperr.Errorf(apperr.Conflict, "the assignment has too many concessions")
		}
		c := Concession{ID: id.New(), Kind: in.Kind, BasisPoints: in.BasisPoints, Amount: in.Amount, Reason: in.Reason,
			ApprovedBy: p.Subject, ApprovedAt: s.deps.Clock.Now()}
		a.Concessions = append(a.Concessions, c)
		return map[string]any{"concession_id": c.ID, "kind": c.Kind, "basis_points": c.BasisPoints, "amount": c.Amount, "reason": c.Reason}, nil
	})
}

// RevokeConcession withdraws a concession and recalculates the open instalments. NotFound for an unknown
// concession or an assignment the caller may not see; Conflict when already revoked.
func (s *Service) RevokeConcession(ctx context.Context, assignmentID, concessionID string) (*AssignmentView, error) {
	p := rbac.Must(ctx)
	return s.changeAssignment(ctx, assignmentID, "fees.concession.revoked", func(_ context.Context, a *Assignment) (any, error) {
		for i := range a.Concessions {
			c := &a.Concessions[i]
			if c.ID != concessionID {
				continue
			}
			if c.Revoked {
				return nil, apperr.Errorf(apperr.Conflict, "the concession is already revoked")
			}
			now := s.deps.Clock.Now()
			c.Revoked, c.RevokedBy, c.RevokedAt = true, p.Subject, &now
			return map[string]any{"concession_id": c.ID}, nil
		}
		return nil, apperr.Errorf(apperr.NotFound, "no such concession")
	})
}

// Recalculation asks fees to catch up with the student's enrolment after a batch transfer.
type Recalculation struct {
	// PlanID, when set, is the plan of the new batch: the rest of the term from the transfer date is
	// re-priced from the old plan to this one.
	PlanID string `json:"plan_id,omitempty"`
}

// Validate implements httpapi.Validator.
func (r Recalculation) Validate() error {
	if r.PlanID != "" && !id.Valid(r.PlanID) {
		return apperr.Field("plan_id", apperr.FieldFormat, "must be a fee plan id")
	}
	return nil
}

// Recalculate follows the assignment's enrolment through its transfers to the student's current
// enrolment, moves the assignment and its open instalments to that batch and branch, optionally re-prices
// the rest of the term with the new batch's plan, and recalculates the open instalments; paid ones are
// never touched. NotFound unless the caller may see the student; Invalid for an unusable plan; Conflict
// when the current enrolment already has its own plan.
func (s *Service) Recalculate(ctx context.Context, assignmentID string, in Recalculation) (*AssignmentView, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var plan *Plan
	if in.PlanID != "" {
		var err error
		if plan, err = s.activePlan(ctx, in.PlanID); err != nil {
			return nil, err
		}
	}
	return s.changeAssignment(ctx, assignmentID, "fees.assignment.recalculated", func(tc context.Context, a *Assignment) (any, error) {
		e, err := students.EnrolmentByID(tc, store.Database(tc), a.EnrolmentID)
		if err != nil {
			return nil, err
		}
		for hops := 0; e.Status == students.EnrolmentTransferred && e.TransferredTo != ""; hops++ {
			if hops > 100 {
				return nil, fmt.Errorf("recalculate %s: transfer chain too long", a.ID)
			}
			if e, err = students.EnrolmentByID(tc, store.Database(tc), e.TransferredTo); err != nil {
				return nil, err
			}
		}
		details := map[string]any{"from_enrolment_id": a.EnrolmentID, "to_enrolment_id": e.ID, "gross_before": a.Gross}
		if e.ID != a.EnrolmentID {
			b, err := academic.FindBatch(tc, store.Database(tc), e.BatchID)
			if err != nil {
				return nil, fmt.Errorf("recalculate %s: %w", a.ID, err)
			}
			if plan != nil {
				// The old plan's share of the days from the transfer is replaced by the new plan's share.
				a.Gross = a.Gross - Prorate(a.PlanTotal, a.TermStart, a.TermEnd, e.From) + Prorate(plan.Total, b.StartDate, b.EndDate, e.From)
				a.Gross = max(a.Gross, 0)
			}
			a.EnrolmentID, a.BatchID, a.BranchID, a.TermStart, a.TermEnd = e.ID, e.BatchID, e.BranchID, b.StartDate, b.EndDate
		} else if plan != nil {
			return nil, apperr.Errorf(apperr.Conflict, "the enrolment has not been transferred; a new plan applies only from a transfer")
		}
		if plan != nil {
			a.PlanID, a.PlanName, a.PlanTotal, a.LateFee = plan.ID, plan.Name, plan.Total, plan.LateFee
			details["plan_id"] = plan.ID
		}
		details["gross_after"] = a.Gross
		return details, nil
	})
}
