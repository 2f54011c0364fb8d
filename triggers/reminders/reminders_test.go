package reminders_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/wiretest"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/prnum"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/triggers/reminders"
)

// publisher counts successful publishes per notification ID. With stopAfter > 0 it fails every publish
// after that many and calls stop, like a run killed mid-way.
type publisher struct {
	mu        sync.Mutex
	sent      map[string]int
	calls     int
	stopAfter int
	stop      func()
}

func newPublisher() *publisher { return &publisher{sent: map[string]int{}} }

func (p *publisher) Publish(ctx context.Context, n notify.Notification) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.stopAfter > 0 && p.calls > p.stopAfter {
		p.stop()
		return errors.New("killed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.sent[n.ID]++
	return nil
}

func (p *publisher) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.sent {
		n += c
	}
	return n
}

func (p *publisher) duplicates() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id, c := range p.sent {
		if c > 1 {
			out = append(out, id)
		}
	}
	return out
}

func runner(env *apptest.Env, pub notify.Publisher) *reminders.Runner {
	return &reminders.Runner{Fees: env.Services.Fees, Registry: env.App.Registry, Databases: env.App.Databases, Publisher: pub, Clock: env.Clock,
		Logger: env.App.Logger, Concurrency: 4}
}

func tenantDB(t testing.TB, env *apptest.Env, slug string) (*tenant.Tenant, lungo.IDatabase) {
	t.Helper()
	tn, err := env.App.Registry.Get(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	db, release, err := env.App.Databases.Open(context.Background(), tn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return tn, db
}

// seedInstalments writes n students, each with one open instalment of 1000 due on due, straight into a
// tenant database: the run reads these documents, however they were made.
func seedInstalments(t testing.TB, db lungo.IDatabase, n int, due string, rule *tenant.LateFeeRule) []string {
	t.Helper()
	dues := make([]string, n)
	for k := range dues {
		dues[k] = due
	}
	return seedDue(t, db, dues, rule)
}

// seedDue writes one student with one open instalment of 1000 per due date.
func seedDue(t testing.TB, db lungo.IDatabase, dues []string, rule *tenant.LateFeeRule) []string {
	t.Helper()
	return seedDueWith(t, db, dues, rule, nil)
}

// settled makes a seeded instalment one that was paid in full.
func settled(in *fees.Instalment) {
	in.Status, in.Paid, in.Outstanding = fees.InstalmentSettled, in.Amount, 0
}

// seedDueWith is seedDue with each instalment passed through change (when not nil) before it is written.
func seedDueWith(t testing.TB, db lungo.IDatabase, dues []string, rule *tenant.LateFeeRule, change func(*fees.Instalment)) []string {
	t.Helper()
	ctx := context.Background()
	n := len(dues)
	sts := make([]students.Student, n)
	is := make([]fees.Instalment, n)
	ids := make([]string, n)
	now := apptest.Start
	for k := range n {
		st := students.Student{ID: id.New(), PRN: prnum.PRN(fmt.Sprintf("P%d-%s", k, id.New())), AccountID: id.New(), Name: fmt.Sprintf("Student %d", k),
			Status: students.StudentActive, GuardianIDs: []string{}, CreatedAt: now, UpdatedAt: now}
		sts[k] = st
		in := fees.Instalment{ID: id.New(), AssignmentID: id.New(), StudentID: st.ID, Seq: 1, DueDate: dues[k], Weight: 1, Currency: "INR",
			Amount: 1000, Outstanding: 1000, Status: fees.InstalmentOpen, LateFeeRule: rule, LateFeeKeys: []string{}, CreatedAt: now, UpdatedAt: now}
		if change != nil {
			change(&in)
		}
		is[k] = in
		ids[k] = in.ID
	}
	if err := students.ImportStudents(ctx, db, sts); err != nil {
		t.Fatal(err)
	}
	// Each student's sign-in account, with an email address, so a reminder can be delivered.
	accounts := make([]any, n)
	for k, st := range sts {
		accounts[k] = bson.M{"_id": st.AccountID, "name": st.Name, "email": "student-" + st.AccountID + "@example.test", "role": "student",
			"branches": []string{}, "status": "active", "created_at": now, "updated_at": now}
	}
	if _, err := db.Collection(account.Collection).InsertMany(ctx, accounts); err != nil {
		t.Fatal(err)
	}
	if err := fees.ImportInstalments(ctx, db, is); err != nil {
		t.Fatal(err)
	}
	return ids
}

// The clock starts 2026-06-01 09:00 UTC, 14:30 in Kolkata, the default tenants' zone.
const today = "2026-06-01"

// TestRunSendsEachReminderOnceAndAppliesLateFeesOnce runs the scheduled job as it runs, and again with
// the first attempt of every transaction aborted after its body (a write conflict on MongoDB: each body
// runs twice) and with the first commit's answer lost (the commit is retried): the reminders sent and the
// late fees applied are the same, once each.
func TestRunSendsEachReminderOnceAndAppliesLateFeesOnce(t *testing.T) {
	for _, c := range []struct {
		name   string
		faults store.TxFaults
	}{
		{"as it runs", nil},
		{"every body run twice", firstAttemptFails(store.BeforeCommit, "TransientTransactionError")},
		{"every commit retried", firstAttemptFails(store.AfterCommit, "UnknownTransactionCommitResult")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.faults != nil {
				// A body run again after an abort is safe only when the abort undid its writes.
				wiretest.RequireTransactions(t)
			}
			runSendsEachReminderOnce(t, store.WithTxFaults(context.Background(), c.faults))
		})
	}
}

// firstAttemptFails makes the first attempt of every transaction fail at p with an error carrying label.
func firstAttemptFails(p store.TxPoint, label string) store.TxFaults {
	return func(attempt int, at store.TxPoint) error {
		if attempt == 1 && at == p {
			return mongo.CommandError{Code: 112, Name: "WriteConflict", Message: "injected", Labels: []string{label}}
		}
		return nil
	}
}

func runSendsEachReminderOnce(t *testing.T, ctx context.Context) {
	t.Helper()
	env := apptest.New(t)
	env.Provision("alpha")
	settings := tenant.DefaultSettings()
	settings.LateFee = tenant.LateFeeRule{Kind: "flat", Amount: 500, GraceDays: 2}
	rec := env.Do("PUT", "/platform/tenants/alpha/settings", env.AdminToken(), settings)
	if rec.Code != 200 {
		t.Fatalf("settings: %d %s", rec.Code, rec.Body)
	}
	_, db := tenantDB(t, env, "alpha")
	dueToday := seedInstalments(t, db, 2, today, nil)
	inThreeDays := seedInstalments(t, db, 2, "2026-06-04", nil)
	overdue := seedInstalments(t, db, 2, "2026-05-25", nil) // 7 days overdue: stage overdue-7 and a late fee
	seedInstalments(t, db, 2, "2026-06-20", nil)            // not yet in any stage
	seedInstalments(t, db, 1, "2026-01-01", nil)            // overdue long ago: outside the catch-up window
	seedDueWith(t, db, []string{today}, nil, settled)       // a settled instalment due today gets nothing

	pub := newPublisher()
	rep, err := runner(env, pub).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		fees.ReminderID(dueToday[0], "due"): true, fees.ReminderID(dueToday[1], "due"): true,
		fees.ReminderID(inThreeDays[0], "before-3"): true, fees.ReminderID(inThreeDays[1], "before-3"): true,
		fees.ReminderID(overdue[0], "overdue-7"): true, fees.ReminderID(overdue[1], "overdue-7"): true,
	}
	if len(pub.sent) != len(want) || rep.Reminders != len(want) {
		t.Fatalf("sent %v (report %+v), want %v", pub.sent, rep, want)
	}
	for id := range want {
		if pub.sent[id] != 1 {
			t.Errorf("%s sent %d times", id, pub.sent[id])
		}
	}
	// The long-overdue one and the two overdue-7 ones are past the 2 grace days: three late fees.
	if rep.LateFees != 3 {
		t.Fatalf("late fees %d, want 3", rep.LateFees)
	}
	in, err := fees.InstalmentByID(context.Background(), db, overdue[0])
	if err != nil {
		t.Fatal(err)
	}
	if in.LateFee != 500 || in.Outstanding != 1500 {
		t.Fatalf("late fee %d outstanding %d", in.LateFee, in.Outstanding)
	}

	// Run again the same hour, and later the same day: nothing new.
	for range 2 {
		rep, err = runner(env, pub).Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Reminders != 0 || rep.LateFees != 0 || pub.total() != len(want) {
			t.Fatalf("repeat run: %+v, %d publishes", rep, pub.total())
		}
		env.Clock.Advance(3 * time.Hour)
	}
	// Three days later the ones due on the 4th are due, the ones due today overdue by a day.
	env.Clock.Advance(3 * 24 * time.Hour)
	if _, err := runner(env, pub).Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{fees.ReminderID(inThreeDays[0], "due"), fees.ReminderID(dueToday[0], "overdue-1")} {
		if pub.sent[id] != 1 {
			t.Errorf("%s sent %d times", id, pub.sent[id])
		}
	}
	if d := pub.duplicates(); len(d) > 0 {
		t.Fatalf("sent twice: %v", d)
	}
}

func TestRunKilledMidwaySendsNothingTwice(t *testing.T) {
	env := apptest.New(t)
	want := 0
	for i := range 4 {
		slug := fmt.Sprintf("tenant-%d", i)
		env.Provision(slug)
		_, db := tenantDB(t, env, slug)
		seedInstalments(t, db, 30, today, nil)
		want += 30
	}
	pub := newPublisher()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub.stopAfter, pub.stop = 45, cancel
	if _, err := runner(env, pub).Run(ctx); err == nil {
		t.Fatal("a killed run reported success")
	}
	if got := pub.total(); got != 45 {
		t.Fatalf("%d sent before the kill, want 45", got)
	}
	pub.stopAfter = 0
	rep, err := runner(env, pub).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pub.total() != want || len(pub.sent) != want {
		t.Fatalf("after the restart %d publishes of %d reminders, want %d once each (report %+v)", pub.total(), len(pub.sent), want, rep)
	}
	if d := pub.duplicates(); len(d) > 0 {
		t.Fatalf("sent twice: %v", d)
	}
	if rep, _ := runner(env, pub).Run(context.Background()); rep.Reminders != 0 || pub.total() != want {
		t.Fatalf("third run sent more: %+v", rep)
	}
}

func TestRealFeesFlowPaidInstalmentGetsNoReminder(t *testing.T) {
	env := apptest.New(t)
	env.Provision("beta")
	owner := env.Login("beta", "owner@beta.test").AccessToken
	post := func(path string, body any, want int) map[string]any {
		t.Helper()
		rec := env.Do("POST", path, owner, body)
		if rec.Code != want {
			t.Fatalf("POST %s = %d: %s", path, rec.Code, rec.Body)
		}
		return apptest.Decode[map[string]any](t, rec)
	}
	branch := post("/users/branches", map[string]any{"code": "HQ", "name": "HQ"}, 201)["id"]
	course := post("/academic/courses", map[string]any{"code": "C1", "name": "Course", "subjects": []string{"Maths"}}, 201)["id"]
	batch := post("/academic/batches", map[string]any{"course_id": course, "branch_id": branch, "name": "B", "teachers": []string{}, "capacity": 5,
		"start_date": "2026-06-01", "end_date": "2026-08-31", "schedule": []map[string]any{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}}}, 201)["id"]
	student := post("/students/", map[string]any{"name": "Ravi", "date_of_birth": "2010-02-02", "phone": "+919811111111", "branch_id": branch, "password": apptest.Password}, 201)["id"]
	enrolment := post("/students/enrolments", map[string]any{"student_id": student, "batch_id": batch, "from": "2026-06-01"}, 201)["id"]
	plan := post("/fees/plans", map[string]any{"name": "Term", "total": 300000, "schedule": map[string]any{"kind": "dates", "dates": []string{"2026-06-01", "2026-06-02"}}}, 201)["id"]
	post("/fees/assignments", map[string]any{"enrolment_id": enrolment, "plan_id": plan}, 201)
	req := httptest.NewRequest("POST", "/fees/payments", strings.NewReader(fmt.Sprintf(`{"student_id":%q,"amount":150000,"method":"cash"}`, student)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+owner)
	req.Header.Set(fees.IdempotencyHeader, "first")
	rec := httptest.NewRecorder()
	env.Handler.ServeHTTP(rec, req)
	if rec.Code != 201 {
		t.Fatalf("payment %d %s", rec.Code, rec.Body)
	}
	pub := newPublisher()
	rep, err := runner(env, pub).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Instalment 1 (due today) is paid, so it gets nothing; instalment 2, due tomorrow, is in stage
	// before-3 (whose day, 2026-05-30, is within the catch-up window).
	if rep.Reminders != 1 || len(pub.sent) != 1 {
		t.Fatalf("reminders %+v: %v", rep, pub.sent)
	}
	for id := range pub.sent {
		if !strings.HasSuffix(id, ":before-3") {
			t.Fatalf("sent %s", id)
		}
	}
}

func TestHandlerRefusesWithoutTheSchedulersToken(t *testing.T) {
	env := apptest.New(t)
	env.Provision("gamma")
	google := newSigner(t, "k1")
	h := reminders.Handler(runner(env, newPublisher()), offlineOIDC(t, google))
	call := func(method, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	stale := schedulerClaims()
	stale["exp"] = time.Now().Add(-time.Hour).Unix()
	wrongAud := schedulerClaims()
	wrongAud["aud"] = "https://other"
	for name, tok := range map[string]string{"none": "", "stale": google.token(t, stale), "wrong audience": google.token(t, wrongAud)} {
		if rec := call("POST", tok); rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if rec := call("GET", google.token(t, schedulerClaims())); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
	rec := call("POST", google.token(t, schedulerClaims()))
	if rec.Code != http.StatusOK {
		t.Fatalf("scheduler's call: %d %s", rec.Code, rec.Body)
	}
	if rep := apptest.Decode[reminders.Report](t, rec); rep.Tenants != 1 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestPerDayLateFeeAccruesOncePerDayUpToItsCap(t *testing.T) {
	env := apptest.New(t)
	env.Provision("delta")
	_, db := tenantDB(t, env, "delta")
	rule := &tenant.LateFeeRule{Kind: "per_day", Amount: 10, GraceDays: 2, Cap: 75}
	ids := seedInstalments(t, db, 1, "2026-05-25", rule) // 7 days overdue today, 5 past the grace days
	lateFee := func() int64 {
		t.Helper()
		in, err := fees.InstalmentByID(context.Background(), db, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if in.Outstanding != in.Amount+in.LateFee {
			t.Fatalf("outstanding %d != amount %d + late fee %d", in.Outstanding, in.Amount, in.LateFee)
		}
		return in.LateFee
	}
	pub := newPublisher()
	for _, want := range []int64{50, 50} { // the same day twice: once
		if _, err := runner(env, pub).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := lateFee(); got != want {
			t.Fatalf("late fee %d, want %d", got, want)
		}
	}
	env.Clock.Advance(24 * time.Hour)
	if _, err := runner(env, pub).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lateFee(); got != 60 {
		t.Fatalf("a day later: late fee %d, want 60", got)
	}
	env.Clock.Advance(10 * 24 * time.Hour)
	if _, err := runner(env, pub).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lateFee(); got != 75 {
		t.Fatalf("capped: late fee %d, want 75", got)
	}
}

func TestOverdueFeesEscalateToAccountantsOnceAfterTheLastReminder(t *testing.T) {
	env := apptest.New(t)
	env.Provision("alpha")
	settings := tenant.DefaultSettings() // reminders 3 days before, on the day, 1 and 7 days after
	settings.Reminders.EscalateAfterDays = 5
	if rec := env.Do("PUT", "/platform/tenants/alpha/settings", env.AdminToken(), settings); rec.Code != 400 {
		t.Fatalf("escalation before the last reminder accepted: %d %s", rec.Code, rec.Body)
	}
	settings.Reminders.EscalateAfterDays = 10
	if rec := env.Do("PUT", "/platform/tenants/alpha/settings", env.AdminToken(), settings); rec.Code != 200 {
		t.Fatalf("settings: %d %s", rec.Code, rec.Body)
	}
	_, db := tenantDB(t, env, "alpha")
	if _, err := db.Collection(account.Collection).InsertOne(context.Background(), bson.M{"_id": "accountant-1", "name": "Asha Accounts",
		"email": "accounts@alpha.test", "role": "accountant", "branches": []string{}, "status": "active"}); err != nil {
		t.Fatal(err)
	}
	late := seedInstalments(t, db, 1, "2026-05-20", nil) // 12 days overdue
	seedInstalments(t, db, 1, "2026-05-26", nil)         // 6 days overdue: not yet
	seedInstalments(t, db, 1, "2026-04-01", nil)         // long ago: outside the catch-up window
	pub := newPublisher()
	if _, err := runner(env, pub).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var escalations []string
	for id := range pub.sent {
		if strings.HasPrefix(id, fees.EscalationKind+":") {
			escalations = append(escalations, id)
		}
	}
	if len(escalations) != 1 || escalations[0] != fees.EscalationID(late[0], "accountant-1") {
		t.Fatalf("escalations = %v", escalations)
	}
	if _, err := runner(env, pub).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := pub.sent[fees.EscalationID(late[0], "accountant-1")]; n != 1 {
		t.Fatalf("escalation sent %d times over two runs", n)
	}
}
