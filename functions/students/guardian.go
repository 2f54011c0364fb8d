package students

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// MaxGuardians bounds the guardians of one student.
const MaxGuardians = 4

// NewGuardian adds a guardian to a student. A guardian already known to the institution (by email, else by
// phone) is linked as they are, and the rest of the request (name, password, the other contact) is ignored;
// otherwise a guardian record and sign-in
// account with a PRN (role 8) are created, which needs Name and Password.
type NewGuardian struct {
	StudentID string `json:"student_id"`
	Name      string `json:"name,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	// Password is the initial password of a new guardian account.
	Password string `json:"password,omitempty"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewGuardian) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed, contacts in their stored form), or the Invalid
// error naming every bad field.
func (n NewGuardian) normalized() (NewGuardian, error) {
	var bad apperr.Problems
	httpapi.CheckID(&bad, "student_id", n.StudentID, "must be a student id")
	if n.Email == "" && n.Phone == "" {
		bad.Add("email", apperr.FieldRequired, "a guardian needs an email or a phone")
		bad.Add("phone", apperr.FieldRequired, "a guardian needs an email or a phone")
	}
	if n.Email != "" {
		if v, err := account.NormalizeEmail("email", n.Email); bad.Check(err) {
			n.Email = v
		}
	}
	if n.Phone != "" {
		if v, err := cleanPhone("phone", n.Phone); bad.Check(err) {
			n.Phone = v
		}
	}
	if n.Name != "" {
		if v, err := cleanName("name", n.Name, 120); bad.Check(err) {
			n.Name = v
		}
	}
	return n, bad.Err()
}

// findGuardian looks a guardian up by email, else by phone; nil when neither names one.
func findGuardian(ctx context.Context, email, phone string) (*Guardian, error) {
	coll := store.Database(ctx).Collection(guardiansCollection)
	for _, by := range []struct{ field, value string }{{"email", email}, {"phone", phone}} {
		if by.value == "" {
			continue
		}
		var g Guardian
		err := coll.FindOne(ctx, bson.M{by.field: by.value}).Decode(&g)
		if store.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find guardian by %s: %w", by.field, err)
		}
		return &g, nil
	}
	return nil, nil
}

// AddGuardian links a guardian to a student the caller may see (NotFound otherwise), creating the guardian
// first when the email or phone names none. Conflict when they are already the student's guardian, the
// student has MaxGuardians, or a new guardian's email belongs to another account; Invalid when a new
// guardian lacks a name or password.
func (s *Service) AddGuardian(ctx context.Context, in NewGuardian) (*Guardian, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	st, err := visibleStudent(ctx, in.StudentID)
	if err != nil {
		return nil, err
	}
	if len(st.GuardianIDs) >= MaxGuardians {
		return nil, apperr.Errorf(apperr.Conflict, "the student already has %d guardians", MaxGuardians)
	}
	g, err := findGuardian(ctx, in.Email, in.Phone)
	if err != nil {
		return nil, err
	}
	created := false
	if g == nil {
		if g, err = s.createGuardian(ctx, in); err != nil {
			return nil, err
		}
		created = true
	}
	if err := s.link(ctx, st, g); err != nil {
		return nil, err
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "students.guardian.linked", audit.Target{Kind: "student", ID: st.ID},
		map[string]any{"guardian_id": g.ID, "guardian_prn": g.PRN, "new_guardian": created}); err != nil {
		return nil, err
	}
	return g, nil
}

// link appends g to the student's guardians. The update is conditional on the list read, not on "g is not
// in it" ($ne on an array differs between the engines, and $addToSet is missing from the embedded one), so a
// concurrent change makes it read again rather than add a guardian twice or past MaxGuardians.
func (s *Service) link(ctx context.Context, st *Student, g *Guardian) error {
	coll := store.Database(ctx).Collection(studentsCollection)
	for range 5 {
		if slices.Contains(st.GuardianIDs, g.ID) {
			return apperr.Errorf(apperr.Conflict, "%s is already a guardian of this student", g.Name)
		}
		if len(st.GuardianIDs) >= MaxGuardians {
			return apperr.Errorf(apperr.Conflict, "the student already has %d guardians", MaxGuardians)
		}
		res, err := coll.UpdateOne(ctx, bson.M{"_id": st.ID, "guardian_ids": st.GuardianIDs},
			bson.M{"$push": bson.M{"guardian_ids": g.ID}, "$set": bson.M{"updated_at": s.deps.Clock.Now()}})
		if err != nil {
			return fmt.Errorf("link guardian %s to student %s: %w", g.ID, st.ID, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		if st, err = findStudent(ctx, store.Database(ctx), bson.M{"_id": st.ID}); err != nil {
			return err
		}
	}
	return apperr.Errorf(apperr.Conflict, "the student's guardians changed meanwhile; try again")
}

func (s *Service) createGuardian(ctx context.Context, in NewGuardian) (*Guardian, error) {
	if in.Name == "" {
		return nil, apperr.Field("name", apperr.FieldRequired, "is required for a new guardian")
	}
	if in.Password == "" {
		return nil, apperr.Field("password", apperr.FieldRequired, "is required for a new guardian")
	}
	db := store.Database(ctx)
	now := s.deps.Clock.Now()
	number, year := s.tenantNow(ctx)
	g := &Guardian{ID: id.New(), Name: in.Name, Email: in.Email, Phone: in.Phone, CreatedAt: now, UpdatedAt: now}
	u, err := account.Create(ctx, db, account.NewUser{
		Email: in.Email, Name: in.Name, Phone: in.Phone, Role: rbac.Guardian, SubjectID: g.ID,
		Password: in.Password, TenantNumber: number, Year: year,
	}, s.deps.Passwords, now)
	if err != nil {
		return nil, err
	}
	g.PRN, g.AccountID = prnum.PRN(u.PRN), u.ID
	if _, err := db.Collection(guardiansCollection).InsertOne(ctx, g); err != nil {
		_, _ = db.Collection(account.Collection).DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": u.ID})
		if store.IsDuplicateKey(err) {
			// Another request created a guardian with this phone meanwhile; adding again links to it.
			return nil, apperr.Errorf(apperr.Conflict, "a guardian with this phone was just added; try again")
		}
		return nil, fmt.Errorf("create guardian: %w", err)
	}
	if err := s.deps.Audit.Record(ctx, store.Database(ctx), audit.By(rbac.Must(ctx)), "students.guardian.created", audit.Target{Kind: "guardian", ID: g.ID},
		map[string]any{"prn": g.PRN}); err != nil {
		return nil, err
	}
	return g, nil
}

// GuardiansOfStudent returns the guardians of a student the caller may see; NotFound otherwise.
func (s *Service) GuardiansOfStudent(ctx context.Context, studentID string) ([]Guardian, error) {
	if _, err := visibleStudent(ctx, studentID); err != nil {
		return nil, err
	}
	return GuardiansOf(ctx, store.Database(ctx), studentID)
}
