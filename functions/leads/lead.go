package leads

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// NewLead records an enquiry. A phone or an email (or both) is required.
type NewLead struct {
	Name     string `json:"name"`
	Phone    string `json:"phone,omitempty"`
	Email    string `json:"email,omitempty"`
	Source   Source `json:"source"`
	BranchID string `json:"branch_id"`
	// CourseID is the course of interest, when known.
	CourseID string `json:"course_id,omitempty"`
	// CounsellorID assigns the lead at once (callers holding leads.assign); a counsellor's own lead is
	// theirs without saying so.
	CounsellorID string `json:"counsellor_id,omitempty"`
	Note         string `json:"note,omitempty"`
}

// Validate implements httpapi.Validator. It judges n as normalized leaves it and changes nothing.
func (n NewLead) Validate() error {
	_, err := n.normalized()
	return err
}

// normalized returns n as it is recorded (text trimmed, the email in its stored form), or the Invalid
// error naming every bad field.
func (n NewLead) normalized() (NewLead, error) {
	var bad apperr.Problems
	if v, err := httpapi.Text("name", n.Name, 120); bad.Check(err) {
		n.Name = v
	}
	if n.Phone == "" && n.Email == "" {
		bad.Add("phone", apperr.FieldRequired, "a lead needs a phone or an email")
		bad.Add("email", apperr.FieldRequired, "a lead needs a phone or an email")
	}
	if n.Phone != "" {
		// The form only: the country code needs the tenant, which CreateLead knows.
		if _, err := NormalisePhone("phone", n.Phone, ""); bad.Check(err) {
			if n.Phone = strings.TrimSpace(n.Phone); len(n.Phone) > 32 {
				bad.Add("phone", apperr.FieldTooLong, "must be at most 32 bytes")
			}
		}
	}
	if n.Email != "" {
		if v, err := NormaliseEmail("email", n.Email); bad.Check(err) {
			n.Email = v
		}
	}
	checkSource(&bad, n.Source)
	httpapi.CheckID(&bad, "branch_id", n.BranchID, "must be a branch id")
	if n.CourseID != "" {
		httpapi.CheckID(&bad, "course_id", n.CourseID, "must be a course id")
	}
	if n.CounsellorID != "" {
		httpapi.CheckID(&bad, "counsellor_id", n.CounsellorID, "must be a staff member's id")
	}
	if v, err := httpapi.OptionalText("note", n.Note, maxNote); bad.Check(err) {
		n.Note = v
	}
	return n, bad.Err()
}

// checkSource records source as missing or not allowed unless it is one of Sources.
func checkSource(bad *apperr.Problems, s Source) {
	switch {
	case s == "":
		bad.Add("source", apperr.FieldRequired, "must be one of walk_in, website, referral, phone, social, event, other")
	case !s.Valid():
		bad.Add("source", apperr.FieldNotAllowed, "must be one of walk_in, website, referral, phone, social, event, other")
	}
}

// CreateLead records a lead in a branch the caller may see (Invalid on branch_id otherwise), in stage new.
// A counsellor's lead is assigned to them; Forbidden when a counsellor names someone else. Invalid when the
// course or the assignee does not exist or may not work leads of the branch. Conflict when an open lead
// has the same normalised phone or email; the problem names it (errors.existing_lead_id).
func (s *Service) CreateLead(ctx context.Context, in NewLead) (*Lead, error) {
	in, err := in.normalized()
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	if _, err := s.deps.Branches.GetBranch(ctx, in.BranchID); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil, apperr.Field("branch_id", apperr.FieldNotAllowed, "names no branch you manage")
		}
		return nil, err
	}
	if in.CourseID != "" {
		if _, err := s.deps.Courses.GetCourse(ctx, in.CourseID); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return nil, apperr.Field("course_id", apperr.FieldNotAllowed, "names no course")
			}
			return nil, err
		}
	}
	counsellor := in.CounsellorID
	if p.Role == rbac.Counsellor {
		if counsellor != "" && counsellor != p.Subject {
			return nil, apperr.Errorf(apperr.Forbidden, "a counsellor's new lead is their own; ask an admin to assign it elsewhere")
		}
		counsellor = p.Subject
	} else if counsellor != "" {
		if err := checkAssignee(ctx, counsellor, in.BranchID); err != nil {
			return nil, err
		}
	}
	l := &Lead{
		ID: id.New(), BranchID: in.BranchID, Name: in.Name, Phone: in.Phone, Email: in.Email, EmailNorm: in.Email,
		Source: in.Source, Stage: StageNew, CounsellorID: counsellor, CourseID: in.CourseID, Note: in.Note, Open: true,
	}
	if in.Phone != "" {
		var err error
		if l.PhoneNorm, err = NormalisePhone("phone", in.Phone, tenant.FromContext(ctx).Settings.Currency); err != nil {
			return nil, err
		}
	}
	if err := duplicateOf(ctx, l.PhoneNorm, l.EmailNorm, ""); err != nil {
		return nil, err
	}
	now := s.deps.Clock.Now()
	l.CreatedAt, l.UpdatedAt, l.Stages = now, now, []StageEntry{{Stage: StageNew, At: now}}
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		if _, err := store.Database(tc).Collection(leadsCollection).InsertOne(tc, l); err != nil {
			if store.IsDuplicateKey(err) {
				return errRaced
			}
			return fmt.Errorf("create lead %s: %w", in.Name, err)
		}
		return s.record(tc, Activity{LeadID: l.ID, Kind: ActivityCreated, ToStage: StageNew, CounsellorID: counsellor, Note: in.Note})
	})
	if err != nil {
		return nil, raced(ctx, err, l.PhoneNorm, l.EmailNorm, l.ID)
	}
	return l, nil
}

// errRaced marks a write refused by a unique index of open contacts: another request entered or reopened
// a lead with the same phone or email after this one checked. The transaction is over (on MongoDB the
// failed write aborts it), so the lead is named after it, by raced.
var errRaced = errors.New("an open lead with the same contact was written meanwhile")

// raced turns errRaced into the Conflict naming the other lead, and returns any other error as it is.
func raced(ctx context.Context, err error, phoneNorm, emailNorm, except string) error {
	if !errors.Is(err, errRaced) {
		return err
	}
	if d := duplicateOf(ctx, phoneNorm, emailNorm, except); d != nil {
		return d
	}
	return apperr.Errorf(apperr.Conflict, "an open lead with this phone or email was written meanwhile; try again")
}

// duplicateOf returns a Conflict naming an open lead other than except with the normalised phone or
// email (errors.existing_lead_id), nil when there is none, or the read's error.
func duplicateOf(ctx context.Context, phoneNorm, emailNorm, except string) error {
	for _, by := range []struct{ field, value, what string }{{"phone_norm", phoneNorm, "phone"}, {"email_norm", emailNorm, "email"}} {
		if by.value == "" {
			continue
		}
		var l Lead
		err := store.Database(ctx).Collection(leadsCollection).FindOne(ctx,
			bson.M{by.field: by.value, "open": true, "_id": bson.M{"$ne": except}},
			options.FindOne().SetProjection(bson.M{"_id": 1})).Decode(&l)
		if store.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("find lead by %s: %w", by.what, err)
		}
		return &apperr.Error{Code: apperr.Conflict, Message: fmt.Sprintf("an open lead (%s) has the same %s", l.ID, by.what),
			Fields: map[string]string{"existing_lead_id": l.ID}}
	}
	return nil
}

// checkAssignee returns Invalid unless userID is an active staff member who may work the leads of branch:
// a counsellor, a branch admin of that branch, or an owner.
func checkAssignee(ctx context.Context, userID, branchID string) error {
	bad := apperr.Field("counsellor_id", apperr.FieldNotAllowed, "names no active staff member who works leads of this branch")
	if !id.Valid(userID) {
		return bad
	}
	u, err := account.Get(ctx, store.Database(ctx), userID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return bad
	}
	if err != nil {
		return err
	}
	as := rbac.Principal{Subject: u.ID, Role: u.Role, Branches: u.Branches}
	if u.Status != account.Active || !rbac.Allowed(u.Role, rbac.LeadsWrite) || !as.CanSeeBranch(branchID) {
		return bad
	}
	return nil
}

// GetLead returns a lead the caller may see; NotFound otherwise.
func (s *Service) GetLead(ctx context.Context, leadID string) (*Lead, error) {
	return visibleLead(ctx, leadID)
}

// LeadFilter narrows a lead list. Every field is optional.
type LeadFilter struct {
	Stage  Stage
	Source Source
	Branch string
	// Counsellor is a staff id, or "none" for unassigned leads.
	Counsellor string
}

// ListLeads returns a page of the leads the caller may see, oldest first. Invalid for an unknown stage or
// source.
func (s *Service) ListLeads(ctx context.Context, f LeadFilter, pr httpapi.PageRequest) (httpapi.Page[Lead], error) {
	and := bson.A{visibleLeadsFilter(rbac.Must(ctx))}
	if f.Stage != "" {
		if !f.Stage.Valid() {
			return httpapi.Page[Lead]{}, apperr.Field("stage", apperr.FieldNotAllowed, "must be one of "+joinStages(Stages))
		}
		and = append(and, bson.M{"stage": string(f.Stage)})
	}
	if f.Source != "" {
		if !f.Source.Valid() {
			return httpapi.Page[Lead]{}, apperr.Field("source", apperr.FieldNotAllowed, "is not a lead source")
		}
		and = append(and, bson.M{"source": string(f.Source)})
	}
	if f.Branch != "" {
		and = append(and, bson.M{"branch_id": f.Branch})
	}
	switch f.Counsellor {
	case "":
	case "none":
		and = append(and, bson.M{"counsellor_id": ""})
	default:
		and = append(and, bson.M{"counsellor_id": f.Counsellor})
	}
	items, err := store.Page[Lead](ctx, store.Database(ctx).Collection(leadsCollection), bson.M{"$and": and}, pr.After, pr.Limit)
	if err != nil {
		return httpapi.Page[Lead]{}, fmt.Errorf("list leads: %w", err)
	}
	return httpapi.NewPage(items, pr.Limit, func(l Lead) string { return l.ID }), nil
}

// Assignment gives a lead to a staff member, or takes it back with "".
type Assignment struct {
	CounsellorID string `json:"counsellor_id"`
}

// Validate implements httpapi.Validator.
func (a Assignment) Validate() error {
	if a.CounsellorID != "" && !id.Valid(a.CounsellorID) {
		return apperr.Field("counsellor_id", apperr.FieldFormat, "must be a staff member's id, or empty to unassign")
	}
	return nil
}

// Assign gives a lead the caller may see (NotFound otherwise) to a counsellor, a branch admin of its
// branch or an owner (Invalid for anyone else), or takes it back into the unassigned pool; the lead's open
// follow-ups move to the new assignee. Conflict for a converted lead. Assigning to the current assignee changes nothing and records nothing.
func (s *Service) Assign(ctx context.Context, leadID string, a Assignment) (*Lead, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return nil, err
	}
	if l.StudentID != "" {
		return nil, apperr.Errorf(apperr.Conflict, "the lead was converted into student %s", l.StudentID)
	}
	if a.CounsellorID == l.CounsellorID {
		return l, nil
	}
	if a.CounsellorID != "" {
		if err := checkAssignee(ctx, a.CounsellorID, l.BranchID); err != nil {
			return nil, err
		}
	}
	var out Lead
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		err := store.Database(tc).Collection(leadsCollection).FindOneAndUpdate(tc,
			bson.M{"_id": l.ID, "counsellor_id": l.CounsellorID, "student_id": ""},
			bson.M{"$set": bson.M{"counsellor_id": a.CounsellorID, "updated_at": s.deps.Clock.Now()}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
		if store.IsNotFound(err) {
			return apperr.Errorf(apperr.Conflict, "the lead changed meanwhile; read it again")
		}
		if err != nil {
			return fmt.Errorf("assign lead %s: %w", l.ID, err)
		}
		if a.CounsellorID != "" {
			// Open follow-ups go with the lead, so they show on the new counsellor's overdue list.
			if _, err := store.Database(tc).Collection(followUpsCollection).UpdateMany(tc, bson.M{"lead_id": l.ID, "done": false},
				bson.M{"$set": bson.M{"counsellor_id": a.CounsellorID}}); err != nil {
				return fmt.Errorf("move follow-ups of lead %s: %w", l.ID, err)
			}
		}
		return s.record(tc, Activity{LeadID: l.ID, Kind: ActivityAssigned, CounsellorID: a.CounsellorID})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// LeadChange corrects a lead's contact or interest; absent fields stay as they are. An empty phone or
// email removes it, as long as the lead keeps one of the two.
type LeadChange struct {
	Name     *string `json:"name,omitempty"`
	Phone    *string `json:"phone,omitempty"`
	Email    *string `json:"email,omitempty"`
	Source   *Source `json:"source,omitempty"`
	CourseID *string `json:"course_id,omitempty"`
}

// Validate implements httpapi.Validator. It judges c as normalized leaves it and changes nothing.
func (c LeadChange) Validate() error {
	_, err := c.normalized()
	return err
}

// normalized returns c as it is recorded (text trimmed, contacts in their stored form), or the Invalid
// error naming every bad field.
func (c LeadChange) normalized() (LeadChange, error) {
	var bad apperr.Problems
	if c.Name != nil {
		if n, err := httpapi.Text("name", *c.Name, 120); bad.Check(err) {
			c.Name = &n
		}
	}
	if c.Phone != nil && *c.Phone != "" {
		p := strings.TrimSpace(*c.Phone)
		if _, err := NormalisePhone("phone", p, ""); bad.Check(err) {
			if len(p) > 32 {
				bad.Add("phone", apperr.FieldTooLong, "must be at most 32 bytes")
			}
			c.Phone = &p
		}
	}
	if c.Email != nil && *c.Email != "" {
		if e, err := NormaliseEmail("email", *c.Email); bad.Check(err) {
			c.Email = &e
		}
	}
	if c.Source != nil {
		checkSource(&bad, *c.Source)
	}
	if c.CourseID != nil && *c.CourseID != "" && !id.Valid(*c.CourseID) {
		bad.Add("course_id", apperr.FieldFormat, "must be a course id, or empty")
	}
	return c, bad.Err()
}

// UpdateLead changes a lead the caller may see (NotFound otherwise). Invalid when the lead would be left
// without a phone and an email, or the course does not exist; Conflict for a converted lead, or when the
// new phone or email belongs to another open lead (named, as in CreateLead).
func (s *Service) UpdateLead(ctx context.Context, leadID string, c LeadChange) (*Lead, error) {
	c, err := c.normalized()
	if err != nil {
		return nil, err
	}
	l, err := visibleLead(ctx, leadID)
	if err != nil {
		return nil, err
	}
	if l.StudentID != "" {
		return nil, apperr.Errorf(apperr.Conflict, "the lead was converted into student %s; change the student instead", l.StudentID)
	}
	if c.CourseID != nil && *c.CourseID != "" {
		if _, err := s.deps.Courses.GetCourse(ctx, *c.CourseID); err != nil {
			if apperr.CodeOf(err) == apperr.NotFound {
				return nil, apperr.Field("course_id", apperr.FieldNotAllowed, "names no course")
			}
			return nil, err
		}
	}
	set, unset := bson.M{"updated_at": s.deps.Clock.Now()}, bson.M{}
	phone, phoneNorm, email := l.Phone, l.PhoneNorm, l.Email
	if c.Phone != nil {
		phone, phoneNorm = *c.Phone, ""
		if phone != "" {
			if phoneNorm, err = NormalisePhone("phone", phone, tenant.FromContext(ctx).Settings.Currency); err != nil {
				return nil, err
			}
			set["phone"], set["phone_norm"] = phone, phoneNorm
		} else {
			unset["phone"], unset["phone_norm"] = "", ""
		}
	}
	if c.Email != nil {
		if email = *c.Email; email != "" {
			set["email"], set["email_norm"] = email, email
		} else {
			unset["email"], unset["email_norm"] = "", ""
		}
	}
	if phone == "" && email == "" {
		return nil, apperr.Invalidated([]apperr.FieldError{
			{Field: "phone", Code: apperr.FieldRequired, Message: "a lead needs a phone or an email"},
			{Field: "email", Code: apperr.FieldRequired, Message: "a lead needs a phone or an email"}})
	}
	if l.Open {
		if err := duplicateOf(ctx, phoneNorm, email, l.ID); err != nil {
			return nil, err
		}
	}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.Source != nil {
		set["source"] = string(*c.Source)
	}
	if c.CourseID != nil {
		set["course_id"] = *c.CourseID
	}
	update := bson.M{"$set": set}
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	var out Lead
	err = store.Tx(ctx, store.Database(ctx), func(tc context.Context) error {
		err := store.Database(tc).Collection(leadsCollection).FindOneAndUpdate(tc, bson.M{"_id": l.ID, "student_id": ""}, update,
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
		if store.IsNotFound(err) {
			return apperr.Errorf(apperr.Conflict, "the lead changed meanwhile; read it again")
		}
		if store.IsDuplicateKey(err) {
			return errRaced
		}
		if err != nil {
			return fmt.Errorf("update lead %s: %w", l.ID, err)
		}
		return s.record(tc, Activity{LeadID: l.ID, Kind: ActivityUpdated})
	})
	if err != nil {
		return nil, raced(ctx, err, phoneNorm, email, l.ID)
	}
	return &out, nil
}
