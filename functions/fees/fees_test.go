package fees_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/tenant"
)

type ids struct {
	ID string `json:"id"`
}

type school struct {
	env                *apptest.Env
	slug               string
	owner, accountant  string
	teacher            string
	branch, otherBranc string
	batch, batch2      string
	student            string
	enrolment          string
	db                 lungo.IDatabase
}

// pay posts a payment with an idempotency key; an empty key sends none.
func pay(env *apptest.Env, token, key string, body any) *httptest.ResponseRecorder {
	return env.DoWithHeader("POST", "/fees/payments", token, body, http.Header{fees.IdempotencyHeader: {key}})
}

// newSchool provisions a tenant with two branches, two batches in the first (June 2026), one student
// enrolled in the first batch from its start, and signs in the owner, an accountant and a teacher.
func newSchool(t testing.TB, settings *tenant.Settings) *school {
	t.Helper()
	env := apptest.New(t)
	s := &school{env: env, slug: "feesy"}
	env.Provision(s.slug)
	if settings != nil {
		apptest.MustStatus(t, env.Do("PUT", "/platform/tenants/"+s.slug+"/settings", env.AdminToken(), settings), http.StatusOK)
	}
	s.owner = env.Login(s.slug, "owner@feesy.test").AccessToken
	s.branch = apptest.Call[ids](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "MAIN", "name": "Main"}, 201).ID
	s.otherBranc = apptest.Call[ids](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "EAST", "name": "East"}, 201).ID
	for _, u := range []struct{ email, role, branch string }{{"acc@feesy.test", "accountant", s.branch}, {"teach@feesy.test", "teacher", s.otherBranc}, {"badmin@feesy.test", "branch_admin", s.otherBranc}} {
		apptest.Call[ids](t, env, "POST", "/users/staff", s.owner, map[string]any{"email": u.email, "name": u.role, "role": u.role,
			"branches": []string{u.branch}, "password": apptest.Password}, 201)
	}
	s.accountant = env.Login(s.slug, "acc@feesy.test").AccessToken
	s.teacher = env.Login(s.slug, "teach@feesy.test").AccessToken
	course := apptest.Call[ids](t, env, "POST", "/academic/courses", s.owner, map[string]any{"code": "NEET-27", "name": "NEET", "subjects": []string{"Biology"}}, 201).ID
	batch := func(name string) string {
		return apptest.Call[ids](t, env, "POST", "/academic/batches", s.owner, map[string]any{
			"course_id": course, "branch_id": s.branch, "name": name, "teachers": []string{}, "capacity": 50,
			"start_date": "2026-06-01", "end_date": "2026-06-30", "schedule": []map[string]any{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}},
		}, 201).ID
	}
	s.batch, s.batch2 = batch("Morning"), batch("Evening")
	s.student = s.newStudent(t, "Asha Rao", "+919800000001")
	s.enrolment = s.enrol(t, s.student, s.batch, "2026-06-01")
	s.db = env.TenantDB(s.slug)
	return s
}

func (s *school) newStudent(t testing.TB, name, phone string) string {
	t.Helper()
	return apptest.Call[ids](t, s.env, "POST", "/students/", s.owner, map[string]any{"name": name, "date_of_birth": "2010-01-01",
		"phone": phone, "branch_id": s.branch, "password": apptest.Password}, 201).ID
}

func (s *school) enrol(t testing.TB, student, batch, from string) string {
	t.Helper()
	return apptest.Call[ids](t, s.env, "POST", "/students/enrolments", s.owner, map[string]any{"student_id": student, "batch_id": batch, "from": from}, 201).ID
}

func (s *school) plan(t testing.TB, total int64, schedule map[string]any) string {
	t.Helper()
	return apptest.Call[ids](t, s.env, "POST", "/fees/plans", s.accountant, map[string]any{"name": "Plan", "total": total, "schedule": schedule}, 201).ID
}

func (s *school) assign(t testing.TB, enrolment, plan string) fees.AssignmentView {
	t.Helper()
	return apptest.Call[fees.AssignmentView](t, s.env, "POST", "/fees/assignments", s.accountant, map[string]any{"enrolment_id": enrolment, "plan_id": plan}, 201)
}

func (s *school) count(t testing.TB, coll string) int64 {
	t.Helper()
	n, err := s.db.Collection(coll).CountDocuments(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func amounts(v fees.AssignmentView) []int64 {
	out := make([]int64, len(v.Instalments))
	for i, in := range v.Instalments {
		out[i] = in.Amount
	}
	return out
}

func TestAssignConcessionAndRecalculation(t *testing.T) {
	s := newSchool(t, nil)
	env := s.env
	plan := s.plan(t, 1000, map[string]any{"kind": "count", "count": 3})
	v := s.assign(t, s.enrolment, plan)
	if got := amounts(v); fmt.Sprint(got) != "[334 333 333]" || v.Net != 1000 || v.Currency != "INR" {
		t.Fatalf("instalments %v net %d currency %s", got, v.Net, v.Currency)
	}
	apptest.MustStatus(t, env.Do("POST", "/fees/assignments", s.accountant, map[string]any{"enrolment_id": s.enrolment, "plan_id": plan}), http.StatusConflict)

	// Pay the first instalment; a 10% concession then recalculates only the open two.
	p := apptest.Decode[fees.Payment](t, pay(env, s.accountant, "k1", map[string]any{"student_id": s.student, "amount": 334, "method": "cash"}))
	if p.ReceiptNo != 1 || len(p.Allocations) != 1 || p.Allocations[0].InstalmentID != v.Instalments[0].ID {
		t.Fatalf("payment %+v", p)
	}
	v = apptest.Call[fees.AssignmentView](t, env, "POST", "/fees/assignments/"+v.ID+"/concessions", s.accountant,
		map[string]any{"kind": "percent", "basis_points": 1000, "reason": "sibling discount"}, 201)
	if got := amounts(v); fmt.Sprint(got) != "[334 283 283]" || v.Net != 900 || v.Instalments[0].Status != fees.InstalmentSettled {
		t.Fatalf("after 10%% concession: %v net %d", got, v.Net)
	}
	if v.Concessions[0].ApprovedBy == "" {
		t.Fatal("concession has no approver")
	}
	// A 100% concession: the paid instalment stays, the open ones drop to zero and settle.
	v = apptest.Call[fees.AssignmentView](t, env, "POST", "/fees/assignments/"+v.ID+"/concessions", s.accountant,
		map[string]any{"kind": "percent", "basis_points": 10000, "reason": "scholarship"}, 201)
	if got := amounts(v); fmt.Sprint(got) != "[334 0 0]" || v.Net != 0 || v.Instalments[2].Status != fees.InstalmentSettled {
		t.Fatalf("after 100%% concession: %v net %d", got, v.Net)
	}
	// Revoking it brings the 10% state back.
	v = apptest.Call[fees.AssignmentView](t, env, "POST", "/fees/assignments/"+v.ID+"/concessions/"+v.Concessions[1].ID+"/revoke", s.accountant, nil, 200)
	if got := amounts(v); fmt.Sprint(got) != "[334 283 283]" {
		t.Fatalf("after revoking: %v", got)
	}
	apptest.MustStatus(t, env.Do("POST", "/fees/assignments/"+v.ID+"/concessions/"+v.Concessions[1].ID+"/revoke", s.accountant, nil), http.StatusConflict)
	apptest.MustStatus(t, env.Do("POST", "/fees/assignments/"+v.ID+"/concessions", s.teacher, map[string]any{"kind": "fixed", "amount": 5, "reason": "teacher"}), http.StatusForbidden)
}

func TestMidTermJoinProrates(t *testing.T) {
	s := newSchool(t, nil)
	st := s.newStudent(t, "Late Joiner", "+919800000002")
	e := s.enrol(t, st, s.batch, "2026-06-16") // 15 of 30 days left
	plan := s.plan(t, 3000, map[string]any{"kind": "dates", "dates": []string{"2026-06-01", "2026-06-15", "2026-06-29"}})
	v := s.assign(t, e, plan)
	if v.Gross != 1500 || fmt.Sprint(amounts(v)) != "[500 500 500]" {
		t.Fatalf("gross %d instalments %v", v.Gross, amounts(v))
	}
	if v.Instalments[0].DueDate != "2026-06-16" || v.Instalments[1].DueDate != "2026-06-16" || v.Instalments[2].DueDate != "2026-06-29" {
		t.Fatalf("due dates %s %s %s", v.Instalments[0].DueDate, v.Instalments[1].DueDate, v.Instalments[2].DueDate)
	}
}

func TestTransferRecalculatesOpenInstalments(t *testing.T) {
	s := newSchool(t, nil)
	env := s.env
	plan := s.plan(t, 3000, map[string]any{"kind": "count", "count": 3, "interval_months": 1})
	cheaper := s.plan(t, 1500, map[string]any{"kind": "count", "count": 1})
	v := s.assign(t, s.enrolment, plan)
	apptest.Decode[fees.Payment](t, pay(env, s.accountant, "t1", map[string]any{"student_id": s.student, "amount": 1000, "method": "card"}))
	// Transfer to the evening batch from the 16th: 15 of 30 days at the new plan's 1500 instead of 3000.
	next := apptest.Call[ids](t, env, "POST", "/students/enrolments/"+s.enrolment+"/transfer", s.owner, map[string]any{"batch_id": s.batch2, "date": "2026-06-16"}, 201).ID
	v = apptest.Call[fees.AssignmentView](t, env, "POST", "/fees/assignments/"+v.ID+"/recalculate", s.accountant, map[string]any{"plan_id": cheaper}, 200)
	if v.EnrolmentID != next || v.BatchID != s.batch2 || v.Gross != 3000-1500+750 {
		t.Fatalf("after transfer: enrolment %s batch %s gross %d", v.EnrolmentID, v.BatchID, v.Gross)
	}
	if got := amounts(v); fmt.Sprint(got) != "[1000 625 625]" || v.Instalments[0].BatchID != s.batch || v.Instalments[1].BatchID != s.batch2 {
		t.Fatalf("instalments %v", got)
	}
	// Asked again, nothing changes.
	again := apptest.Call[fees.AssignmentView](t, env, "POST", "/fees/assignments/"+v.ID+"/recalculate", s.accountant, map[string]any{}, 200)
	if fmt.Sprint(amounts(again)) != "[1000 625 625]" {
		t.Fatalf("second recalculation changed %v", amounts(again))
	}
	apptest.MustStatus(t, env.Do("POST", "/fees/assignments/"+v.ID+"/recalculate", s.accountant, map[string]any{"plan_id": cheaper}), http.StatusConflict)
}

func TestPaymentAllocationCreditRefundWaiver(t *testing.T) {
	s := newSchool(t, nil)
	env := s.env
	plan := s.plan(t, 1000, map[string]any{"kind": "count", "count": 2})
	v := s.assign(t, s.enrolment, plan)
	// 700 pays the first (500) and 200 of the second.
	p1 := apptest.Decode[fees.Payment](t, pay(env, s.accountant, "a", map[string]any{"student_id": s.student, "amount": 700, "method": "bank_transfer"}))
	if len(p1.Allocations) != 2 || p1.Allocations[0].Amount != 500 || p1.Allocations[1].Amount != 200 || p1.Credit != 0 {
		t.Fatalf("allocations %+v", p1)
	}
	// 450 settles the rest (300) and holds 150 as credit.
	rec := pay(env, s.accountant, "b", map[string]any{"student_id": s.student, "amount": 450, "method": "online", "reference": "pay_123"})
	p2 := apptest.Decode[fees.Payment](t, rec)
	if rec.Code != 201 || p2.Credit != 150 || p2.ReceiptNo != 2 {
		t.Fatalf("second payment %d %+v", rec.Code, p2)
	}
	dues := apptest.Call[fees.StudentDues](t, env, "GET", "/fees/dues/students/"+s.student, s.accountant, nil, 200)
	if dues.Outstanding != 0 || dues.Credit != 150 || len(dues.Instalments) != 0 {
		t.Fatalf("dues %+v", dues)
	}
	// Refunds: never more than was paid.
	apptest.MustProblem(t, env.Do("POST", "/fees/refunds", s.accountant, map[string]any{"payment_id": p2.ID, "amount": 451, "method": "cash", "reason": "too much"}), 400, "invalid")
	r := apptest.Call[fees.Refund](t, env, "POST", "/fees/refunds", s.accountant, map[string]any{"payment_id": p2.ID, "amount": 200, "method": "cash", "reason": "left the course"}, 201)
	if r.Number != 1 || r.FromCredit != 150 || len(r.Reversals) != 1 || r.Reversals[0].Amount != 50 {
		t.Fatalf("refund %+v", r)
	}
	apptest.MustProblem(t, env.Do("POST", "/fees/refunds", s.accountant, map[string]any{"payment_id": p2.ID, "amount": 251, "method": "cash", "reason": "again"}), 400, "invalid")
	dues = apptest.Call[fees.StudentDues](t, env, "GET", "/fees/dues/students/"+s.student, s.accountant, nil, 200)
	if dues.Outstanding != 50 || dues.Credit != 0 {
		t.Fatalf("dues after refund %+v", dues)
	}
	// A waiver of more than is owed is refused; the rest can be waived.
	inst := v.Instalments[1].ID
	apptest.MustProblem(t, env.Do("POST", "/fees/waivers", s.accountant, map[string]any{"instalment_id": inst, "amount": 51, "reason": "hardship"}), 400, "invalid")
	w := apptest.Call[fees.Waiver](t, env, "POST", "/fees/waivers", s.accountant, map[string]any{"instalment_id": inst, "amount": 50, "reason": "hardship"}, 201)
	if w.Number != 1 {
		t.Fatalf("waiver %+v", w)
	}
	dues = apptest.Call[fees.StudentDues](t, env, "GET", "/fees/dues/students/"+s.student, s.accountant, nil, 200)
	if dues.Outstanding != 0 {
		t.Fatalf("dues after waiver %+v", dues)
	}
	// The student sees their own dues and payments; a teacher of another branch does not.
	stToken := studentToken(t, s)
	apptest.Call[fees.StudentDues](t, env, "GET", "/fees/dues/students/"+s.student, stToken, nil, 200)
	apptest.MustProblem(t, env.Do("GET", "/fees/payments/"+p1.ID, s.teacher, nil), 403, "forbidden")
	apptest.MustProblem(t, env.Do("GET", "/fees/dues", stToken, nil), 404, "not_found")
}

func studentToken(t *testing.T, s *school) string {
	t.Helper()
	st := apptest.Call[struct {
		PRN string `json:"prn"`
	}](t, s.env, "GET", "/students/"+s.student, s.owner, nil, 200)
	rec := s.env.Do("POST", "/auth/login", "", map[string]string{"prn": st.PRN, "password": apptest.Password})
	if rec.Code != 200 {
		t.Fatalf("student login: %d %s", rec.Code, rec.Body)
	}
	return apptest.Decode[apptest.TokenPair](t, rec).AccessToken
}

func TestConcurrentIdenticalPaymentsRecordOne(t *testing.T) {
	s := newSchool(t, nil)
	s.assign(t, s.enrolment, s.plan(t, 100_000, map[string]any{"kind": "count", "count": 4}))
	body := map[string]any{"student_id": s.student, "amount": 25_000, "method": "online", "reference": "gw-1"}
	const n = 100
	recs := make([]*httptest.ResponseRecorder, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); recs[i] = pay(s.env, s.accountant, "same-key", body) }()
	}
	wg.Wait()
	created, receipts := 0, map[int64]bool{}
	for _, rec := range recs {
		switch rec.Code {
		case 201:
			created++
		case 200:
		default:
			t.Fatalf("a duplicate answered %d: %s", rec.Code, rec.Body)
		}
		receipts[apptest.Decode[fees.Payment](t, rec).ReceiptNo] = true
	}
	if created != 1 || len(receipts) != 1 || !receipts[1] {
		t.Fatalf("%d created, receipts %v", created, receipts)
	}
	if n := s.count(t, fees.PaymentsCollection); n != 1 {
		t.Fatalf("%d payments recorded", n)
	}
	// The same key with another body is a conflict, and writes nothing.
	apptest.MustProblem(t, pay(s.env, s.accountant, "same-key", map[string]any{"student_id": s.student, "amount": 1, "method": "cash"}), 409, "conflict")
	if n := s.count(t, fees.PaymentsCollection); n != 1 {
		t.Fatalf("%d payments recorded", n)
	}
}

func TestReceiptNumbersHaveNoGapsUnderConcurrency(t *testing.T) {
	s := newSchool(t, nil)
	s.assign(t, s.enrolment, s.plan(t, 1_000_000, map[string]any{"kind": "count", "count": 10}))
	const n = 40
	var wg sync.WaitGroup
	codes := make([]int, 3*n)
	for i := range n {
		wg.Add(3)
		body := map[string]any{"student_id": s.student, "amount": 1000 + i, "method": "cash"}
		go func() { defer wg.Done(); codes[3*i] = pay(s.env, s.accountant, fmt.Sprintf("key-%d", i), body).Code }()
		go func() { defer wg.Done(); codes[3*i+1] = pay(s.env, s.accountant, fmt.Sprintf("key-%d", i), body).Code }()
		// A refused payment in the same stream must not take a number.
		go func() {
			defer wg.Done()
			codes[3*i+2] = pay(s.env, s.accountant, fmt.Sprintf("bad-%d", i), map[string]any{"student_id": s.student, "amount": -1, "method": "cash"}).Code
		}()
	}
	wg.Wait()
	for i := range n {
		if c := codes[3*i] + codes[3*i+1]; c != 201+200 || codes[3*i+2] != 400 {
			t.Fatalf("payment %d answered %d, %d and the bad one %d", i, codes[3*i], codes[3*i+1], codes[3*i+2])
		}
	}
	cur, err := s.db.Collection(fees.PaymentsCollection).Find(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []fees.Payment
	if err := cur.All(context.Background(), &ps); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, p := range ps {
		seen[p.ReceiptNo] = true
	}
	for i := int64(1); i <= n; i++ {
		if !seen[i] {
			t.Fatalf("receipt %d missing among %d payments", i, len(ps))
		}
	}
	if len(ps) != n || len(seen) != n {
		t.Fatalf("%d payments with %d distinct receipts, want %d", len(ps), len(seen), n)
	}
}

func TestBadRequestsWriteNothing(t *testing.T) {
	s := newSchool(t, nil)
	env := s.env
	plan := s.plan(t, 1000, map[string]any{"kind": "count", "count": 2})
	v := s.assign(t, s.enrolment, plan)
	p := apptest.Decode[fees.Payment](t, pay(env, s.accountant, "ok", map[string]any{"student_id": s.student, "amount": 100, "method": "cash"}))
	colls := []string{fees.PlansCollection, fees.AssignmentsCollection, fees.InstalmentsCollection, fees.PaymentsCollection,
		fees.RefundsCollection, fees.WaiversCollection, fees.CreditsCollection, "audit_log"}
	before := map[string]int64{}
	for _, c := range colls {
		before[c] = s.count(t, c)
	}
	other := s.newStudent(t, "Other", "+919800000009")
	before["audit_log"] = s.count(t, "audit_log")
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"plan without name", "POST", "/fees/plans", map[string]any{"total": 10, "schedule": map[string]any{"kind": "count", "count": 1}}, 400, "invalid"},
		{"plan negative total", "POST", "/fees/plans", map[string]any{"name": "x", "total": -1, "schedule": map[string]any{"kind": "count", "count": 1}}, 400, "invalid"},
		{"plan float total", "POST", "/fees/plans", `{"name":"x","total":10.5,"schedule":{"kind":"count","count":1}}`, 400, "invalid"},
		{"plan percentages not 100", "POST", "/fees/plans", map[string]any{"name": "x", "total": 10, "schedule": map[string]any{"kind": "percentages", "percentages": []int{50, 40}}}, 400, "invalid"},
		{"plan bad late fee", "POST", "/fees/plans", map[string]any{"name": "x", "total": 10, "schedule": map[string]any{"kind": "count", "count": 1}, "late_fee": map[string]any{"kind": "flat"}}, 400, "invalid"},
		{"plan unknown field", "POST", "/fees/plans", map[string]any{"name": "x", "total": 10, "schedule": map[string]any{"kind": "count", "count": 1}, "owner": "me"}, 400, "invalid"},
		{"assign operator injection", "POST", "/fees/assignments", `{"enrolment_id":{"$ne":""},"plan_id":"x"}`, 400, "invalid"},
		{"assign unknown plan", "POST", "/fees/assignments", map[string]any{"enrolment_id": s.enrolment, "plan_id": "000000000000000000000000"}, 400, "invalid"},
		{"assign unknown enrolment", "POST", "/fees/assignments", map[string]any{"enrolment_id": "000000000000000000000000", "plan_id": plan}, 404, "not_found"},
		{"concession over 100%", "POST", "/fees/assignments/" + v.ID + "/concessions", map[string]any{"kind": "percent", "basis_points": 10001, "reason": "xyz"}, 400, "invalid"},
		{"concession without reason", "POST", "/fees/assignments/" + v.ID + "/concessions", map[string]any{"kind": "fixed", "amount": 5}, 400, "invalid"},
		{"concession unknown assignment", "POST", "/fees/assignments/000000000000000000000000/concessions", map[string]any{"kind": "fixed", "amount": 5, "reason": "xyz"}, 404, "not_found"},
		{"payment zero", "POST", "/fees/payments", map[string]any{"student_id": s.student, "amount": 0, "method": "cash"}, 400, "invalid"},
		{"payment bad method", "POST", "/fees/payments", map[string]any{"student_id": s.student, "amount": 5, "method": "cheque"}, 400, "invalid"},
		{"online payment without reference", "POST", "/fees/payments", map[string]any{"student_id": s.student, "amount": 5, "method": "online"}, 400, "invalid"},
		{"payment unknown student", "POST", "/fees/payments", map[string]any{"student_id": "000000000000000000000000", "amount": 5, "method": "cash"}, 404, "not_found"},
		{"refund unknown payment", "POST", "/fees/refunds", map[string]any{"payment_id": "000000000000000000000000", "amount": 5, "method": "cash", "reason": "xyz"}, 404, "not_found"},
		{"refund over payment", "POST", "/fees/refunds", map[string]any{"payment_id": p.ID, "amount": 101, "method": "cash", "reason": "xyz"}, 400, "invalid"},
		{"waiver of a settled nothing", "POST", "/fees/waivers", map[string]any{"instalment_id": v.Instalments[1].ID, "amount": 501, "reason": "xyz"}, 400, "invalid"},
		{"dues of batch and branch", "GET", "/fees/dues?batch=" + s.batch + "&branch=" + s.branch, nil, 400, "invalid"},
		{"assignments without student", "GET", "/fees/assignments", nil, 400, "invalid"},
		{"recalculate unknown plan", "POST", "/fees/assignments/" + v.ID + "/recalculate", map[string]any{"plan_id": "000000000000000000000000"}, 400, "invalid"},
		{"payments of a student without fees", "GET", "/fees/payments?student=" + other, nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			if c.path == "/fees/payments" && c.method == "POST" {
				rec = pay(env, s.accountant, "bad-"+c.name[:4], c.body)
			} else {
				rec = env.Do(c.method, c.path, s.accountant, c.body)
			}
			if c.code == "" {
				if rec.Code != c.status {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				return
			}
			apptest.MustProblem(t, rec, c.status, c.code)
		})
	}
	apptest.MustProblem(t, pay(env, s.accountant, "", map[string]any{"student_id": s.student, "amount": 5, "method": "cash"}), 400, "invalid")
	apptest.MustProblem(t, pay(env, s.accountant, "has space", map[string]any{"student_id": s.student, "amount": 5, "method": "cash"}), 400, "invalid")
	for _, c := range colls {
		if n := s.count(t, c); n != before[c] {
			t.Errorf("%s: %d documents, %d before", c, n, before[c])
		}
	}
	if n := s.count(t, "fee_idempotency"); n != 1 {
		t.Errorf("%d idempotency keys recorded, want 1", n)
	}
	if n := s.count(t, "fee_counters"); n != 1 {
		t.Errorf("%d counters, want only the receipt counter", n)
	}
}

func TestDuesAgeingAndScope(t *testing.T) {
	s := newSchool(t, nil)
	env := s.env
	plan := s.plan(t, 4000, map[string]any{"kind": "dates", "dates": []string{"2026-06-01", "2026-07-20", "2026-08-25", "2026-10-01"}})
	s.assign(t, s.enrolment, plan)
	env.Clock.Set(time.Date(2026, 9, 9, 20, 0, 0, 0, time.UTC)) // 2026-09-10 in Kolkata
	s.accountant = env.Login(s.slug, "acc@feesy.test").AccessToken
	s.owner = env.Login(s.slug, "owner@feesy.test").AccessToken
	d := apptest.Call[fees.DuesSummary](t, env, "GET", "/fees/dues?batch="+s.batch, s.accountant, nil, 200)
	want := fees.Ageing{NotDue: 1000, Days1To30: 1000, Days31To60: 1000, Over90: 1000}
	if d.Ageing != want || d.Outstanding != 4000 || d.Overdue != 3000 || d.Students != 1 || d.Instalments != 4 {
		t.Fatalf("dues %+v", d)
	}
	b := apptest.Call[fees.DuesSummary](t, env, "GET", "/fees/dues?branch="+s.branch, s.owner, nil, 200)
	all := apptest.Call[fees.DuesSummary](t, env, "GET", "/fees/dues", s.owner, nil, 200)
	if b.Outstanding != 4000 || all.Outstanding != 4000 || all.Scope != "institution" {
		t.Fatalf("branch %+v institution %+v", b, all)
	}
	badmin := env.Login(s.slug, "badmin@feesy.test").AccessToken
	apptest.MustProblem(t, env.Do("GET", "/fees/dues?branch="+s.branch, badmin, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/fees/dues?batch="+s.batch, badmin, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/fees/dues/students/"+s.student, badmin, nil), 404, "not_found")
	if mine := apptest.Call[fees.DuesSummary](t, env, "GET", "/fees/dues", badmin, nil, 200); mine.Outstanding != 0 {
		t.Fatalf("a branch admin of another branch sees %+v", mine)
	}
}

func TestOtherTenantsFeesAreNotFound(t *testing.T) {
	s := newSchool(t, nil)
	v := s.assign(t, s.enrolment, s.plan(t, 1000, map[string]any{"kind": "count", "count": 2}))
	s.env.Provision("other")
	other := s.env.Login("other", "owner@other.test").AccessToken
	apptest.MustProblem(t, s.env.Do("GET", "/fees/assignments/"+v.ID, other, nil), 404, "not_found")
	apptest.MustProblem(t, pay(s.env, other, "x", map[string]any{"student_id": s.student, "amount": 5, "method": "cash"}), 404, "not_found")
}

// TestGoCallersGetTheHTTPValidation calls the service directly, as another area does (leads.Convert pays
// through it): each method judges its own input, so a Go caller gets the Invalid an HTTP caller gets, and
// validating never changes the value it judges.
func TestGoCallersGetTheHTTPValidation(t *testing.T) {
	env := apptest.New(t)
	svc := env.Services.Fees
	ctx := context.Background()
	const id0 = "000000000000000000000000"
	cases := []struct {
		name  string
		field string
		call  func() error
	}{
		{"plan without name", "name", func() error {
			_, err := svc.CreatePlan(ctx, fees.NewPlan{Name: "   ", Total: 10, Schedule: fees.Schedule{Kind: fees.ScheduleCount, Count: 1}})
			return err
		}},
		{"assignment with a bad enrolment id", "enrolment_id", func() error {
			_, err := svc.Assign(ctx, fees.NewAssignment{EnrolmentID: "x", PlanID: id0})
			return err
		}},
		{"concession over 100%", "", func() error {
			_, err := svc.GrantConcession(ctx, id0, fees.NewConcession{Kind: fees.ConcessionPercent, BasisPoints: 10_001, Reason: "xyz"})
			return err
		}},
		{"concession reason of spaces", "reason", func() error {
			_, err := svc.GrantConcession(ctx, id0, fees.NewConcession{Kind: fees.ConcessionFixed, Amount: 5, Reason: "  a  "})
			return err
		}},
		{"recalculation with a bad plan id", "plan_id", func() error {
			_, err := svc.Recalculate(ctx, id0, fees.Recalculation{PlanID: "x"})
			return err
		}},
		{"refund of nothing", "", func() error {
			_, err := svc.RefundPayment(ctx, fees.NewRefund{PaymentID: id0, Amount: 0, Method: fees.MethodCash, Reason: "xyz"})
			return err
		}},
		{"waiver reason of spaces", "reason", func() error {
			_, err := svc.Waive(ctx, fees.NewWaiver{InstalmentID: id0, Amount: 5, Reason: "     "})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			e := apperr.As(err)
			if e == nil || e.Code != apperr.Invalid {
				t.Fatalf("got %v, want an Invalid error", err)
			}
			if _, named := e.Fields[c.field]; c.field != "" && !named {
				t.Errorf("fields %v, want %q named", e.Fields, c.field)
			}
		})
	}

	in := fees.NewPlan{Name: "  Term   fee ", Total: 10, Schedule: fees.Schedule{Kind: fees.ScheduleCount, Count: 1}}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	if in.Name != "  Term   fee " || in.Schedule.IntervalMonths != 0 {
		t.Errorf("Validate changed its input: %+v", in)
	}
}

// TestValidationNamesEveryBadField: a request with several bad fields hears of all of them at once, each
// with its code, so a form can mark every field in one round trip.
func TestValidationNamesEveryBadField(t *testing.T) {
	tests := []struct {
		name string
		in   interface{ Validate() error }
		want map[string]apperr.FieldCode
	}{
		{"plan", fees.NewPlan{Total: -1, Schedule: fees.Schedule{Kind: "weekly"}, LateFee: &tenant.LateFeeRule{Kind: "flat", GraceDays: 400}},
			map[string]apperr.FieldCode{"name": apperr.FieldRequired, "total": apperr.FieldOutOfRange, "schedule.kind": apperr.FieldNotAllowed,
				"late_fee.amount": apperr.FieldOutOfRange, "late_fee.grace_days": apperr.FieldOutOfRange}},
		{"schedule", fees.NewPlan{Name: "Term", Schedule: fees.Schedule{Kind: fees.ScheduleCount, IntervalMonths: 13, Percentages: []int64{1}}},
			map[string]apperr.FieldCode{"schedule.interval_months": apperr.FieldOutOfRange, "schedule.count": apperr.FieldOutOfRange, "schedule": apperr.FieldNotAllowed}},
		{"payment", fees.NewPayment{StudentID: "nope", Method: fees.MethodOnline, Note: strings.Repeat("x", 501), PaidOn: "June"},
			map[string]apperr.FieldCode{"student_id": apperr.FieldFormat, "amount": apperr.FieldOutOfRange, "reference": apperr.FieldRequired,
				"note": apperr.FieldTooLong, "paid_on": apperr.FieldFormat}},
		{"refund", fees.NewRefund{Method: "cheque", Reason: "no"},
			map[string]apperr.FieldCode{"payment_id": apperr.FieldRequired, "amount": apperr.FieldOutOfRange, "method": apperr.FieldNotAllowed, "reason": apperr.FieldTooShort}},
		{"waiver", fees.NewWaiver{},
			map[string]apperr.FieldCode{"instalment_id": apperr.FieldRequired, "amount": apperr.FieldOutOfRange, "reason": apperr.FieldRequired}},
		{"concession", fees.NewConcession{},
			map[string]apperr.FieldCode{"kind": apperr.FieldRequired, "reason": apperr.FieldRequired}},
		{"assignment", fees.NewAssignment{PlanID: "x"},
			map[string]apperr.FieldCode{"enrolment_id": apperr.FieldRequired, "plan_id": apperr.FieldFormat}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := apperr.As(tt.in.Validate())
			if e == nil || e.Code != apperr.Invalid {
				t.Fatalf("Validate() = %v, want Invalid", e)
			}
			got := map[string]apperr.FieldCode{}
			for _, fe := range e.Errors {
				got[fe.Field] = fe.Code
				if fe.Message == "" || e.FieldMessage(fe.Field) == "" {
					t.Errorf("%s has no message", fe.Field)
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("errors = %v, want %v", got, tt.want)
			}
		})
	}
}
