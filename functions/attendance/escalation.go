package attendance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// EscalationKind is the notification kind of an escalation: a student absent from several sessions in a
// row, with the dates.
const EscalationKind = "attendance.escalation"

// Audience is who an escalation rule tells.
type Audience string

// The audiences.
const (
	Guardians    Audience = "guardians"     // the student's guardians
	BranchAdmins Audience = "branch_admins" // the branch admins of the student's branch
)

// EscalationRule tells Notify once a student has been absent After days of classes in a row (a day counts
// as absent when the student missed a session and attended none; an excused day neither breaks nor
// extends the run; a day present or late ends it).
type EscalationRule struct {
	After  int      `bson:"after" json:"after" example:"2"`
	Notify Audience `bson:"notify" json:"notify" example:"guardians"`
}

// EscalationRules are an institution's rules.
type EscalationRules struct {
	Rules     []EscalationRule `bson:"rules" json:"rules"`
	Default   bool             `bson:"-" json:"default"`
	UpdatedAt time.Time        `bson:"updated_at" json:"updated_at"`
}

// EscalationInput replaces an institution's rules; an empty list turns escalation off.
type EscalationInput struct {
	Rules []EscalationRule `json:"rules"`
}

// Escalation is off until an institution sets its rules, for example
// {"rules":[{"after":2,"notify":"guardians"},{"after":3,"notify":"branch_admins"}]}: two days absent in a
// row tell the guardians (besides each day's absence alert), three the branch admins.

// escalationCollection holds one document, the institution's rules.
const escalationCollection = "attendance_escalation"

// lookback bounds how far back a run of absences is followed.
const lookback = 60

// Validate checks the rules: at most 10, each after 2 to 30 absences, a known audience, no repeats.
func (in EscalationInput) Validate() error {
	var bad apperr.Problems
	if len(in.Rules) > 10 {
		bad.Add("rules", apperr.FieldTooLong, "at most 10 rules")
		return bad.Err()
	}
	seen := map[EscalationRule]bool{}
	for i, r := range in.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		ok := true
		if r.After < 2 || r.After > 30 {
			bad.Add(f+".after", apperr.FieldOutOfRange, "must be a whole number from 2 to 30")
			ok = false
		}
		if r.Notify != Guardians && r.Notify != BranchAdmins {
			bad.Add(f+".notify", apperr.FieldNotAllowed, "must be guardians or branch_admins")
			ok = false
		}
		if ok && seen[r] {
			bad.Add(f, apperr.FieldDuplicate, "repeats an earlier rule")
		}
		seen[r] = true
	}
	return bad.Err()
}

func escalationRules(ctx context.Context, db lungo.IDatabase) (EscalationRules, error) {
	var r EscalationRules
	err := db.Collection(escalationCollection).FindOne(ctx, bson.M{"_id": "rules"}).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return EscalationRules{Rules: []EscalationRule{}, Default: true}, nil
	}
	if r.Rules == nil {
		r.Rules = []EscalationRule{}
	}
	return r, err
}

// Escalation returns the institution's escalation rules (none until set). Callers:
// attendance.read.
func (s *Service) Escalation(ctx context.Context) (EscalationRules, error) {
	return escalationRules(ctx, store.Database(ctx))
}

// SetEscalation replaces the institution's escalation rules, audited. Invalid as Validate says. Callers:
// notifications.write (owners).
func (s *Service) SetEscalation(ctx context.Context, in EscalationInput) (EscalationRules, error) {
	if err := in.Validate(); err != nil {
		return EscalationRules{}, err
	}
	db := store.Database(ctx)
	rules := in.Rules
	if rules == nil {
		rules = []EscalationRule{}
	}
	out := EscalationRules{Rules: rules, UpdatedAt: s.deps.Clock.Now().UTC().Truncate(time.Millisecond)}
	err := store.Tx(ctx, db, func(tc context.Context) error {
		if _, err := db.Collection(escalationCollection).ReplaceOne(tc, bson.M{"_id": "rules"},
			bson.M{"_id": "rules", "rules": rules, "updated_at": out.UpdatedAt}, options.Replace().SetUpsert(true)); err != nil {
			return fmt.Errorf("save escalation rules: %w", err)
		}
		return s.deps.Audit.Record(tc, db, audit.By(rbac.Must(ctx)), "attendance.escalation.set", audit.Target{Kind: "escalation_rules", ID: "rules"}, map[string]any{"rules": rules})
	})
	return out, err
}

// EscalationID is the idempotency key of one escalation: a rule's threshold reached in the run of days
// absent that began on from, told to one recipient.
func EscalationID(studentID, from string, after int, recipient string) string {
	return "escalation:" + studentID + ":" + from + ":" + strconv.Itoa(after) + ":" + recipient
}

// escalate tells each rule's audience about the students in absent whose run of days absent, ending on
// ses's day, has just reached the rule's length. Like alertAbsences it runs after the marks committed and logs its
// failures.
func (s *Service) escalate(ctx context.Context, ses *academic.Session, absent []string) {
	if len(absent) == 0 {
		return
	}
	db := store.Database(ctx)
	t := tenant.FromContext(ctx)
	ns, err := escalations(ctx, db, t.Slug, ses, absent, s.deps.Clock.Now())
	if err == nil && len(ns) > 0 {
		_, err = notify.Send(ctx, db, s.deps.Notifier, ns)
	}
	if err != nil {
		s.deps.Logger.Error("absence escalations", slog.String("request_id", httpapi.RequestID(ctx)),
			slog.String("session_id", ses.ID), slog.String("error", err.Error()))
	}
}

// absenceRun is a student's run of days absent ending on a session's day: the dates, oldest first.
type absenceRun struct {
	dates []string
}

// runs reads, in one query, the run of days absent ending on session ses's day for each student of ids. A
// day counts as absent when the student was marked absent at one of its sessions and present or late at
// none; a present or late day ends the run; a day only excused (or without a mark) is passed over.
func runs(ctx context.Context, db lungo.IDatabase, ses *academic.Session, ids []string) (map[string]absenceRun, error) {
	day, err := time.Parse(time.DateOnly, ses.Date)
	if err != nil {
		return nil, fmt.Errorf("session %s has no date: %w", ses.ID, err)
	}
	from := day.AddDate(0, 0, -lookback).Format(time.DateOnly)
	var shs []Sheet
	if err := findAll(ctx, db.Collection(sheetsCollection), bson.M{"marks.student_id": bson.M{"$in": ids},
		"date": bson.M{"$gte": from, "$lte": ses.Date}}, &shs); err != nil {
		return nil, fmt.Errorf("marks for escalations: %w", err)
	}
	// Per student and day: absent at some session, attended some session.
	type dayMarks struct{ absent, attended bool }
	byStudent := make(map[string]map[string]*dayMarks, len(ids))
	for _, id := range ids {
		byStudent[id] = map[string]*dayMarks{}
	}
	var dates []string
	seen := map[string]bool{}
	for _, sh := range shs {
		if !seen[sh.Date] {
			seen[sh.Date] = true
			dates = append(dates, sh.Date)
		}
		for _, m := range sh.Marks {
			days, ok := byStudent[m.StudentID]
			if !ok {
				continue
			}
			d := days[sh.Date]
			if d == nil {
				d = &dayMarks{}
				days[sh.Date] = d
			}
			switch m.Status {
			case Absent:
				d.absent = true
			case Present, Late:
				d.attended = true
			}
		}
	}
	slices.Sort(dates)
	slices.Reverse(dates)
	out := make(map[string]absenceRun, len(ids))
	for _, id := range ids {
		var r absenceRun
		for _, date := range dates {
			d := byStudent[id][date]
			if d == nil {
				continue
			}
			if d.attended {
				break
			}
			if d.absent {
				r.dates = append([]string{date}, r.dates...)
			}
		}
		out[id] = r
	}
	return out, nil
}

// escalations builds the notifications the institution's rules call for.
func escalations(ctx context.Context, db lungo.IDatabase, tenantSlug string, ses *academic.Session, absent []string, now time.Time) ([]notify.Notification, error) {
	rules, err := escalationRules(ctx, db)
	if err != nil || len(rules.Rules) == 0 {
		return nil, err
	}
	rs, err := runs(ctx, db, ses, absent)
	if err != nil {
		return nil, err
	}
	due := map[string][]EscalationRule{}
	for _, id := range absent {
		for _, rule := range rules.Rules {
			if len(rs[id].dates) == rule.After && rs[id].dates[len(rs[id].dates)-1] == ses.Date {
				due[id] = append(due[id], rule)
			}
		}
	}
	if len(due) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(due))
	for id := range due {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	sts, err := students.FindStudents(ctx, db, ids)
	if err != nil {
		return nil, fmt.Errorf("students of escalations: %w", err)
	}
	var gids []string
	for _, st := range sts {
		gids = append(gids, st.GuardianIDs...)
	}
	gs, err := students.FindGuardians(ctx, db, gids)
	if err != nil {
		return nil, fmt.Errorf("guardians of escalations: %w", err)
	}
	guardians := make(map[string]students.Guardian, len(gs))
	for _, g := range gs {
		guardians[g.ID] = g
	}
	var admins []account.User
	adminsRead := false
	var out []notify.Notification
	for _, st := range sts {
		run := rs[st.ID]
		dates := strings.Join(run.dates, ", ")
		data := func(extra map[string]string) map[string]string {
			d := map[string]string{"student_id": st.ID, "student_name": st.Name, "count": strconv.Itoa(len(run.dates)), "dates": dates,
				"session_id": ses.ID, "batch_id": ses.BatchID}
			for k, v := range extra {
				d[k] = v
			}
			return d
		}
		subject := fmt.Sprintf("%s was absent %d days in a row (%s)", st.Name, len(run.dates), dates)
		for _, rule := range due[st.ID] {
			switch rule.Notify {
			case Guardians:
				for _, gid := range st.GuardianIDs {
					g, ok := guardians[gid]
					if !ok || g.AccountID == "" {
						continue
					}
					out = append(out, notify.Notification{ID: EscalationID(st.ID, run.dates[0], rule.After, g.AccountID), Tenant: tenantSlug,
						Kind: EscalationKind, Recipient: g.AccountID, Subject: subject,
						Body:      fmt.Sprintf("Dear %s, %s has been absent %d days in a row: %s.", g.Name, st.Name, len(run.dates), dates),
						Data:      data(map[string]string{"guardian_id": g.ID, "phone": g.Phone, "email": g.Email}),
						CreatedAt: now})
				}
			case BranchAdmins:
				if !adminsRead {
					if admins, err = account.ActiveInBranch(ctx, db, rbac.BranchAdmin, ses.BranchID); err != nil {
						return nil, err
					}
					adminsRead = true
				}
				for _, a := range admins {
					out = append(out, notify.Notification{ID: EscalationID(st.ID, run.dates[0], rule.After, a.ID), Tenant: tenantSlug,
						Kind: EscalationKind, Recipient: a.ID, Subject: subject,
						Body:      fmt.Sprintf("%s has been absent %d days in a row: %s.", st.Name, len(run.dates), dates),
						Data:      data(nil),
						CreatedAt: now})
				}
			}
		}
	}
	return out, nil
}
