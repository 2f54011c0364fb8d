package leads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// ConvertLead is what converting a won lead needs: the student's details (as students.NewStudent, in the
// lead's branch), the batch and start date of the enrolment, and the fee plan.
type ConvertLead struct {
	// Name is the student's name; the lead's name when omitted.
	Name        string `json:"name,omitempty"`
	DateOfBirth string `json:"date_of_birth" format:"date" example:"2010-04-01"`
	// Phone is the student's phone; the lead's phone when omitted.
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
	// Password is the student's initial password.
	Password string `json:"password"`
	BatchID  string `json:"batch_id"`
	// From is the tenant-local date the enrolment starts; today when omitted.
	From   string `json:"from,omitempty" format:"date"`
	PlanID string `json:"plan_id"`
}

// Validate implements httpapi.Validator. The student's fields are checked by students.NewStudent once the
// lead's defaults are known (Convert).
func (c ConvertLead) Validate() error {
	var bad apperr.Problems
	if c.DateOfBirth == "" {
		bad.Add("date_of_birth", apperr.FieldRequired, "must be a past date YYYY-MM-DD")
	}
	if c.Password == "" {
		bad.Add("password", apperr.FieldRequired, "is required: the student's initial password")
	}
	httpapi.CheckID(&bad, "batch_id", c.BatchID, "must be a batch id")
	httpapi.CheckID(&bad, "plan_id", c.PlanID, "must be a fee plan id")
	bad.Check(httpapi.OptionalDate("from", c.From))
	return bad.Err()
}

// The steps of a conversion, in order; failAt is called after each.
const (
	stepStudent  = "student_created"
	stepEnrolled = "enrolled"
	stepAssigned = "fee_assigned"
	stepMarked   = "lead_marked"
)

var conversionSteps = []string{stepStudent, stepEnrolled, stepAssigned, stepMarked}

// conversionHash fingerprints a conversion request for its Idempotency-Key. The password is left out:
// the fingerprint is stored, and a hash of a password is not something to keep beside the lead.
func conversionHash(in ConvertLead) string {
	in.Password = ""
	b, _ := json.Marshal(in) // a plain struct: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replayConversion answers a conversion of a lead that is already converted: the original result for the
// same key and request, Conflict otherwise. nil, nil when the lead is not converted.
func replayConversion(l *Lead, key, hash string) (*Conversion, error) {
	if l.StudentID == "" {
		return nil, nil
	}
	if l.ConvertKey == key {
		if l.ConvertHash != hash {
			return nil, apperr.Errorf(apperr.Conflict, "this Idempotency-Key was used for a different conversion of the lead")
		}
		return l.Conversion, nil
	}
	return nil, &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("the lead was already converted into student %s", l.StudentID),
		Fields: map[string]string{"student_id": l.StudentID}}
}

// Convert turns a won lead the caller may see (NotFound otherwise) into a student with an account and PRN,
// an enrolment in a batch of the lead's branch and a fee assignment, and links the lead to the student —
// all in one transaction, so a failure at any step leaves nothing of the others behind.
//
// key is the request's Idempotency-Key (Invalid when missing). A retry with the same key and request
// returns the original result and replayed = true; the same key with another request, or any conversion
// of an already converted lead under another key, is a Conflict naming the student. Concurrent
// conversions of one lead create one student. Conflict when the lead is not won; Invalid, NotFound and
// Conflict from the students and fees areas as they come (a bad student field, a batch of another branch,
// a full batch, an inactive plan).
func (s *Service) Convert(ctx context.Context, leadID, key string, in ConvertLead) (*Conversion, bool, error) {
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	if err := fees.ValidateIdempotencyKey(key); err != nil {
		return nil, false, err
	}
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return nil, false, err
	}
	hash := conversionHash(in)
	if c, err := replayConversion(l, key, hash); c != nil || err != nil {
		return c, c != nil, err
	}
	if l.Stage != StageWon {
		return nil, false, apperr.Errorf(apperr.Conflict, "only a won lead can be converted; this one is %s", l.Stage)
	}
	ns := students.NewStudent{Name: in.Name, DateOfBirth: in.DateOfBirth, Phone: in.Phone, Email: in.Email,
		BranchID: l.BranchID, Password: in.Password}
	if ns.Name == "" {
		ns.Name = l.Name
	}
	if ns.Phone == "" {
		ns.Phone = l.Phone
	}
	if err := ns.Validate(); err != nil {
		return nil, false, err
	}
	studentsSvc, feesSvc := s.deps.Students, s.deps.Fees
	var (
		out      *Conversion
		replayed bool
	)
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		out, replayed = nil, false // the driver may run this function again
		// Read again inside the transaction: a conversion that committed meanwhile is seen here.
		cur, err := findLead(tc, l.ID)
		if err != nil {
			return err
		}
		if c, err := replayConversion(cur, key, hash); c != nil || err != nil {
			out, replayed = c, c != nil
			return err
		}
		if cur.Stage != StageWon {
			return apperr.Errorf(apperr.Conflict, "only a won lead can be converted; this one is %s", cur.Stage)
		}
		st, err := studentsSvc.CreateStudent(tc, ns)
		if err != nil {
			return err
		}
		if err := s.step(stepStudent); err != nil {
			return err
		}
		e, err := studentsSvc.Enrol(tc, students.NewEnrolment{StudentID: st.ID, BatchID: in.BatchID, From: in.From})
		if err != nil {
			return err
		}
		if err := s.step(stepEnrolled); err != nil {
			return err
		}
		a, err := feesSvc.Assign(tc, fees.NewAssignment{EnrolmentID: e.ID, PlanID: in.PlanID})
		if err != nil {
			return err
		}
		if err := s.step(stepAssigned); err != nil {
			return err
		}
		c := &Conversion{LeadID: l.ID, StudentID: st.ID, PRN: st.PRN, EnrolmentID: e.ID, AssignmentID: a.ID}
		now := s.deps.Clock.Now()
		res, err := store.Database(tc).Collection(leadsCollection).UpdateOne(tc, bson.M{"_id": l.ID, "student_id": "", "stage": string(StageWon)},
			bson.M{"$set": bson.M{"student_id": st.ID, "converted_at": now, "conversion": c, "convert_key": key, "convert_hash": hash, "updated_at": now}})
		if err != nil {
			return fmt.Errorf("mark lead %s converted: %w", l.ID, err)
		}
		if res.MatchedCount == 0 {
			return apperr.Errorf(apperr.Conflict, "the lead changed while converting; read it again")
		}
		if err := s.record(tc, Activity{LeadID: l.ID, Kind: ActivityConverted, StudentID: st.ID}); err != nil {
			return err
		}
		if err := s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "leads.lead.converted", audit.Target{Kind: "lead", ID: l.ID}, c); err != nil {
			return err
		}
		if err := s.step(stepMarked); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict || store.IsDuplicateKey(err) {
			// On MongoDB a concurrent conversion that won the race fails this one at a write or at commit;
			// answer with what it did.
			if cur, rerr := findLead(ctx, l.ID); rerr == nil {
				if c, cerr := replayConversion(cur, key, hash); c != nil || cerr != nil {
					return c, c != nil, cerr
				}
			}
		}
		return nil, false, err
	}
	return out, replayed, nil
}

func (s *Service) step(name string) error {
	if s.failAt == nil {
		return nil
	}
	return s.failAt(name)
}
