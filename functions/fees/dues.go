package fees

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Ageing splits outstanding amounts by how many days past due they are on the as-of date.
type Ageing struct {
	NotDue     int64 `json:"not_due"`
	Days1To30  int64 `json:"days_1_30"`
	Days31To60 int64 `json:"days_31_60"`
	Days61To90 int64 `json:"days_61_90"`
	Over90     int64 `json:"days_over_90"`
}

func (a *Ageing) add(dueDate, asOf string, amount int64) {
	due, _ := time.Parse(time.DateOnly, dueDate)
	on, _ := time.Parse(time.DateOnly, asOf)
	days := int(on.Sub(due).Hours() / 24)
	switch {
	case days <= 0:
		a.NotDue += amount
	case days <= 30:
		a.Days1To30 += amount
	case days <= 60:
		a.Days31To60 += amount
	case days <= 90:
		a.Days61To90 += amount
	default:
		a.Over90 += amount
	}
}

// StudentDues is what one student owes: the open instalments, their total, the overdue part, ageing and
// the credit held for the student.
type StudentDues struct {
	StudentID   string       `json:"student_id"`
	Currency    string       `json:"currency"`
	AsOf        string       `json:"as_of" format:"date"`
	Outstanding int64        `json:"outstanding"`
	Overdue     int64        `json:"overdue"`
	Credit      int64        `json:"credit"`
	Ageing      Ageing       `json:"ageing"`
	Instalments []Instalment `json:"instalments"`
}

// DuesOfStudent returns a student's dues today; NotFound unless the caller may see the student.
func (s *Service) DuesOfStudent(ctx context.Context, studentID string) (*StudentDues, error) {
	if err := students.CanSeeStudent(ctx, studentID); err != nil {
		return nil, err
	}
	asOf := s.today(ctx)
	cur, err := store.Database(ctx).Collection(instalmentsCollection).Find(ctx, bson.M{"student_id": studentID, "status": InstalmentOpen},
		options.Find().SetSort(bson.D{{Key: "due_date", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("dues of %s: %w", studentID, err)
	}
	d := &StudentDues{StudentID: studentID, Currency: currency(ctx), AsOf: asOf, Instalments: []Instalment{}}
	if err := cur.All(ctx, &d.Instalments); err != nil {
		return nil, fmt.Errorf("dues of %s: %w", studentID, err)
	}
	for _, i := range d.Instalments {
		d.Outstanding += i.Outstanding
		if i.DueDate < asOf {
			d.Overdue += i.Outstanding
		}
		d.Ageing.add(i.DueDate, asOf, i.Outstanding)
	}
	if d.Credit, err = creditOf(ctx, studentID); err != nil {
		return nil, err
	}
	return d, nil
}

// DuesSummary is what a batch, a branch or the whole institution is owed.
type DuesSummary struct {
	// Scope is "batch", "branch" or "institution"; ID names the batch or branch.
	Scope       string `json:"scope" example:"batch"`
	ID          string `json:"id,omitempty"`
	Currency    string `json:"currency"`
	AsOf        string `json:"as_of" format:"date"`
	Outstanding int64  `json:"outstanding"`
	Overdue     int64  `json:"overdue"`
	Students    int    `json:"students"`
	Instalments int    `json:"instalments"`
	Ageing      Ageing `json:"ageing"`
}

// Dues sums the open instalments of a batch (batchID set), a branch (branchID set) or every branch the
// caller may see (neither). NotFound for a batch or branch the caller may not see, and for students and
// guardians, who have only their own dues; Invalid when both are set.
func (s *Service) Dues(ctx context.Context, batchID, branchID string) (*DuesSummary, error) {
	p := rbac.Must(ctx)
	if !p.Role.Staff() {
		return nil, apperr.Errorf(apperr.NotFound, "no such dues")
	}
	d := &DuesSummary{Currency: currency(ctx), AsOf: s.today(ctx)}
	filter := bson.M{"status": InstalmentOpen}
	switch {
	case batchID != "" && branchID != "":
		return nil, apperr.Field("branch", apperr.FieldNotAllowed, "ask for a batch or a branch, not both")
	case batchID != "":
		if _, err := academic.VisibleBatch(ctx, batchID); err != nil {
			return nil, err
		}
		d.Scope, d.ID, filter["batch_id"] = "batch", batchID, batchID
	case branchID != "":
		if !id.Valid(branchID) || !p.CanSeeBranch(branchID) {
			return nil, apperr.Errorf(apperr.NotFound, "no such branch")
		}
		d.Scope, d.ID, filter["branch_id"] = "branch", branchID, branchID
	default:
		d.Scope = "institution"
		if p.Role.Level() != rbac.LevelTenant {
			filter["branch_id"] = store.In(p.Branches)
		}
	}
	cur, err := store.Database(ctx).Collection(instalmentsCollection).Find(ctx, filter,
		options.Find().SetProjection(bson.M{"student_id": 1, "due_date": 1, "outstanding": 1}))
	if err != nil {
		return nil, fmt.Errorf("dues of %s %s: %w", d.Scope, d.ID, err)
	}
	defer func() { _ = cur.Close(ctx) }()
	seen := map[string]bool{}
	for cur.Next(ctx) {
		var i struct {
			StudentID   string `bson:"student_id"`
			DueDate     string `bson:"due_date"`
			Outstanding int64  `bson:"outstanding"`
		}
		if err := cur.Decode(&i); err != nil {
			return nil, fmt.Errorf("dues of %s %s: %w", d.Scope, d.ID, err)
		}
		d.Instalments++
		d.Outstanding += i.Outstanding
		if i.DueDate < d.AsOf {
			d.Overdue += i.Outstanding
		}
		d.Ageing.add(i.DueDate, d.AsOf, i.Outstanding)
		seen[i.StudentID] = true
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("dues of %s %s: %w", d.Scope, d.ID, err)
	}
	d.Students = len(seen)
	return d, nil
}
