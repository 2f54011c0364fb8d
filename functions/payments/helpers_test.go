package payments_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/loopback"
)

type ids struct {
	ID  string `json:"id"`
	PRN string `json:"prn"`
}

// school is one institution with a student owing a three-instalment plan of 3,000.00 (INR, paise), and
// a Razorpay account at the stand-in.
type school struct {
	env                             *apptest.Env
	slug                            string
	owner, accountant, teacher      string
	student, studentToken, student2 string
	studentPRN                      string
	branch                          string
	rzp                             loopback.RazorpayAccount
}

// newSchool provisions slug in env (a new Env when env is nil).
func newSchool(t testing.TB, env *apptest.Env, slug string, extra ...string) *school {
	t.Helper()
	if env == nil {
		env = apptest.New(t, extra...)
	}
	s := &school{env: env, slug: slug}
	env.Provision(slug)
	s.owner = env.Login(slug, "owner@"+slug+".test").AccessToken
	s.branch = apptest.Call[ids](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "MAIN", "name": "Main"}, 201).ID
	for _, u := range []struct{ email, role string }{{"acc@" + slug + ".test", "accountant"}, {"teach@" + slug + ".test", "teacher"}} {
		apptest.Call[ids](t, env, "POST", "/users/staff", s.owner, map[string]any{"email": u.email, "name": u.role, "role": u.role,
			"branches": []string{s.branch}, "password": apptest.Password}, 201)
	}
	s.accountant = env.Login(slug, "acc@"+slug+".test").AccessToken
	s.teacher = env.Login(slug, "teach@"+slug+".test").AccessToken
	course := apptest.Call[ids](t, env, "POST", "/academic/courses", s.owner, map[string]any{"code": "JEE-27", "name": "JEE", "subjects": []string{"Physics"}}, 201).ID
	batch := apptest.Call[ids](t, env, "POST", "/academic/batches", s.owner, map[string]any{
		"course_id": course, "branch_id": s.branch, "name": "Morning", "teachers": []string{}, "capacity": 50,
		"start_date": "2026-06-01", "end_date": "2026-08-31", "schedule": []map[string]any{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}},
	}, 201).ID
	plan := apptest.Call[ids](t, env, "POST", "/fees/plans", s.accountant, map[string]any{"name": "Plan", "total": 300000,
		"schedule": map[string]any{"kind": "count", "count": 3}}, 201).ID
	admit := func(name, phone string) ids {
		st := apptest.Call[ids](t, env, "POST", "/students/", s.owner, map[string]any{"name": name, "date_of_birth": "2010-01-01",
			"phone": phone, "branch_id": s.branch, "password": apptest.Password}, 201)
		enr := apptest.Call[ids](t, env, "POST", "/students/enrolments", s.owner, map[string]any{"student_id": st.ID, "batch_id": batch, "from": "2026-06-01"}, 201).ID
		apptest.Call[fees.AssignmentView](t, env, "POST", "/fees/assignments", s.accountant, map[string]any{"enrolment_id": enr, "plan_id": plan}, 201)
		return st
	}
	first := admit("Asha Rao", "+919800000001")
	s.student, s.studentPRN = first.ID, first.PRN
	s.student2 = admit("Vikram Iyer", "+919800000002").ID
	s.signIn(t)
	s.rzp = loopback.RazorpayAccount{KeyID: "rzp_test_" + slug, KeySecret: "secret-" + slug + "-0123", WebhookSecret: "whsec-" + slug + "-0123"}
	env.Razorpay.AddAccount(s.rzp)
	apptest.MustStatus(t, env.Do("PUT", "/payments/accounts/razorpay", s.owner, map[string]any{"mode": "test", "key_id": s.rzp.KeyID,
		"key_secret": s.rzp.KeySecret, "webhook_secret": s.rzp.WebhookSecret}), http.StatusOK)
	return s
}

// signIn signs everyone in again: after the clock moves past the tokens' life.
func (s *school) signIn(t testing.TB) {
	t.Helper()
	s.owner = s.env.Login(s.slug, "owner@"+s.slug+".test").AccessToken
	s.accountant = s.env.Login(s.slug, "acc@"+s.slug+".test").AccessToken
	s.teacher = s.env.Login(s.slug, "teach@"+s.slug+".test").AccessToken
	rec := s.env.Do("POST", "/auth/login", "", map[string]string{"prn": s.studentPRN, "password": apptest.Password})
	apptest.MustStatus(t, rec, http.StatusOK)
	s.studentToken = apptest.Decode[apptest.TokenPair](t, rec).AccessToken
}

// request creates a payment request as token with body (student defaults to the school's student).
func (s *school) request(t testing.TB, token string, body map[string]any) payments.Request {
	t.Helper()
	if _, ok := body["student_id"]; !ok {
		body["student_id"] = s.student
	}
	return apptest.Call[payments.Request](t, s.env, "POST", "/payments/requests", token, body, http.StatusCreated)
}

// razorpayHook posts a Razorpay webhook for the school's institution (or path, when not empty).
func (s *school) razorpayHook(t testing.TB, path string, body []byte, signature, eventID string) *httptest.ResponseRecorder {
	t.Helper()
	if path == "" {
		path = "/razorpay/webhooks/" + s.slug
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(payments.RazorpaySignatureHeader, signature)
	}
	if eventID != "" {
		req.Header.Set(payments.RazorpayEventIDHeader, eventID)
	}
	rec := httptest.NewRecorder()
	s.env.Handler.ServeHTTP(rec, req)
	return rec
}

func outcome(t testing.TB, rec *httptest.ResponseRecorder) payments.Outcome {
	t.Helper()
	apptest.MustStatus(t, rec, http.StatusOK)
	var a payments.WebhookAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	return a.Outcome
}

// paymentsOf returns the fees payments of the school's student.
func (s *school) paymentsOf(t testing.TB, student string) []fees.Payment {
	t.Helper()
	return apptest.Call[struct {
		Items []fees.Payment `json:"items"`
	}](t, s.env, "GET", "/fees/payments?student="+student, s.accountant, nil, http.StatusOK).Items
}

func (s *school) count(t testing.TB, coll string) int64 {
	t.Helper()
	n, err := s.env.TenantDB(s.slug).Collection(coll).CountDocuments(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *school) dues(t testing.TB) fees.StudentDues {
	t.Helper()
	return apptest.Call[fees.StudentDues](t, s.env, "GET", "/fees/dues/students/"+s.student, s.accountant, nil, http.StatusOK)
}
