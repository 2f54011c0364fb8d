// Package students is the area of an institution's learners: students (each with a PRN and a sign-in
// account), their guardians (own accounts and PRNs; one guardian may have several children at the
// institution) and their enrolments into batches, with the history of transfers and withdrawals.
//
// Permissions: students.read (every staff role, students and guardians), students.write (owners, branch
// admins, counsellors), enrolments.write (the same). Staff see the students of their branches (tenant-level
// staff every student); a student sees only their own record and a guardian only their children's; anything
// else reads as not found.
//
// The capacity of a batch is the academic area's rule (academic.ReserveSeat); the rule that a student has at
// most one active enrolment per batch is here (enrolment.go), kept by a unique partial index so it holds
// under concurrency on both engines.
//
// # Go API for other areas
//
// Attendance, fees, exams and learning build on these functions and types; their signatures are stable.
// They are the only way into this area's collections, whose names are the area's own:
//
//   - ActiveEnrolmentsOn: the enrolments of a batch active on a tenant-local date.
//   - StudentEnrolmentsOn: the enrolments of a student active on a tenant-local date.
//   - GuardiansOf: a student's guardians.
//   - FindStudents, FindGuardians: students and guardians by id, one query each (reads.go).
//   - EverEnrolled: whether a student was ever enrolled in a batch.
//   - StudentIDOfAccount: the student behind a sign-in account.
//   - CanSeeStudent: NotFound unless the request's caller may see a student.
//   - Student, Enrolment, Guardian: the stored documents, with json and bson tags.
package students

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// The area's collections in a tenant database.
const (
	studentsCollection   = "students"
	guardiansCollection  = "guardians"
	enrolmentsCollection = "enrolments"
)

// StudentStatus is whether a student is still with the institution.
type StudentStatus string

// The student states.
const (
	StudentActive    StudentStatus = "active"
	StudentWithdrawn StudentStatus = "withdrawn"
)

// studentStatuses lists every student status; the API document shows them as the enum of a student status field.
var studentStatuses = []StudentStatus{StudentActive, StudentWithdrawn}

// Values implements httpapi.Enum.
func (StudentStatus) Values() []string { return httpapi.EnumValues(studentStatuses) }

// Student is a learner's record. Their sign-in account (account.User with role student) is linked both
// ways: AccountID here, SubjectID there.
type Student struct {
	ID        string    `bson:"_id" json:"id"`
	PRN       prnum.PRN `bson:"prn" json:"prn"`
	AccountID string    `bson:"account_id" json:"account_id"`
	Name      string    `bson:"name" json:"name"`
	// NameKey is Name normalised for prefix search (see normaliseName); never shown.
	NameKey     string        `bson:"name_key" json:"-"`
	DateOfBirth string        `bson:"date_of_birth" json:"date_of_birth" format:"date" example:"2010-04-01"`
	Phone       string        `bson:"phone" json:"phone"`
	Email       string        `bson:"email,omitempty" json:"email,omitempty"`
	BranchID    string        `bson:"branch_id" json:"branch_id"`
	Status      StudentStatus `bson:"status" json:"status"`
	GuardianIDs []string      `bson:"guardian_ids" json:"guardian_ids"`
	CreatedAt   time.Time     `bson:"created_at" json:"created_at"`
	UpdatedAt   time.Time     `bson:"updated_at" json:"updated_at"`
}

// Guardian is a parent or other guardian: one record and one sign-in account (role guardian, PRN role 8)
// however many children they have at the institution. A student lists their guardians in GuardianIDs.
type Guardian struct {
	ID        string    `bson:"_id" json:"id"`
	PRN       prnum.PRN `bson:"prn" json:"prn"`
	AccountID string    `bson:"account_id" json:"account_id"`
	Name      string    `bson:"name" json:"name"`
	Email     string    `bson:"email,omitempty" json:"email,omitempty"`
	Phone     string    `bson:"phone,omitempty" json:"phone,omitempty"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// EnrolmentStatus is the state of one enrolment.
type EnrolmentStatus string

// The enrolment states. Only Active enrolments hold a seat; the others are history and never deleted.
const (
	EnrolmentActive      EnrolmentStatus = "active"
	EnrolmentTransferred EnrolmentStatus = "transferred"
	EnrolmentWithdrawn   EnrolmentStatus = "withdrawn"
)

// enrolmentStatuses lists every enrolment status; the API document shows them as the enum of a enrolment status field.
var enrolmentStatuses = []EnrolmentStatus{EnrolmentActive, EnrolmentTransferred, EnrolmentWithdrawn}

// Values implements httpapi.Enum.
func (EnrolmentStatus) Values() []string { return httpapi.EnumValues(enrolmentStatuses) }

// Enrolment is one stretch of a student in a batch: from From (included) to To (excluded; "" while
// open), both tenant-local dates "YYYY-MM-DD". A transfer closes one enrolment and opens another on the
// same date, so on any date a student is in at most one of the two.
type Enrolment struct {
	ID        string          `bson:"_id" json:"id"`
	StudentID string          `bson:"student_id" json:"student_id"`
	BatchID   string          `bson:"batch_id" json:"batch_id"`
	BranchID  string          `bson:"branch_id" json:"branch_id"`
	CourseID  string          `bson:"course_id" json:"course_id"`
	From      string          `bson:"from" json:"from" format:"date"`
	To        string          `bson:"to" json:"to,omitempty" format:"date"`
	Status    EnrolmentStatus `bson:"status" json:"status"`
	// TransferredTo is the enrolment a transfer opened, on a transferred enrolment.
	TransferredTo string    `bson:"transferred_to,omitempty" json:"transferred_to,omitempty"`
	CreatedAt     time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bson:"updated_at" json:"updated_at"`
}

// ActiveOn reports whether the enrolment covers the tenant-local date.
func (e Enrolment) ActiveOn(date string) bool {
	return e.From <= date && (e.To == "" || date < e.To)
}

// Service manages students, guardians and enrolments. Construct with New.
type Service struct {
	deps Deps
}

// Branches reads the institution's branches (the users area).
type Branches interface {
	// GetBranch returns a branch the caller may see; NotFound otherwise.
	GetBranch(ctx context.Context, branchID string) (*users.Branch, error)
}

// Deps is what the students area needs; every field is required.
type Deps struct {
	Clock     clock.Clock
	Audit     audit.Recorder
	Passwords authn.PasswordParams
	Branches  Branches
}

// New returns the students service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// EnsureIndexes creates the area's indexes in a tenant database.
func EnsureIndexes(ctx context.Context, db lungo.IDatabase) error {
	if _, err := db.Collection(studentsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "prn", Value: 1}}, Options: options.Index().SetUnique(true).SetName("prn_unique")},
		{Keys: bson.D{{Key: "account_id", Value: 1}}, Options: options.Index().SetUnique(true).SetName("account_unique")},
		{Keys: bson.D{{Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("name_key")},
		{Keys: bson.D{{Key: "branch_id", Value: 1}, {Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("branch_name_key")},
		{Keys: bson.D{{Key: "guardian_ids", Value: 1}}, Options: options.Index().SetName("guardian_ids")},
	}); err != nil {
		return fmt.Errorf("create student indexes: %w", err)
	}
	if _, err := db.Collection(guardiansCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "account_id", Value: 1}}, Options: options.Index().SetUnique(true).SetName("account_unique")},
		// A guardian is found again by email or phone when added to a second child, so each names one guardian.
		{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique").
			SetPartialFilterExpression(bson.M{"email": bson.M{"$exists": true}})},
		{Keys: bson.D{{Key: "phone", Value: 1}}, Options: options.Index().SetUnique(true).SetName("phone_unique").
			SetPartialFilterExpression(bson.M{"phone": bson.M{"$exists": true}})},
	}); err != nil {
		return fmt.Errorf("create guardian indexes: %w", err)
	}
	if _, err := db.Collection(enrolmentsCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		// The no-double-enrolment rule: at most one active enrolment per (batch, student), whoever races.
		{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "student_id", Value: 1}}, Options: options.Index().SetUnique(true).
			SetName("active_enrolment_unique").SetPartialFilterExpression(bson.M{"status": string(EnrolmentActive)})},
		{Keys: bson.D{{Key: "student_id", Value: 1}, {Key: "from", Value: 1}}, Options: options.Index().SetName("student_from")},
		{Keys: bson.D{{Key: "batch_id", Value: 1}, {Key: "from", Value: 1}}, Options: options.Index().SetName("batch_from")},
	}); err != nil {
		return fmt.Errorf("create enrolment indexes: %w", err)
	}
	return nil
}

// CheckRosterList checks the students of a per-student list in a request body (attendance marks, test
// results): 1 to max entries, each a well-formed student id, none listed twice. list is the list's JSON
// name; Invalid naming the list or the entry ("marks[3].student_id") otherwise.
func CheckRosterList(list string, studentIDs []string, max int) error {
	if len(studentIDs) == 0 {
		return apperr.Field(list, apperr.FieldRequired, "must list at least one student")
	}
	if len(studentIDs) > max {
		return apperr.Field(list, apperr.FieldTooLong, fmt.Sprintf("may list at most %d students", max))
	}
	var bad apperr.Problems
	seen := make(map[string]bool, len(studentIDs))
	for i, sid := range studentIDs {
		field := fmt.Sprintf("%s[%d].student_id", list, i)
		httpapi.CheckID(&bad, field, sid, "must be a student id")
		if seen[sid] && !bad.Has(field) {
			bad.Add(field, apperr.FieldDuplicate, "lists the student a second time")
		}
		seen[sid] = true
	}
	return bad.Err()
}

// CheckOnRoll verifies that every one of studentIDs has an enrolment in batchID active on date (as
// ActiveEnrolmentsOn), with one query whatever their number. It is for areas that write per-student rows
// of a batch (attendance marks, test results): Invalid naming every student who is not on the roll, the
// field of the i-th given by field(i), and nothing else checked or written. what names the object for the
// message ("session", "test").
func CheckOnRoll(ctx context.Context, db lungo.IDatabase, batchID, date string, studentIDs []string, field func(i int) string, what string) error {
	enrolled, err := ActiveEnrolmentsOn(ctx, db, batchID, date)
	if err != nil {
		return err
	}
	onRoll := make(map[string]bool, len(enrolled))
	for _, e := range enrolled {
		onRoll[e.StudentID] = true
	}
	var bad []string
	var errs []apperr.FieldError
	for i, id := range studentIDs {
		if !onRoll[id] {
			bad = append(bad, id)
			errs = append(errs, apperr.FieldError{Field: field(i), Code: apperr.FieldNotAllowed,
				Message: fmt.Sprintf("is not enrolled in the %s's batch on %s", what, date)})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	e := apperr.Invalidated(errs)
	e.Message = fmt.Sprintf("nothing was written: %d student(s) are not enrolled in the %s's batch on %s: %s", len(bad), what, date, strings.Join(bad, ", "))
	return e
}

// ActiveEnrolmentsOn returns the enrolments of a batch active on a tenant-local date "YYYY-MM-DD" (From <=
// date and (To empty or date < To)), in From order, whatever their status now: a student transferred out
// later was still in the batch that day. db is the tenant database; no visibility check is made, so callers
// check the batch first (academic.VisibleBatch). Invalid when date is malformed.
func ActiveEnrolmentsOn(ctx context.Context, db lungo.IDatabase, batchID string, date string) ([]Enrolment, error) {
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return nil, apperr.Field("date", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	cur, err := db.Collection(enrolmentsCollection).Find(ctx, bson.M{
		"batch_id": batchID, "from": bson.M{"$lte": date},
		"$or": bson.A{bson.M{"to": ""}, bson.M{"to": bson.M{"$gt": date}}},
	}, options.Find().SetSort(bson.D{{Key: "from", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("enrolments of batch %s on %s: %w", batchID, date, err)
	}
	out := []Enrolment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("enrolments of batch %s on %s: %w", batchID, date, err)
	}
	return out, nil
}

// StudentEnrolmentsOn returns a student's enrolments active on a tenant-local date "YYYY-MM-DD" (the same
// rule as ActiveEnrolmentsOn), in From order. db is the tenant database; no visibility check is made, so
// callers check the student first (CanSeeStudent) or act for the student themself. Invalid when date is
// malformed.
func StudentEnrolmentsOn(ctx context.Context, db lungo.IDatabase, studentID string, date string) ([]Enrolment, error) {
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return nil, apperr.Field("date", apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	cur, err := db.Collection(enrolmentsCollection).Find(ctx, bson.M{
		"student_id": studentID, "from": bson.M{"$lte": date},
		"$or": bson.A{bson.M{"to": ""}, bson.M{"to": bson.M{"$gt": date}}},
	}, options.Find().SetSort(bson.D{{Key: "from", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("enrolments of student %s on %s: %w", studentID, date, err)
	}
	out := []Enrolment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("enrolments of student %s on %s: %w", studentID, date, err)
	}
	return out, nil
}

// GuardiansOf returns the guardians of a student (none is an empty slice). db is the tenant database; no
// visibility check is made (see CanSeeStudent). NotFound when there is no such student.
func GuardiansOf(ctx context.Context, db lungo.IDatabase, studentID string) ([]Guardian, error) {
	st, err := findStudent(ctx, db, bson.M{"_id": studentID})
	if err != nil {
		return nil, err
	}
	cur, err := db.Collection(guardiansCollection).Find(ctx, bson.M{"_id": store.In(st.GuardianIDs)},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("guardians of student %s: %w", studentID, err)
	}
	out := []Guardian{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("guardians of student %s: %w", studentID, err)
	}
	return out, nil
}

// CanSeeStudent returns nil when the request's caller may see the student: staff whose branches include the
// student's (tenant-level staff always), the student themself, or one of the student's guardians. Otherwise,
// and when there is no such student, it returns NotFound. ctx is a request context (principal and tenant
// database), possibly a store.Tx context.
func CanSeeStudent(ctx context.Context, studentID string) error {
	_, err := visibleStudent(ctx, studentID)
	return err
}

func visibleStudent(ctx context.Context, studentID string) (*Student, error) {
	if !id.Valid(studentID) {
		return nil, apperr.Errorf(apperr.NotFound, "no such student")
	}
	db := store.Database(ctx)
	st, err := findStudent(ctx, db, bson.M{"_id": studentID})
	if err != nil {
		return nil, err
	}
	ok, err := canSee(ctx, db, rbac.Must(ctx), st)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "no such student")
	}
	return st, nil
}

func canSee(ctx context.Context, db lungo.IDatabase, p rbac.Principal, st *Student) (bool, error) {
	switch p.Role {
	case rbac.Student:
		return st.AccountID == p.Subject, nil
	case rbac.Guardian:
		g, err := guardianOfAccount(ctx, db, p.Subject)
		if err != nil || g == nil {
			return false, err
		}
		for _, gid := range st.GuardianIDs {
			if gid == g.ID {
				return true, nil
			}
		}
		return false, nil
	}
	return p.Role.Staff() && p.CanSeeBranch(st.BranchID), nil
}

// visibleStudentsFilter limits a student query to what canSee allows.
func visibleStudentsFilter(ctx context.Context, db lungo.IDatabase, p rbac.Principal) (bson.M, error) {
	switch {
	case p.Role == rbac.Student:
		return bson.M{"account_id": p.Subject}, nil
	case p.Role == rbac.Guardian:
		g, err := guardianOfAccount(ctx, db, p.Subject)
		if err != nil {
			return nil, err
		}
		if g == nil {
			return bson.M{"_id": store.In(nil)}, nil
		}
		return bson.M{"guardian_ids": g.ID}, nil
	case p.Role.Level() == rbac.LevelTenant:
		return bson.M{}, nil
	case p.Role.Level() == rbac.LevelBranch:
		return bson.M{"branch_id": store.In(p.Branches)}, nil
	}
	return bson.M{"_id": store.In(nil)}, nil
}

// guardianOfAccount returns the guardian record of a sign-in account, or nil when it has none.
func guardianOfAccount(ctx context.Context, db lungo.IDatabase, accountID string) (*Guardian, error) {
	var g Guardian
	err := db.Collection(guardiansCollection).FindOne(ctx, bson.M{"account_id": accountID}).Decode(&g)
	if store.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("guardian of account %s: %w", accountID, err)
	}
	return &g, nil
}

func findStudent(ctx context.Context, db lungo.IDatabase, filter bson.M) (*Student, error) {
	var st Student
	err := db.Collection(studentsCollection).FindOne(ctx, filter).Decode(&st)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "no such student")
	}
	if err != nil {
		return nil, fmt.Errorf("find student: %w", err)
	}
	return &st, nil
}

// today is the tenant-local date now.
func (s *Service) today(ctx context.Context) string {
	return tenant.FromContext(ctx).Today(s.deps.Clock.Now())
}

func (s *Service) tenantNow(ctx context.Context) (int, int) {
	t := tenant.FromContext(ctx)
	return t.Number, s.deps.Clock.Now().In(t.Location()).Year()
}

// normaliseName folds a name for prefix search: lower case, letters and digits kept, every run of anything
// else one space, trimmed. "  Ana-María  O'Neil" becomes "ana maría o neil".
func normaliseName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return b.String()
}

// cleanName collapses whitespace and applies httpapi.Text (max counts characters, not bytes, and control
// and bidi override characters are refused); a name must also hold a letter or digit.
func cleanName(field, s string, max int) (string, error) {
	s, err := httpapi.Text(field, strings.Join(strings.Fields(s), " "), max)
	if err != nil || normaliseName(s) == "" {
		code := apperr.FieldFormat
		if e := apperr.As(err); e != nil && len(e.Errors) == 1 {
			code = e.Errors[0].Code // required, too_long or format, as the text rule found
		}
		return "", apperr.Field(field, code, fmt.Sprintf("must be 1 to %d characters with a letter or digit, without control or bidi override characters", max))
	}
	return s, nil
}

// cleanPhone keeps a leading + and the digits, so "+91 98765-43210" and "+919876543210" are one phone.
func cleanPhone(field, s string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", apperr.Field(field, apperr.FieldFormat, "must be a phone number")
		}
	}
	p := b.String()
	if n := len(strings.TrimPrefix(p, "+")); n < 6 || n > 15 {
		code := apperr.FieldFormat
		if n == 0 {
			code = apperr.FieldRequired
		}
		return "", apperr.Field(field, code, "must be a phone number of 6 to 15 digits")
	}
	return p, nil
}
