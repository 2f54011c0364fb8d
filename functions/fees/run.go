package fees

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/money"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// ReminderKind is the notification kind of fee reminders.
const ReminderKind = "fees.reminder"

// ReminderCatchUpDays is how long a reminder stage stays sendable after its day, so a run that was missed
// (a scheduler outage) still sends it; older stages are skipped rather than sent late.
const ReminderCatchUpDays = 7

// SchedulerActor is who the audit log names for changes the scheduled run makes.
var SchedulerActor = audit.Actor{ID: "scheduler", Role: "system"}

// LateFeeKey names a late-fee rule, so a flat fee is applied once per rule and instalment.
func LateFeeKey(r tenant.LateFeeRule) string {
	return fmt.Sprintf("%s:%d:%d:%d", r.Kind, r.Amount, r.GraceDays, r.Cap)
}

// lateFeeDue returns the late fee an instalment should carry under rule r on date today, and whether the
// rule applies at all. A flat fee is its amount once past the grace days; a per-day fee accrues for every
// day past the grace days, up to the cap.
func lateFeeDue(r tenant.LateFeeRule, dueDate, today string) (int64, bool) {
	if r.Kind != LateFeeFlat && r.Kind != LateFeePerDay {
		return 0, false
	}
	due, err1 := time.Parse(time.DateOnly, dueDate)
	on, err2 := time.Parse(time.DateOnly, today)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	late := int64(on.Sub(due).Hours()/24) - int64(r.GraceDays)
	if late <= 0 {
		return 0, false
	}
	if r.Kind == LateFeeFlat {
		return r.Amount, true
	}
	fee := r.Amount * min(late, 3660)
	if r.Cap > 0 {
		fee = min(fee, r.Cap)
	}
	return fee, true
}

// ApplyLateFees applies late fees to the tenant's overdue open instalments as of now: each instalment's
// own rule (from its plan) or the tenant's default. A flat fee is added once per rule and instalment; a
// per-day fee is raised to what the days overdue call for, never lowered. Each change is its own
// transaction with its audit entry, so a run stopped halfway and started again applies nothing twice. It
// returns how many instalments it changed.
func (s *Service) ApplyLateFees(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, now time.Time) (int, error) {
	today := t.Today(now)
	coll := db.Collection(instalmentsCollection)
	cur, err := coll.Find(ctx, bson.M{"status": InstalmentOpen, "due_date": bson.M{"$lt": today}})
	if err != nil {
		return 0, fmt.Errorf("overdue instalments of %s: %w", t.Slug, err)
	}
	var overdue []Instalment
	if err := cur.All(ctx, &overdue); err != nil {
		return 0, fmt.Errorf("overdue instalments of %s: %w", t.Slug, err)
	}
	applied := 0
	for _, i := range overdue {
		rule := t.Settings.LateFee
		if i.LateFeeRule != nil {
			rule = *i.LateFeeRule
		}
		target, ok := lateFeeDue(rule, i.DueDate, today)
		if !ok {
			continue
		}
		key := LateFeeKey(rule)
		var filter, update bson.M
		var add int64
		switch rule.Kind {
		case LateFeeFlat:
			if slices.Contains(i.LateFeeKeys, key) {
				continue
			}
			add = target
			filter = bson.M{"_id": i.ID, "status": InstalmentOpen, "late_fee_keys": bson.M{"$ne": key}}
			update = bson.M{"$inc": bson.M{"late_fee": add, "outstanding": add}, "$push": bson.M{"late_fee_keys": key}, "$set": bson.M{"updated_at": now}}
		default:
			if i.LateFee >= target {
				continue
			}
			add = target - i.LateFee
			filter = bson.M{"_id": i.ID, "status": InstalmentOpen, "late_fee": i.LateFee}
			update = bson.M{"$inc": bson.M{"late_fee": add, "outstanding": add}, "$set": bson.M{"updated_at": now}}
		}
		changed := false
		err := store.Tx(ctx, db, func(tc context.Context) error {
			changed = false
			res, err := db.Collection(instalmentsCollection).UpdateOne(tc, filter, update)
			if err != nil {
				return fmt.Errorf("apply late fee to %s: %w", i.ID, err)
			}
			if res.MatchedCount == 0 {
				return nil // paid or changed meanwhile; the next run looks again
			}
			changed = true
			return s.deps.Audit.Record(tc, db, SchedulerActor, "fees.late_fee.applied",
				audit.Target{Kind: "fee_instalment", ID: i.ID},
				map[string]any{"rule": key, "amount": add, "late_fee": i.LateFee + add})
		})
		if err != nil {
			return applied, err
		}
		if changed {
			applied++
		}
	}
	return applied, nil
}

// stage is one point of a reminder policy: a name and its offset from the due date in days.
type stage struct {
	Name   string
	Offset int
}

func stagesOf(p tenant.ReminderPolicy) []stage {
	var out []stage
	for _, d := range p.DaysBefore {
		out = append(out, stage{"before-" + strconv.Itoa(d), -d})
	}
	if p.OnDueDate {
		out = append(out, stage{"due", 0})
	}
	for _, d := range p.DaysOverdue {
		out = append(out, stage{"overdue-" + strconv.Itoa(d), d})
	}
	slices.SortStableFunc(out, func(a, b stage) int { return a.Offset - b.Offset })
	return out
}

// currentStage returns the latest stage of the policy whose day has come by today, if it came within the
// catch-up window.
func currentStage(stages []stage, dueDate, today string) (stage, bool) {
	due, err1 := time.Parse(time.DateOnly, dueDate)
	on, err2 := time.Parse(time.DateOnly, today)
	if err1 != nil || err2 != nil {
		return stage{}, false
	}
	days := int(on.Sub(due).Hours() / 24)
	best, found := stage{}, false
	for _, s := range stages {
		if s.Offset <= days {
			best, found = s, true
		}
	}
	if !found || days-best.Offset >= ReminderCatchUpDays {
		return stage{}, false
	}
	return best, true
}

// ReminderID is the notification ID, and so the at-most-once key, of an instalment's reminder stage.
func ReminderID(instalmentID, stageName string) string {
	return ReminderKind + ":" + instalmentID + ":" + stageName
}

// DueReminders returns the reminders the tenant's policy calls for now: for every open instalment, the
// latest stage (days before due, due date, days overdue) whose day has come, addressed to the student's
// account with the guardians' accounts in the data. Its IDs make notify.Send deliver each (instalment,
// stage) at most once however often this runs; a settled instalment is never reminded.
func (s *Service) DueReminders(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, now time.Time) ([]notify.Notification, error) {
	stages := stagesOf(t.Settings.Reminders)
	if len(stages) == 0 {
		return nil, nil
	}
	today := t.Today(now)
	on, _ := time.Parse(time.DateOnly, today)
	// An instalment can be in a stage's window only if its due date lies between these two.
	oldest := max(stages[len(stages)-1].Offset, t.Settings.Reminders.EscalateAfterDays)
	from := on.AddDate(0, 0, -(oldest + ReminderCatchUpDays)).Format(time.DateOnly)
	to := on.AddDate(0, 0, -stages[0].Offset).Format(time.DateOnly)
	cur, err := db.Collection(instalmentsCollection).Find(ctx, bson.M{"status": InstalmentOpen, "due_date": bson.M{"$gte": from, "$lte": to}},
		options.Find().SetProjection(bson.M{"student_id": 1, "due_date": 1, "outstanding": 1, "currency": 1, "seq": 1, "assignment_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("instalments to remind in %s: %w", t.Slug, err)
	}
	var is []Instalment
	if err := cur.All(ctx, &is); err != nil {
		return nil, fmt.Errorf("instalments to remind in %s: %w", t.Slug, err)
	}
	type due struct {
		i Instalment
		s stage
	}
	var todo []due
	var escalate []Instalment
	studentIDs := []string{}
	seen := map[string]bool{}
	for _, i := range is {
		if i.Outstanding <= 0 {
			continue
		}
		if overdueFor(i.DueDate, on) >= t.Settings.Reminders.EscalateAfterDays && t.Settings.Reminders.EscalateAfterDays > 0 &&
			overdueFor(i.DueDate, on) < t.Settings.Reminders.EscalateAfterDays+ReminderCatchUpDays {
			escalate = append(escalate, i)
			if !seen[i.StudentID] {
				seen[i.StudentID] = true
				studentIDs = append(studentIDs, i.StudentID)
			}
		}
		s, ok := currentStage(stages, i.DueDate, today)
		if !ok {
			continue
		}
		todo = append(todo, due{i, s})
		if !seen[i.StudentID] {
			seen[i.StudentID] = true
			studentIDs = append(studentIDs, i.StudentID)
		}
	}
	if len(todo) == 0 && len(escalate) == 0 {
		return nil, nil
	}
	people, err := recipients(ctx, db, studentIDs)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Notification, 0, len(todo))
	for _, d := range todo {
		who, ok := people[d.i.StudentID]
		if !ok {
			continue // the student record is gone; nobody to remind
		}
		amount := money.Format(d.i.Outstanding, d.i.Currency)
		subject := fmt.Sprintf("Fee instalment of %s due on %s", amount, d.i.DueDate)
		if d.s.Offset > 0 {
			subject = fmt.Sprintf("Fee instalment of %s overdue since %s", amount, d.i.DueDate)
		}
		out = append(out, notify.Notification{
			ID: ReminderID(d.i.ID, d.s.Name), Tenant: t.Slug, Kind: ReminderKind, Recipient: who.account,
			Subject: subject,
			Body:    fmt.Sprintf("Dear %s, instalment %d of your fees, %s, is due on %s. Please pay at the office or online.", who.name, d.i.Seq, amount, d.i.DueDate),
			Data: map[string]string{"student_id": d.i.StudentID, "instalment_id": d.i.ID, "stage": d.s.Name, "due_date": d.i.DueDate,
				"outstanding": strconv.FormatInt(d.i.Outstanding, 10), "currency": d.i.Currency, "guardians": who.guardians},
			CreatedAt: now,
		})
	}
	if len(escalate) > 0 {
		esc, err := escalations(ctx, db, t, escalate, people, on, now)
		if err != nil {
			return nil, err
		}
		out = append(out, esc...)
	}
	return out, nil
}

// EscalationKind is the notification kind of an overdue-fee escalation.
const EscalationKind = "fees.escalation"

// EscalationID is the idempotency key of the escalation of one instalment to one staff account.
func EscalationID(instalmentID, accountID string) string {
	return EscalationKind + ":" + instalmentID + ":" + accountID
}

// overdueFor is how many days after its due date on is (negative before it).
func overdueFor(dueDate string, on time.Time) int {
	due, err := time.Parse(time.DateOnly, dueDate)
	if err != nil {
		return -1
	}
	return int(on.Sub(due).Hours() / 24)
}

// escalations tells the institution's accountants (its owners when it has none) about each instalment of
// is, still unpaid EscalateAfterDays after its due date.
func escalations(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, is []Instalment, people map[string]recipient, on, now time.Time) ([]notify.Notification, error) {
	staff, err := account.ActiveWithRole(ctx, db, rbac.Accountant)
	if err == nil && len(staff) == 0 {
		staff, err = account.ActiveWithRole(ctx, db, rbac.Owner)
	}
	if err != nil {
		return nil, fmt.Errorf("staff to escalate overdue fees to in %s: %w", t.Slug, err)
	}
	var out []notify.Notification
	for _, i := range is {
		name := people[i.StudentID].name
		amount := money.Format(i.Outstanding, i.Currency)
		days := strconv.Itoa(overdueFor(i.DueDate, on))
		for _, a := range staff {
			out = append(out, notify.Notification{
				ID: EscalationID(i.ID, a.ID), Tenant: t.Slug, Kind: EscalationKind, Recipient: a.ID,
				Subject: fmt.Sprintf("%s: %s overdue for %s days", name, amount, days),
				Body:    fmt.Sprintf("Instalment %d of %s, %s, due on %s, is still unpaid after %s days and every reminder.", i.Seq, name, amount, i.DueDate, days),
				Data: map[string]string{"student_id": i.StudentID, "student_name": name, "instalment_id": i.ID, "due_date": i.DueDate,
					"days_overdue": days, "outstanding": strconv.FormatInt(i.Outstanding, 10), "currency": i.Currency},
				CreatedAt: now,
			})
		}
	}
	return out, nil
}

type recipient struct{ account, name, guardians string }

// recipients reads the students' accounts and their guardians' accounts in two queries.
func recipients(ctx context.Context, db lungo.IDatabase, studentIDs []string) (map[string]recipient, error) {
	sts, err := students.ContactsOf(ctx, db, studentIDs)
	if err != nil {
		return nil, fmt.Errorf("students to remind: %w", err)
	}
	gids := []string{}
	for _, st := range sts {
		gids = append(gids, st.GuardianIDs...)
	}
	guardianAccount, err := students.GuardianAccounts(ctx, db, gids)
	if err != nil {
		return nil, fmt.Errorf("guardians to remind: %w", err)
	}
	out := make(map[string]recipient, len(sts))
	for _, st := range sts {
		r := recipient{account: st.AccountID, name: st.Name}
		for _, g := range st.GuardianIDs {
			if a := guardianAccount[g]; a != "" {
				if r.guardians != "" {
					r.guardians += ","
				}
				r.guardians += a
			}
		}
		if r.account != "" {
			out[st.ID] = r
		}
	}
	return out, nil
}
