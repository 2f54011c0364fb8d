package students

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// NewStudent admits a student: their record, their sign-in account and their PRN.
type NewStudent struct {
	Name        string `json:"name"`
	DateOfBirth string `json:"date_of_birth" format:"date" example:"2010-04-01"`
	Phone       string `json:"phone"`
	// Email is optional; students sign in with their PRN.
	Email    string `json:"email,omitempty"`
	BranchID string `json:"branch_id"`
	// Password is the initial password, handed to the student by whoever admits them.
	Password string `json:"password"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewStudent) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed, contacts in their stored form), or the Invalid
// error naming every bad field.
func (n NewStudent) normalized() (NewStudent, error) {
	var bad apperr.Problems
	if v, err := cleanName("name", n.Name, 120); bad.Check(err) {
		n.Name = v
	}
	bad.Check(validateBirthDate(n.DateOfBirth))
	if v, err := cleanPhone("phone", n.Phone); bad.Check(err) {
		n.Phone = v
	}
	if n.Email != "" {
		if v, err := account.NormalizeEmail("email", n.Email); bad.Check(err) {
			n.Email = v
		}
	}
	httpapi.CheckID(&bad, "branch_id", n.BranchID, "must be a branch id")
	return n, bad.Err()
}

// validateBirthDate checks the form; bornBy checks it against the tenant's today, which Validate cannot know.
func validateBirthDate(s string) error {
	d, err := time.Parse(time.DateOnly, s)
	switch {
	case s == "":
		return apperr.Field("date_of_birth", apperr.FieldRequired, "must be a past date YYYY-MM-DD")
	case err != nil:
		return apperr.Field("date_of_birth", apperr.FieldFormat, "must be a past date YYYY-MM-DD")
	case d.Year() < 1900:
		return apperr.Field("date_of_birth", apperr.FieldOutOfRange, "must be a past date YYYY-MM-DD")
	}
	return nil
}

func (s *Service) bornBy(ctx context.Context, dateOfBirth string) error {
	if dateOfBirth >= s.today(ctx) {
		return apperr.Field("date_of_birth", apperr.FieldOutOfRange, "must be a past date YYYY-MM-DD")
	}
	return nil
}

// StudentChange updates a student's profile; absent fields stay as they are. Status "withdrawn" withdraws
// the student: every active enrolment closes today; "active" re-admits them, without enrolments.
type StudentChange struct {
	Name        *string        `json:"name,omitempty"`
	DateOfBirth *string        `json:"date_of_birth,omitempty" format:"date" example:"2010-04-01"`
	Phone       *string        `json:"phone,omitempty"`
	Email       *string        `json:"email,omitempty"`
	Status      *StudentStatus `json:"status,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c StudentChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed, contacts in their stored form), or the Invalid
// error naming every bad field.
func (c StudentChange) normalized() (StudentChange, error) {
	var bad apperr.Problems
	if c.Name != nil {
		if n, err := cleanName("name", *c.Name, 120); bad.Check(err) {
			c.Name = &n
		}
	}
	if c.DateOfBirth != nil {
		bad.Check(validateBirthDate(*c.DateOfBirth))
	}
	if c.Phone != nil {
		if p, err := cleanPhone("phone", *c.Phone); bad.Check(err) {
			c.Phone = &p
		}
	}
	if c.Email != nil {
		if e, err := account.NormalizeEmail("email", *c.Email); bad.Check(err) {
			c.Email = &e
		}
	}
	if c.Status != nil && *c.Status != StudentActive && *c.Status != StudentWithdrawn {
		bad.Add("status", apperr.FieldNotAllowed, `must be "active" or "withdrawn"`)
	}
	return c, bad.Err()
}

// CreateStudent admits a student into a branch the caller manages (Invalid on branch_id otherwise): it
// creates the student's sign-in account with a freshly allocated PRN (role 9) and then the record linked to
// it. Conflict when the email belongs to another account.
func (s *Service) CreateStudent(ctx context.Context, in NewStudent) (*Student, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	if err := s.bornBy(ctx, in.DateOfBirth); err != nil {
		return nil, err
	}
	if _, err := s.deps.Branches.GetBranch(ctx, in.BranchID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil, apperr.Field("branch_id", apperr.FieldNotAllowed, "names no branch you manage")
		}
		return nil, err
	}
	db := store.Database(ctx)
	now := s.deps.Clock.Now()
	number, year := s.tenantNow(ctx)
	st := &Student{
		ID: id.New(), Name: in.Name, NameKey: normaliseName(in.Name), DateOfBirth: in.DateOfBirth, Phone: in.Phone,
		Email: in.Email, BranchID: in.BranchID, Status: StudentActive, GuardianIDs: []string{}, CreatedAt: now, UpdatedAt: now,
	}
	// The account comes first: it allocates the PRN the record carries. Hashing the password stays outside
	// any transaction, so slow hashing never holds one open.
	u, err := account.Create(ctx, db, account.NewUser{
		Email: in.Email, Name: in.Name, Phone: in.Phone, Role: rbac.Student, Branches: []string{in.BranchID},
		SubjectID: st.ID, Password: in.Password, TenantNumber: number, Year: year,
	}, s.deps.Passwords, now)
	if err != nil {
		return nil, err
	}
	st.PRN, st.AccountID = prnum.PRN(u.PRN), u.ID
	if _, err := db.Collection(studentsCollection).InsertOne(ctx, st); err != nil {
		// An account without its record could sign in to nothing; take it back.
		_, _ = db.Collection(account.Collection).DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": u.ID})
		return nil, fmt.Errorf("create student %s: %w", in.Name, err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "students.student.created", audit.Target{Kind: "student", ID: st.ID},
		map[string]any{"prn": st.PRN, "branch_id": st.BranchID}); err != nil {
		return nil, err
	}
	return st, nil
}

// GetStudent returns a student the caller may see (CanSeeStudent); NotFound otherwise.
func (s *Service) GetStudent(ctx context.Context, studentID string) (*Student, error) {
	return visibleStudent(ctx, studentID)
}

// StudentByPRN returns the student with PRN p if the caller may see them; NotFound otherwise, Invalid for a
// PRN with a bad check digit or of another role.
func (s *Service) StudentByPRN(ctx context.Context, p string) (*Student, error) {
	prn, err := prnum.Parse(p)
	if err != nil {
		return nil, err
	}
	if prn.Role() != prnum.Student {
		return nil, apperr.Field("prn", apperr.FieldNotAllowed, "is not a student's PRN")
	}
	db := store.Database(ctx)
	st, err := findStudent(ctx, db, bson.M{"prn": string(prn)})
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

// StudentSearch narrows a student list. Every field is optional.
type StudentSearch struct {
	// Name is a prefix of the name, matched case-insensitively and ignoring punctuation.
	Name   string
	Branch string
	// Batch limits the list to students with an active enrolment in that batch, which the caller must see.
	Batch  string
	Status StudentStatus
}

// searchCursorSep separates the name key and the id in a search cursor; normaliseName never produces it.
const searchCursorSep = "\x1f"

// SearchStudents returns a page of the students the caller may see, in name order. Invalid for a bad
// status; NotFound for a batch the caller may not see.
func (s *Service) SearchStudents(ctx context.Context, q StudentSearch, pr httpapi.PageRequest) (httpapi.Page[Student], error) {
	db := store.Database(ctx)
	visible, err := visibleStudentsFilter(ctx, db, rbac.Must(ctx))
	if err != nil {
		return httpapi.Page[Student]{}, err
	}
	and := bson.A{visible}
	if q.Name != "" {
		key := normaliseName(q.Name)
		if key == "" || len(q.Name) > 120 {
			return httpapi.Page[Student]{}, apperr.Field("q", apperr.FieldFormat, "must hold a letter or digit, at most 120 characters")
		}
		and = append(and, bson.M{"name_key": bson.M{"$gte": key, "$lt": key + "\uffff"}})
	}
	if q.Branch != "" {
		and = append(and, bson.M{"branch_id": q.Branch})
	}
	if q.Status != "" {
		if q.Status != StudentActive && q.Status != StudentWithdrawn {
			return httpapi.Page[Student]{}, apperr.Field("status", apperr.FieldNotAllowed, `must be "active" or "withdrawn"`)
		}
		and = append(and, bson.M{"status": string(q.Status)})
	}
	if q.Batch != "" {
		if _, err := academic.VisibleBatch(ctx, q.Batch); err != nil {
			return httpapi.Page[Student]{}, err
		}
		ids, err := activeStudentIDs(ctx, q.Batch)
		if err != nil {
			return httpapi.Page[Student]{}, err
		}
		and = append(and, bson.M{"_id": store.In(ids)})
	}
	if pr.After != "" {
		key, after, ok := strings.Cut(pr.After, searchCursorSep)
		if !ok || !id.Valid(after) {
			return httpapi.Page[Student]{}, apperr.Field("cursor", apperr.FieldFormat, "is not a cursor of this list")
		}
		and = append(and, bson.M{"$or": bson.A{
			bson.M{"name_key": bson.M{"$gt": key}},
			bson.M{"name_key": key, "_id": bson.M{"$gt": after}},
		}})
	}
	cur, err := db.Collection(studentsCollection).Find(ctx, bson.M{"$and": and}, options.Find().
		SetSort(bson.D{{Key: "name_key", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(pr.Limit+1)))
	if err != nil {
		return httpapi.Page[Student]{}, fmt.Errorf("search students: %w", err)
	}
	items := []Student{}
	if err := cur.All(ctx, &items); err != nil {
		return httpapi.Page[Student]{}, fmt.Errorf("search students: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(st Student) string { return st.NameKey + searchCursorSep + st.ID }), nil
}

func activeStudentIDs(ctx context.Context, batchID string) ([]string, error) {
	cur, err := store.Database(ctx).Collection(enrolmentsCollection).Find(ctx,
		bson.M{"batch_id": batchID, "status": string(EnrolmentActive)}, options.Find().SetProjection(bson.M{"student_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("students of batch %s: %w", batchID, err)
	}
	var rows []struct {
		StudentID string `bson:"student_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("students of batch %s: %w", batchID, err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.StudentID
	}
	return ids, nil
}

// UpdateStudent changes a student's profile (staff who may see the student; NotFound otherwise) and keeps
// their sign-in account's name, phone and email in step (Conflict when the email belongs to another
// account). Withdrawing closes every active enrolment today and gives their seats back, atomically.
func (s *Service) UpdateStudent(ctx context.Context, studentID string, c StudentChange) (*Student, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	if _, err := visibleStudent(ctx, studentID); err != nil {
		return nil, err
	}
	if c.DateOfBirth != nil {
		if err := s.bornBy(ctx, *c.DateOfBirth); err != nil {
			return nil, err
		}
	}
	db := store.Database(ctx)
	now := s.deps.Clock.Now()
	set, accountSet := bson.M{"updated_at": now}, bson.M{}
	if c.Name != nil {
		set["name"], set["name_key"], accountSet["name"] = *c.Name, normaliseName(*c.Name), *c.Name
	}
	if c.DateOfBirth != nil {
		set["date_of_birth"] = *c.DateOfBirth
	}
	if c.Phone != nil {
		set["phone"], accountSet["phone"] = *c.Phone, *c.Phone
	}
	if c.Email != nil {
		set["email"], accountSet["email"] = *c.Email, *c.Email
	}
	if c.Status != nil {
		set["status"] = string(*c.Status)
	}
	today := s.today(ctx)
	var out Student
	var closed []string
	err = store.Tx(ctx, db, func(tc context.Context) error {
		closed = nil // the driver may run this function again
		if err := db.Collection(studentsCollection).FindOneAndUpdate(tc, bson.M{"_id": studentID}, bson.M{"$set": set},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out); err != nil {
			return fmt.Errorf("update student %s: %w", studentID, err)
		}
		if len(accountSet) > 0 {
			if _, err := account.Update(tc, db, out.AccountID, accountSet, false, now); err != nil {
				return err
			}
		}
		if c.Status != nil && *c.Status == StudentWithdrawn {
			var err error
			if closed, err = s.closeActiveEnrolments(tc, studentID, today, now); err != nil {
				return err
			}
		}
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "students.student.updated", audit.Target{Kind: "student", ID: studentID},
			map[string]any{"change": c, "closed_enrolments": closed})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
