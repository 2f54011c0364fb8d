// Package leads is the admissions funnel: enquiries (leads) with their source, contact and interest, the
// stages they move through, the counsellors they are assigned to, their follow-ups and activity history,
// and the conversion of a won lead into an enrolled, billed student.
//
// Permissions: leads.read and leads.write (owners, branch admins, counsellors), leads.assign (owners,
// branch admins), leads.convert (owners, branch admins, counsellors: conversion creates a student, an
// enrolment and a fee assignment, which each of these roles may already do one by one through
// students.write, enrolments.write and fees.assign, so converting grants nothing new).
//
// Who sees which lead (visibility.go): owners every lead; branch admins the leads of their branches;
// counsellors, who work across branches, the leads assigned to them and the unassigned ones (the pool any
// counsellor may pick from). A lead the caller may not see reads as not found, everywhere.
//
// # Rules and where they live
//
//   - contact.go: how a contact is normalised for comparison: phone digits with a country calling code
//     (the institution's, by its currency, when the number has none), email trimmed and lower-case.
//   - lead.go: a new lead whose normalised phone or email matches an open lead of the institution is
//     refused (Conflict, naming that lead). Open means neither won nor lost: a lost lead that enquires
//     again is reopened or entered afresh, and a won lead (a student now) may enquire about another
//     course. Unique partial indexes on the normalised fields of open leads keep the rule under
//     concurrency, also when a lost lead is reopened. Assignment (who may be given a lead) is here too.
//   - stage.go: the table of allowed stage moves; lost needs a reason; every move is kept in the lead's
//     stages and in its activity history.
//   - activity.go: the history of a lead (creation, stage moves, notes, assignments, follow-ups,
//     conversion), written in the same transaction as the change it records.
//   - followup.go: follow-ups with due times and the overdue list per counsellor (the injected clock);
//     reassigning a lead moves its open follow-ups to the new counsellor.
//   - convert.go: conversion, all-or-nothing and idempotent.
//
// # Conversion
//
// POST /leads/{id}/convert turns a won lead into a student (record, account, PRN), an enrolment in a batch
// of the lead's branch and a fee assignment, and links the lead to the student, in ONE store.Tx: the
// students and fees operations each run their own store.Tx, which joins the outer one, so any failure
// (a full batch, an inactive plan, a crash between steps) leaves nothing behind, not even a PRN sequence
// number, because the PRN counter is incremented inside the same transaction. It takes an Idempotency-Key,
// kept on the lead: a retry with the same key and body answers 200 with the original result; once
// converted, any other conversion of the lead is a Conflict naming the student.
//
// The student's password is hashed by account.Create inside that transaction (CreateStudent hashes
// outside any transaction only when called on its own), so a conversion holds the transaction for one
// Argon2id hash (about 0.25 s with the production parameters on this machine).
//
// # Collections (the warehouse reads them as they are; fields may be added, never renamed)
//
// leads: _id, branch_id, name, phone, email, phone_norm, email_norm, source, stage, lost_reason,
// counsellor_id, course_id, open, stages [{stage, at}], student_id, converted_at, conversion, created_at,
// updated_at. lead_activities: one document per event of a lead. lead_followups: lead_id, counsellor_id,
// due_at, note, done, done_at.
package leads

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/prnum"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// The area's collections in a tenant database.
const (
	leadsCollection      = "leads"
	activitiesCollection = "lead_activities"
	followUpsCollection  = "lead_followups"
)

// Source is where a lead came from.
type Source string

// The sources.
const (
	SourceWalkIn   Source = "walk_in"
	SourceWebsite  Source = "website"
	SourceReferral Source = "referral"
	SourcePhone    Source = "phone"
	SourceSocial   Source = "social"
	SourceEvent    Source = "event"
	SourceOther    Source = "other"
)

// Sources lists every source, in the order reports show them.
var Sources = []Source{SourceWalkIn, SourceWebsite, SourceReferral, SourcePhone, SourceSocial, SourceEvent, SourceOther}

// Values implements httpapi.Enum: the sources the API accepts and answers.
func (Source) Values() []string { return httpapi.EnumValues(Sources) }

// Valid reports whether v is one of Values.
func (v Source) Valid() bool { return slices.Contains(Sources, v) }

// Lead is one enquiry.
type Lead struct {
	ID       string `bson:"_id" json:"id"`
	BranchID string `bson:"branch_id" json:"branch_id"`
	Name     string `bson:"name" json:"name"`
	Phone    string `bson:"phone,omitempty" json:"phone,omitempty"`
	Email    string `bson:"email,omitempty" json:"email,omitempty"`
	// PhoneNorm and EmailNorm are the contact as duplicate detection compares it; absent when not given,
	// so the unique indexes ignore them.
	PhoneNorm string `bson:"phone_norm,omitempty" json:"phone_norm,omitempty"`
	EmailNorm string `bson:"email_norm,omitempty" json:"-"`
	Source    Source `bson:"source" json:"source"`
	Stage     Stage  `bson:"stage" json:"stage"`
	// LostReason says why a lead was lost; "" unless Stage is lost.
	LostReason string `bson:"lost_reason" json:"lost_reason,omitempty"`
	// CounsellorID is the staff member working the lead; "" while unassigned.
	CounsellorID string `bson:"counsellor_id" json:"counsellor_id"`
	// CourseID is the course the lead is interested in; "" when not known.
	CourseID string `bson:"course_id" json:"course_id"`
	Note     string `bson:"note,omitempty" json:"note,omitempty"`
	// Open is false once the lead is won or lost; only open leads take part in duplicate detection.
	Open bool `bson:"open" json:"open"`
	// Stages is every stage the lead has entered, in order, starting with new at CreatedAt.
	Stages []StageEntry `bson:"stages" json:"stages"`
	// StudentID is the student the lead became; "" until converted.
	StudentID   string      `bson:"student_id" json:"student_id"`
	ConvertedAt *time.Time  `bson:"converted_at,omitempty" json:"converted_at,omitempty"`
	Conversion  *Conversion `bson:"conversion,omitempty" json:"conversion,omitempty"`
	// ConvertKey and ConvertHash are the Idempotency-Key and request fingerprint of the conversion.
	ConvertKey  string    `bson:"convert_key,omitempty" json:"-"`
	ConvertHash string    `bson:"convert_hash,omitempty" json:"-"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt   time.Time `bson:"updated_at" json:"updated_at"`
}

// StageEntry is one stage a lead entered and when.
type StageEntry struct {
	Stage Stage     `bson:"stage" json:"stage"`
	At    time.Time `bson:"at" json:"at"`
}

// Conversion is what converting a lead created.
type Conversion struct {
	LeadID       string    `bson:"lead_id" json:"lead_id"`
	StudentID    string    `bson:"student_id" json:"student_id"`
	PRN          prnum.PRN `bson:"prn" json:"prn"`
	EnrolmentID  string    `bson:"enrolment_id" json:"enrolment_id"`
	AssignmentID string    `bson:"assignment_id" json:"assignment_id"`
}

// Service is the leads area. Construct with New.
type Service struct {
	deps Deps
	// failAt, when set (tests only, export_test.go), is called after each step of a conversion; an error
	// it returns aborts the conversion there, as a crash or a failing write would.
	failAt func(step string) error
}

// Branches reads the institution's branches (the users area).
type Branches interface {
	// GetBranch returns a branch the caller may see; NotFound otherwise.
	GetBranch(ctx context.Context, branchID string) (*users.Branch, error)
}

// Courses reads the institution's courses (the academic area).
type Courses interface {
	// GetCourse returns a course; NotFound when there is none.
	GetCourse(ctx context.Context, courseID string) (*academic.Course, error)
}

// Students admits a converted lead (the students area). Both join a store.Tx in ctx.
type Students interface {
	CreateStudent(ctx context.Context, in students.NewStudent) (*students.Student, error)
	Enrol(ctx context.Context, in students.NewEnrolment) (*students.Enrolment, error)
}

// Fees bills a converted lead's enrolment (the fees area); joins a store.Tx in ctx.
type Fees interface {
	Assign(ctx context.Context, in fees.NewAssignment) (*fees.AssignmentView, error)
}

// Deps is what the leads area needs; every field is required.
type Deps struct {
	Clock    clock.Clock
	Audit    audit.Recorder
	Branches Branches
	Courses  Courses
	Students Students
	Fees     Fees
}

// New returns the leads service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// EnsureIndexes creates the area's indexes in a tenant database; idempotent.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	openWith := func(field string) bson.M {
		return bson.M{"open": true, field: bson.M{"$exists": true}}
	}
	models := map[string][]mongo.IndexModel{
		leadsCollection: {
			// The duplicate rule: one open lead per normalised phone and per normalised email, whoever races.
			{Keys: bson.D{{Key: "phone_norm", Value: 1}}, Options: options.Index().SetUnique(true).SetName("open_phone_unique").
				SetPartialFilterExpression(openWith("phone_norm"))},
			{Keys: bson.D{{Key: "email_norm", Value: 1}}, Options: options.Index().SetUnique(true).SetName("open_email_unique").
				SetPartialFilterExpression(openWith("email_norm"))},
			{Keys: bson.D{{Key: "counsellor_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("counsellor")},
			{Keys: bson.D{{Key: "branch_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("branch")},
		},
		activitiesCollection: {
			{Keys: bson.D{{Key: "lead_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("lead")},
		},
		followUpsCollection: {
			{Keys: bson.D{{Key: "counsellor_id", Value: 1}, {Key: "done", Value: 1}, {Key: "due_at", Value: 1}}, Options: options.Index().SetName("counsellor_open_due")},
			{Keys: bson.D{{Key: "done", Value: 1}, {Key: "due_at", Value: 1}}, Options: options.Index().SetName("open_due")},
			{Keys: bson.D{{Key: "lead_id", Value: 1}}, Options: options.Index().SetName("lead")},
		},
	}
	for coll, ms := range models {
		if _, err := db.Collection(coll).Indexes().CreateMany(ctx, ms); err != nil {
			return fmt.Errorf("create %s indexes: %w", coll, err)
		}
	}
	return nil
}
