package all_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
)

// TestSelfService signs in as a student and as a guardian of two children of the seeded demo
// institution: each reads their own (a guardian: each child's) profile, enrolments, timetable, attendance,
// tests and results, dues, assignments, payments and learning progress; another student's read as not
// found, and the institution's fee plans are refused.
func TestSelfService(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a whole institution; run without -short")
	}
	env := apptest.New(t)
	if _, _, err := seed.Demo(context.Background(), env.App, apptest.Password); err != nil {
		t.Fatalf("seed: %v", err)
	}
	type person struct {
		ID string `json:"id"`
	}
	owner := env.Login(seed.DemoSlug, "owner@demo.test").AccessToken
	student := env.Login(seed.DemoSlug, "student@demo.test").AccessToken
	mine := apptest.Items[person](t, env, "GET", "/students/", student, nil, http.StatusOK)
	if len(mine) != 1 {
		t.Fatalf("the student lists %d students, want only themself", len(mine))
	}
	me := mine[0].ID
	everyone := apptest.Items[person](t, env, "GET", "/students/?limit=200", owner, nil, http.StatusOK)
	others := slices.DeleteFunc(slices.Clone(everyone), func(p person) bool { return p.ID == me })
	if len(others) < 2 {
		t.Fatalf("the demo has %d other students", len(others))
	}
	sibling, stranger := others[0].ID, others[1].ID
	// The demo guardian becomes the guardian of a second child, found by their email.
	apptest.MustStatus(t, env.Do("POST", "/students/guardians", owner, map[string]string{"student_id": sibling, "email": "parent@demo.test"}), http.StatusCreated)
	guardian := env.Login(seed.DemoSlug, "parent@demo.test").AccessToken
	children := apptest.Items[person](t, env, "GET", "/students/", guardian, nil, http.StatusOK)
	if ids := []string{children[0].ID, children[len(children)-1].ID}; len(children) != 2 || !slices.Contains(ids, me) || !slices.Contains(ids, sibling) {
		t.Fatalf("the guardian lists %+v, want their two children", children)
	}

	reads := func(id string) []string {
		return []string{
			"/students/" + id, "/students/enrolments?student=" + id, "/students/timetable?student=" + id,
			"/attendance/students/" + id + "/marks", "/attendance/students/" + id + "/summary",
			"/exams/students/" + id + "/tests",
			"/fees/dues/students/" + id, "/fees/assignments?student=" + id, "/fees/payments?student=" + id,
			"/learning/progress/students/" + id,
		}
	}
	for _, tt := range []struct {
		who     string
		token   string
		own     []string
		refused []string
	}{
		{"student", student, []string{me}, []string{sibling, stranger}},
		{"guardian", guardian, []string{me, sibling}, []string{stranger}},
	} {
		t.Run(tt.who, func(t *testing.T) {
			for _, id := range tt.own {
				for _, path := range reads(id) {
					apptest.MustStatus(t, env.Do("GET", path, tt.token, nil), http.StatusOK)
				}
			}
			for _, id := range tt.refused {
				for _, path := range reads(id) {
					apptest.MustProblem(t, env.Do("GET", path, tt.token, nil), http.StatusNotFound, "not_found")
				}
			}
			apptest.MustProblem(t, env.Do("GET", "/fees/plans", tt.token, nil), http.StatusForbidden, "forbidden")
			apptest.MustProblem(t, env.Do("GET", "/fees/plans/"+stranger, tt.token, nil), http.StatusForbidden, "forbidden")
		})
	}

	// The timetable is the sessions of the student's batches ahead, in start order.
	type enrolment struct {
		BatchID string `json:"batch_id"`
	}
	var batches []string
	for _, e := range apptest.Items[enrolment](t, env, "GET", "/students/enrolments?student="+me, student, nil, http.StatusOK) {
		batches = append(batches, e.BatchID)
	}
	type session struct {
		ID        string    `json:"id"`
		BatchID   string    `json:"batch_id"`
		BatchName string    `json:"batch_name"`
		StartsAt  time.Time `json:"starts_at"`
	}
	timetable := apptest.Items[session](t, env, "GET", "/students/timetable?student="+me+"&limit=200", student, nil, http.StatusOK)
	if len(timetable) == 0 || len(batches) == 0 {
		t.Fatalf("timetable %d sessions for batches %v, want some", len(timetable), batches)
	}
	for i, ses := range timetable {
		if !slices.Contains(batches, ses.BatchID) || ses.BatchName == "" || (i > 0 && ses.StartsAt.Before(timetable[i-1].StartsAt)) {
			t.Fatalf("timetable[%d] = %+v: want a session of %v, named, in start order", i, ses, batches)
		}
	}
	firstTwo := apptest.Call[apptest.Page[session]](t, env, "GET", "/students/timetable?student="+me+"&limit=2", guardian, nil, http.StatusOK)
	if len(timetable) > 2 && (len(firstTwo.Items) != 2 || firstTwo.Items[0].ID != timetable[0].ID || firstTwo.NextCursor == "") {
		t.Errorf("first page of two = %+v", firstTwo)
	}
	p := apptest.MustProblem(t, env.Do("GET", "/students/timetable?student="+me+"&from=2026-06-01&to=2026-12-31", student, nil), http.StatusBadRequest, "invalid")
	if p.FieldCode("to") != "out_of_range" {
		t.Errorf("a range of seven months: %+v", p.Errors)
	}
	p = apptest.MustProblem(t, env.Do("GET", "/students/timetable?student="+me+"&from=June&to=July", student, nil), http.StatusBadRequest, "invalid")
	if p.FieldCode("from") != "format" || p.FieldCode("to") != "format" {
		t.Errorf("two bad dates: %+v", p.Errors)
	}

	// Tests: those of the student's batches, each with the student's result once entered.
	type studentTest struct {
		Test struct {
			ID      string `json:"id"`
			BatchID string `json:"batch_id"`
			Date    string `json:"date"`
		} `json:"test"`
		Result *struct {
			Status string `json:"status"`
		} `json:"result"`
	}
	tests := apptest.Items[studentTest](t, env, "GET", "/exams/students/"+me+"/tests?limit=200", student, nil, http.StatusOK)
	if len(tests) == 0 {
		t.Fatal("the demo student has no tests")
	}
	for i, st := range tests {
		if !slices.Contains(batches, st.Test.BatchID) || (i > 0 && st.Test.Date < tests[i-1].Test.Date) {
			t.Fatalf("tests[%d] = %+v: want a test of %v, in date order", i, st, batches)
		}
	}

	// Staff lists stay closed to them, even of their own batch and test.
	for _, token := range []string{student, guardian} {
		for path, status := range map[string]int{
			"/academic/batches":                              http.StatusForbidden,
			"/academic/batches/" + batches[0] + "/sessions":  http.StatusForbidden,
			"/exams/tests/" + tests[0].Test.ID + "/results":  http.StatusForbidden,
			"/students/batches/" + batches[0] + "/roster":    http.StatusNotFound,
			"/attendance/batches/" + batches[0] + "/summary": http.StatusForbidden,
			"/exams/batches/" + batches[0] + "/ranking":      http.StatusForbidden,
			"/learning/progress/batches/" + batches[0]:       http.StatusNotFound,
		} {
			if rec := env.Do("GET", path, token, nil); rec.Code != status {
				t.Errorf("GET %s = %d, want %d", path, rec.Code, status)
			}
		}
	}
}
