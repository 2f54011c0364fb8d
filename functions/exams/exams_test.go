package exams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/exams"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/audit"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type test struct {
	ID       string  `json:"id"`
	BatchID  string  `json:"batch_id"`
	BranchID string  `json:"branch_id"`
	CourseID string  `json:"course_id"`
	Subject  string  `json:"subject"`
	Name     string  `json:"name"`
	Date     string  `json:"date"`
	MaxMarks float64 `json:"max_marks"`
	Weight   float64 `json:"weight"`
}

type result struct {
	TestID      string   `json:"test_id"`
	StudentID   string   `json:"student_id"`
	Status      string   `json:"status"`
	Marks       *float64 `json:"marks"`
	MaxMarks    float64  `json:"max_marks"`
	StudentPRN  string   `json:"student_prn"`
	StudentName string   `json:"student_name"`
}

type outcome struct {
	TestID    string   `json:"test_id"`
	Created   int      `json:"created"`
	Changed   int      `json:"changed"`
	Unchanged int      `json:"unchanged"`
	Results   []result `json:"results"`
}

type standing struct {
	Rank       int     `json:"rank"`
	StudentID  string  `json:"student_id"`
	StudentPRN string  `json:"student_prn"`
	Percent    float64 `json:"percent"`
	Grade      string  `json:"grade"`
}

type ranking struct {
	BatchID  string     `json:"batch_id"`
	From     string     `json:"from"`
	To       string     `json:"to"`
	Students []standing `json:"students"`
}

type reportCard struct {
	StudentID string `json:"student_id"`
	BatchID   string `json:"batch_id"`
	From      string `json:"from"`
	To        string `json:"to"`
	Subjects  []struct {
		Subject string   `json:"subject"`
		Percent *float64 `json:"percent"`
		Grade   string   `json:"grade"`
		Tests   []struct {
			TestID  string   `json:"test_id"`
			Status  string   `json:"status"`
			Marks   *float64 `json:"marks"`
			Percent *float64 `json:"percent"`
		} `json:"tests"`
	} `json:"subjects"`
	Percent        *float64 `json:"percent"`
	Grade          string   `json:"grade"`
	Rank           *int     `json:"rank"`
	RankedStudents int      `json:"ranked_students"`
	GradingScale   scale    `json:"grading_scale"`
}

type band struct {
	Grade      string  `json:"grade"`
	MinPercent float64 `json:"min_percent"`
}

type scale struct {
	Bands   []band `json:"bands"`
	Default bool   `json:"default"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type person struct {
	ID        string `json:"id"`
	PRN       string `json:"prn"`
	AccountID string `json:"account_id"`
}

type auditEntry struct {
	Action  string          `json:"action"`
	Details json.RawMessage `json:"details"`
}

const missingID = "0123456789abcdef01234567"

type m = map[string]any

// school is a tenant with branches A and B, a teacher and a batch (June 2026) of course JEE (Physics,
// Chemistry) in each, five students of A enrolled in batch A (the first with a guardian), a student of A
// enrolled nowhere and a student of B enrolled in batch B. The clock stands on Monday 1 June 2026, 14:30
// in the tenant's zone (Asia/Kolkata).
type school struct {
	env                *apptest.Env
	slug               string
	owner              string
	teacherA, teacherB string
	branchA, branchB   string
	batchA, batchB     string
	s                  [5]person // batch A
	loner, b1          person
	g1                 person
}

func newSchool(t *testing.T) *school {
	t.Helper()
	env := apptest.New(t)
	s := &school{env: env, slug: "alpha"}
	env.Provision(s.slug)
	s.owner = env.Login(s.slug, "owner@alpha.test").AccessToken
	s.branchA = apptest.Call[person](t, env, "POST", "/users/branches", s.owner, m{"code": "AA", "name": "Branch A"}, 201).ID
	s.branchB = apptest.Call[person](t, env, "POST", "/users/branches", s.owner, m{"code": "BB", "name": "Branch B"}, 201).ID
	teacher := func(email, branch string) string {
		return apptest.Call[person](t, env, "POST", "/users/staff", s.owner, m{"email": email, "name": email, "role": "teacher",
			"branches": []string{branch}, "password": apptest.Password}, 201).ID
	}
	ta, tb := teacher("ta@alpha.test", s.branchA), teacher("tb@alpha.test", s.branchB)
	s.teacherA = env.Login(s.slug, "ta@alpha.test").AccessToken
	s.teacherB = env.Login(s.slug, "tb@alpha.test").AccessToken
	course := apptest.Call[person](t, env, "POST", "/academic/courses", s.owner, m{"code": "JEE", "name": "JEE", "subjects": []string{"Physics", "Chemistry"}}, 201).ID
	batch := func(branch, teacher string) string {
		return apptest.Call[person](t, env, "POST", "/academic/batches", s.owner, m{
			"course_id": course, "branch_id": branch, "name": "Batch", "teachers": []string{teacher}, "capacity": 60,
			"start_date": "2026-06-01", "end_date": "2026-06-30", "schedule": []m{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}},
		}, 201).ID
	}
	s.batchA, s.batchB = batch(s.branchA, ta), batch(s.branchB, tb)
	student := func(name, branch, batch string) person {
		st := apptest.Call[person](t, env, "POST", "/students/", s.owner, m{
			"name": name, "date_of_birth": "2010-04-05", "phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password,
		}, 201)
		if batch != "" {
			apptest.Call[person](t, env, "POST", "/students/enrolments", s.owner, m{"student_id": st.ID, "batch_id": batch, "from": "2026-06-01"}, 201)
		}
		return st
	}
	for i := range s.s {
		s.s[i] = student(fmt.Sprintf("Student %d", i+1), s.branchA, s.batchA)
	}
	s.loner = student("Dev Loner", s.branchA, "")
	s.b1 = student("Esha Bee", s.branchB, s.batchB)
	s.g1 = apptest.Call[person](t, env, "POST", "/students/guardians", s.owner, m{
		"student_id": s.s[0].ID, "name": "Parent One", "email": "g1@example.com", "password": apptest.Password,
	}, 201)
	return s
}

// advance moves the clock on and signs the staff in again, since access tokens live 15 minutes.
func (s *school) advance(t *testing.T, d time.Duration) {
	t.Helper()
	s.env.Clock.Advance(d)
	s.owner = s.env.Login(s.slug, "owner@alpha.test").AccessToken
	s.teacherA = s.env.Login(s.slug, "ta@alpha.test").AccessToken
	s.teacherB = s.env.Login(s.slug, "tb@alpha.test").AccessToken
}

// login signs a student or guardian in with their PRN.
func (s *school) login(t *testing.T, prn string) string {
	t.Helper()
	// Every apptest request comes from one address; a minute keeps many logins under its rate limit.
	s.env.Clock.Advance(time.Minute)
	rec := s.env.Do("POST", "/auth/login", "", map[string]string{"prn": prn, "password": apptest.Password})
	apptest.MustStatus(t, rec, http.StatusOK)
	return apptest.Decode[apptest.TokenPair](t, rec).AccessToken
}

func (s *school) newTest(t *testing.T, batch, subject, date string, maxMarks, weight float64) test {
	t.Helper()
	return apptest.Call[test](t, s.env, "POST", "/exams/tests", s.owner, m{"batch_id": batch, "subject": subject, "name": subject + " " + date,
		"date": date, "max_marks": maxMarks, "weight": weight}, 201)
}

func results(entries ...m) m { return m{"results": entries} }

func present(st person, marks float64) m {
	return m{"student_id": st.ID, "status": "present", "marks": marks}
}
func absent(st person) m { return m{"student_id": st.ID, "status": "absent"} }
func exempt(st person) m { return m{"student_id": st.ID, "status": "exempt"} }

func (s *school) enter(t *testing.T, token, testID string, entries ...m) outcome {
	t.Helper()
	return apptest.Call[outcome](t, s.env, "PUT", "/exams/tests/"+testID+"/results", token, results(entries...), 200)
}

func (s *school) count(t *testing.T, collection string) int64 {
	t.Helper()
	n, err := s.env.TenantDB(s.slug).Collection(collection).CountDocuments(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateTest(t *testing.T) {
	s := newSchool(t)
	env := s.env
	valid := func() m {
		return m{"batch_id": s.batchA, "subject": "Physics", "name": "Unit test 1", "date": "2026-06-08", "max_marks": 50}
	}
	with := func(k string, v any) m { b := valid(); b[k] = v; return b }
	without := func(k string) m { b := valid(); delete(b, k); return b }
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no batch":          {without("batch_id"), "batch_id"},
		"bad batch id":      {with("batch_id", "x"), "batch_id"},
		"no subject":        {with("subject", "  "), "subject"},
		"no name":           {without("name"), "name"},
		"bad date":          {with("date", "8 June"), "date"},
		"zero max":          {with("max_marks", 0), "max_marks"},
		"negative max":      {with("max_marks", -5), "max_marks"},
		"three decimals":    {with("max_marks", 10.005), "max_marks"},
		"huge max":          {with("max_marks", 1e6), "max_marks"},
		"zero weight":       {with("weight", 0), "weight"},
		"huge weight":       {with("weight", 1000), "weight"},
		"before the batch":  {with("date", "2026-05-31"), "date"},
		"after the batch":   {with("date", "2026-07-01"), "date"},
		"not a subject":     {with("subject", "Biology"), "subject"},
		"unknown field":     {with("branch_id", s.branchA), ""},
		"operator":          {with("subject", m{"$ne": ""}), ""},
		"string max marks":  {with("max_marks", "50"), ""},
		"top-level list":    {[]any{valid()}, ""},
		"trailing document": {`{"batch_id":"` + s.batchA + `"} {}`, ""},
	} {
		p := apptest.MustProblem(t, env.Do("POST", "/exams/tests", s.owner, tc.body), http.StatusBadRequest, "invalid")
		if tc.field != "" && p.Fields[tc.field] == "" {
			t.Errorf("%s: problem %+v does not name %s", name, p, tc.field)
		}
	}
	// Every bad field at once.
	p := apptest.MustProblem(t, env.Do("POST", "/exams/tests", s.owner, m{"subject": "", "name": "Unit", "date": "June", "max_marks": 0, "weight": 1000}), http.StatusBadRequest, "invalid")
	for field, code := range map[string]string{"batch_id": "required", "subject": "required", "date": "format", "max_marks": "out_of_range", "weight": "out_of_range"} {
		if p.FieldCode(field) != code {
			t.Errorf("errors %+v, want %s %s", p.Errors, field, code)
		}
	}
	if len(p.Errors) != 5 {
		t.Errorf("errors %+v, want exactly the five bad fields", p.Errors)
	}
	// Batches the caller may not see, and none at all, read as not found.
	apptest.MustProblem(t, env.Do("POST", "/exams/tests", s.teacherB, valid()), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("POST", "/exams/tests", s.owner, with("batch_id", missingID)), http.StatusNotFound, "not_found")
	if n := s.count(t, exams.TestsCollection); n != 0 {
		t.Fatalf("%d tests written by refused requests", n)
	}

	got := apptest.Call[test](t, env, "POST", "/exams/tests", s.teacherA, with("max_marks", 87.35), 201)
	if got.ID == "" || got.BatchID != s.batchA || got.BranchID != s.branchA || got.CourseID == "" || got.Subject != "Physics" ||
		got.Date != "2026-06-08" || got.MaxMarks != 87.35 || got.Weight != 1 {
		t.Fatalf("created test = %+v, want weight 1 by default", got)
	}
	if again := apptest.Call[test](t, env, "GET", "/exams/tests/"+got.ID, s.teacherA, nil, 200); again != got {
		t.Errorf("read back %+v, want %+v", again, got)
	}
	// The stored document keeps the warehouse's contract.
	var raw bson.M
	if err := s.env.TenantDB(s.slug).Collection(exams.TestsCollection).FindOne(context.Background(), bson.M{"_id": got.ID}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"batch_id", "branch_id", "course_id", "subject", "name", "date", "max_marks", "weight", "created_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stored test lacks %s: %v", k, raw)
		}
	}
	if _, ok := raw["max_marks"].(float64); !ok {
		t.Errorf("max_marks stored as %T, want a double", raw["max_marks"])
	}
}

func TestListTestsScope(t *testing.T) {
	s := newSchool(t)
	env := s.env
	var inA []string
	for _, d := range []string{"2026-06-01", "2026-06-08", "2026-06-15"} {
		inA = append(inA, s.newTest(t, s.batchA, "Physics", d, 50, 1).ID)
	}
	chem := s.newTest(t, s.batchA, "Chemistry", "2026-06-08", 50, 1).ID
	inB := s.newTest(t, s.batchB, "Physics", "2026-06-08", 50, 1).ID

	// Page by page, nobody twice and nobody left out.
	var paged []string
	for cursor, n := "", 0; n == 0 || cursor != ""; n++ {
		p := apptest.Call[page[test]](t, env, "GET", "/exams/tests?limit=2&cursor="+cursor, s.owner, nil, 200)
		if n > 3 {
			t.Fatalf("too many pages: %+v", p)
		}
		for _, x := range p.Items {
			paged = append(paged, x.ID)
		}
		cursor = p.NextCursor
	}
	want := append(slices.Clone(inA), chem, inB)
	slices.Sort(paged)
	slices.Sort(want)
	if !slices.Equal(paged, want) {
		t.Errorf("owner's tests %v, want %v", paged, want)
	}
	ids := func(p page[test]) []string {
		var out []string
		for _, x := range p.Items {
			out = append(out, x.ID)
		}
		return out
	}
	if got := ids(apptest.Call[page[test]](t, env, "GET", "/exams/tests", s.teacherB, nil, 200)); !slices.Equal(got, []string{inB}) {
		t.Errorf("teacher B sees %v, want only batch B's test", got)
	}
	if got := ids(apptest.Call[page[test]](t, env, "GET", "/exams/tests?batch="+s.batchA+"&subject=Physics&from=2026-06-02&to=2026-06-15", s.teacherA, nil, 200)); !slices.Equal(got, inA[1:]) {
		t.Errorf("filtered tests %v, want %v", got, inA[1:])
	}
	apptest.MustProblem(t, env.Do("GET", "/exams/tests?batch="+s.batchA, s.teacherB, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/tests/"+inA[0], s.teacherB, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/tests?from=June", s.owner, nil), http.StatusBadRequest, "invalid")
}

func TestResultsAreAllOrNothing(t *testing.T) {
	s := newSchool(t)
	env := s.env
	tst := s.newTest(t, s.batchA, "Physics", "2026-06-01", 50, 1)
	path := "/exams/tests/" + tst.ID + "/results"

	// Students not enrolled in the batch that day: one of the branch, one of another batch, one unknown.
	rec := env.Do("PUT", path, s.teacherA, results(present(s.s[0], 40), absent(s.loner), present(s.b1, 10), m{"student_id": missingID, "status": "exempt"}))
	p := apptest.MustProblem(t, rec, http.StatusBadRequest, "invalid")
	for _, id := range []string{s.loner.ID, s.b1.ID, missingID} {
		if !strings.Contains(p.Detail, id) {
			t.Errorf("detail %q does not name %s", p.Detail, id)
		}
	}
	if strings.Contains(p.Detail, s.s[0].ID) || p.Fields["results[1].student_id"] == "" || p.Fields["results[3].student_id"] == "" || p.Fields["results[0].student_id"] != "" {
		t.Errorf("problem = %+v, want exactly the three strangers named", p)
	}
	// Marks above the maximum: every one named.
	p = apptest.MustProblem(t, env.Do("PUT", path, s.teacherA, results(present(s.s[0], 50.01), present(s.s[1], 50), present(s.s[2], 51))), http.StatusBadRequest, "invalid")
	if p.Fields["results[0].marks"] == "" || p.Fields["results[2].marks"] == "" || p.Fields["results[1].marks"] != "" {
		t.Errorf("problem = %+v, want results 0 and 2 named", p)
	}
	for name, body := range map[string]any{
		"no results":        results(),
		"bad status":        results(m{"student_id": s.s[0].ID, "status": "late"}),
		"present, no marks": results(m{"student_id": s.s[0].ID, "status": "present"}),
		"absent with marks": results(m{"student_id": s.s[0].ID, "status": "absent", "marks": 0}),
		"exempt with marks": results(m{"student_id": s.s[0].ID, "status": "exempt", "marks": 10}),
		"negative marks":    results(present(s.s[0], -1)),
		"three decimals":    results(present(s.s[0], 10.125)),
		"twice":             results(present(s.s[0], 10), absent(s.s[0])),
		"bad id":            results(m{"student_id": "x", "status": "absent"}),
		"unknown field":     results(m{"student_id": s.s[0].ID, "status": "absent", "test_id": tst.ID}),
		"operator":          `{"results":[{"student_id":{"$ne":""},"status":"absent"}]}`,
		"string marks":      `{"results":[{"student_id":"` + s.s[0].ID + `","status":"present","marks":"40"}]}`,
	} {
		if rec := env.Do("PUT", path, s.teacherA, body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; body %s", name, rec.Code, rec.Body)
		}
	}
	// A test still ahead takes no results; others' tests and none at all read as not found.
	ahead := s.newTest(t, s.batchA, "Physics", "2026-06-02", 50, 1)
	apptest.MustProblem(t, env.Do("PUT", "/exams/tests/"+ahead.ID+"/results", s.teacherA, results(present(s.s[0], 1))), http.StatusConflict, "conflict")
	apptest.MustProblem(t, env.Do("PUT", path, s.teacherB, results(present(s.s[0], 1))), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("PUT", "/exams/tests/"+missingID+"/results", s.teacherA, results(present(s.s[0], 1))), http.StatusNotFound, "not_found")
	if n := s.count(t, exams.ResultsCollection); n != 0 {
		t.Fatalf("%d results written by refused requests", n)
	}

	out := s.enter(t, s.teacherA, tst.ID, present(s.s[0], 42.5), absent(s.s[1]), exempt(s.s[2]), present(s.s[3], 0))
	if out.Created != 4 || out.Changed != 0 || out.Unchanged != 0 || len(out.Results) != 4 || *out.Results[0].Marks != 42.5 || out.Results[1].Marks != nil {
		t.Fatalf("entry = %+v", out)
	}
	got := apptest.Items[result](t, env, "GET", path, s.teacherA, nil, 200)
	if len(got) != 4 || s.count(t, exams.ResultsCollection) != 4 {
		t.Fatalf("stored results = %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].StudentPRN >= got[i].StudentPRN {
			t.Errorf("results not in PRN order: %+v", got)
		}
	}
	// The stored documents keep the warehouse's contract: one per (test, student), marks only when present.
	var raw []bson.M
	cur, err := s.env.TenantDB(s.slug).Collection(exams.ResultsCollection).Find(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(context.Background(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, d := range raw {
		if d["_id"] != tst.ID+":"+d["student_id"].(string) || d["test_id"] != tst.ID || d["batch_id"] != s.batchA || d["branch_id"] != s.branchA ||
			d["subject"] != "Physics" || d["date"] != "2026-06-01" || d["max_marks"] != 50.0 || d["course_id"] == nil || d["updated_at"] == nil {
			t.Errorf("stored result %v", d)
		}
		if _, has := d["marks"]; has != (d["status"] == "present") {
			t.Errorf("stored result %v: marks present iff status is present", d)
		}
	}
}

func TestResultEditsAreAudited(t *testing.T) {
	s := newSchool(t)
	env := s.env
	tst := s.newTest(t, s.batchA, "Physics", "2026-06-01", 50, 1)
	s.enter(t, s.teacherA, tst.ID, present(s.s[0], 40), absent(s.s[1]), present(s.s[2], 30))

	s.advance(t, time.Hour)
	out := s.enter(t, s.owner, tst.ID, present(s.s[0], 45.5), present(s.s[1], 20), present(s.s[2], 30.00), exempt(s.s[3]))
	if out.Created != 1 || out.Changed != 2 || out.Unchanged != 1 {
		t.Fatalf("edit = %+v, want 1 created, 2 changed, 1 unchanged", out)
	}
	// Given again as it stands: nothing is written or audited.
	if again := s.enter(t, s.owner, tst.ID, present(s.s[0], 45.5)); again.Unchanged != 1 || again.Changed != 0 {
		t.Fatalf("repeat = %+v", again)
	}
	entries := apptest.Items[auditEntry](t, env, "GET", "/users/audit?kind=exam_test&id="+tst.ID, s.owner, nil, 200)
	if len(entries) != 1 || entries[0].Action != exams.AuditAction {
		t.Fatalf("audit = %+v, want one entry for the one editing request", entries)
	}
	var details struct {
		Changes []struct {
			StudentID string `json:"student_id"`
			Before    struct {
				Status string   `json:"status"`
				Marks  *float64 `json:"marks"`
			} `json:"before"`
			After struct {
				Status string   `json:"status"`
				Marks  *float64 `json:"marks"`
			} `json:"after"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(entries[0].Details, &details); err != nil {
		t.Fatal(err)
	}
	cs := details.Changes
	if len(cs) != 2 || cs[0].StudentID != s.s[0].ID || *cs[0].Before.Marks != 40 || *cs[0].After.Marks != 45.5 ||
		cs[1].StudentID != s.s[1].ID || cs[1].Before.Status != "absent" || cs[1].Before.Marks != nil || cs[1].After.Status != "present" || *cs[1].After.Marks != 20 {
		t.Errorf("audited changes = %+v", entries[0].Details)
	}
	if strings.Contains(string(entries[0].Details), s.s[2].ID) || strings.Contains(string(entries[0].Details), s.s[3].ID) {
		t.Errorf("audit names unchanged or new results: %s", entries[0].Details)
	}

	// The chain verifies, through the API and directly.
	if rep := apptest.Call[audit.Report](t, env, "GET", "/users/audit/verify", s.owner, nil, 200); !rep.OK {
		t.Errorf("audit chain broken: %+v", rep)
	}
	rep, err := audit.Verify(context.Background(), s.env.TenantDB(s.slug))
	if err != nil || !rep.OK || rep.Entries == 0 {
		t.Errorf("audit.Verify = %+v, %v", rep, err)
	}
}

// The ranking is competition ranking on exact percentages: s5 100 %; s1, s3 and s4 83.75 % (s3 by other
// marks whose float sum is not 3.35); s2 50 %.
func TestRankTiesAreDeterministic(t *testing.T) {
	s := newSchool(t)
	env := s.env
	p1 := s.newTest(t, s.batchA, "Physics", "2026-06-01", 50, 1)
	p2 := s.newTest(t, s.batchA, "Physics", "2026-06-03", 100, 2)
	c1 := s.newTest(t, s.batchA, "Chemistry", "2026-06-05", 40, 1)
	s.advance(t, 5*24*time.Hour)
	s1, s2, s3, s4, s5 := s.s[0], s.s[1], s.s[2], s.s[3], s.s[4]
	s.enter(t, s.teacherA, p1.ID, present(s1, 40), absent(s2), present(s3, 50), present(s4, 40), present(s5, 50))
	s.enter(t, s.teacherA, p2.ID, present(s1, 90), exempt(s2), present(s3, 67.5), present(s4, 90), present(s5, 100))
	s.enter(t, s.teacherA, c1.ID, present(s1, 30), present(s2, 40), present(s3, 40), present(s4, 30), present(s5, 40))

	want := []standing{
		{1, s5.ID, s5.PRN, 100, "A+"},
		{2, s1.ID, s1.PRN, 83.75, "A"},
		{2, s3.ID, s3.PRN, 83.75, "A"},
		{2, s4.ID, s4.PRN, 83.75, "A"},
		{5, s2.ID, s2.PRN, 50, "C"},
	}
	var first []standing
	for run := range 2 {
		rk := apptest.Call[ranking](t, env, "GET", "/exams/batches/"+s.batchA+"/ranking", s.teacherA, nil, 200)
		if rk.From != "2026-06-01" || rk.To != "2026-06-30" || !slices.Equal(rk.Students, want) {
			t.Fatalf("run %d: ranking = %+v, want %+v", run, rk, want)
		}
		if run == 1 && !slices.Equal(first, rk.Students) {
			t.Fatalf("second run %+v differs from the first %+v", rk.Students, first)
		}
		first = rk.Students
		for i, w := range []int{2, 2, 2} { // each tied student's own card says the same rank
			card := apptest.Call[reportCard](t, env, "GET", "/exams/students/"+[]person{s1, s3, s4}[i].ID+"/report-card?batch_id="+s.batchA, s.owner, nil, 200)
			if card.Rank == nil || *card.Rank != w || card.RankedStudents != 5 {
				t.Errorf("card of tied student %d: rank %v of %d", i, card.Rank, card.RankedStudents)
			}
		}
	}

	// s2's card: absent counts as 0, exempt counts neither way.
	card := apptest.Call[reportCard](t, env, "GET", "/exams/students/"+s2.ID+"/report-card?batch_id="+s.batchA, s.owner, nil, 200)
	// ?batch= is the parameter's name; the older ?batch_id= (above) answers the same card.
	if renamed := apptest.Call[reportCard](t, env, "GET", "/exams/students/"+s2.ID+"/report-card?batch="+s.batchA, s.owner, nil, 200); !reflect.DeepEqual(renamed, card) {
		t.Errorf("?batch= card %+v differs from ?batch_id= card %+v", renamed, card)
	}
	if card.Percent == nil || *card.Percent != 50 || card.Grade != "C" || card.Rank == nil || *card.Rank != 5 || len(card.Subjects) != 2 {
		t.Fatalf("s2's card = %+v", card)
	}
	chem, phys := card.Subjects[0], card.Subjects[1]
	if chem.Subject != "Chemistry" || *chem.Percent != 100 || chem.Grade != "A+" ||
		phys.Subject != "Physics" || *phys.Percent != 0 || phys.Grade != "F" || len(phys.Tests) != 2 ||
		phys.Tests[0].Status != "absent" || *phys.Tests[0].Percent != 0 || phys.Tests[1].Status != "exempt" || phys.Tests[1].Percent != nil {
		t.Errorf("s2's subjects = %+v", card.Subjects)
	}
	// s1's Physics: (1×80 % + 2×90 %) / 3 = 86.666… %, rounded half up to 86.67.
	card = apptest.Call[reportCard](t, env, "GET", "/exams/students/"+s1.ID+"/report-card?batch_id="+s.batchA, s.owner, nil, 200)
	if *card.Subjects[1].Percent != 86.67 || card.Subjects[1].Grade != "A" || *card.Subjects[0].Percent != 75 || card.Subjects[0].Grade != "B+" {
		t.Errorf("s1's subjects = %+v", card.Subjects)
	}
	// A narrower range drops the Chemistry test: s3 (100 %, 67.5 %×2 → 78.33 %) falls behind s1 and s4 (86.67 %).
	rk := apptest.Call[ranking](t, env, "GET", "/exams/batches/"+s.batchA+"/ranking?to=2026-06-04", s.owner, nil, 200)
	if len(rk.Students) != 5 || rk.Students[0].StudentID != s5.ID || rk.Students[1].StudentID != s1.ID || rk.Students[2].StudentID != s4.ID ||
		rk.Students[2].Rank != 2 || rk.Students[3].StudentID != s3.ID || rk.Students[3].Percent != 78.33 || rk.Students[3].Rank != 4 {
		t.Errorf("ranking to 4 June = %+v", rk.Students)
	}
	for _, q := range []string{"from=2026-06-10&to=2026-06-01", "from=June", "to=2026-13-01"} {
		apptest.MustProblem(t, env.Do("GET", "/exams/batches/"+s.batchA+"/ranking?"+q, s.owner, nil), http.StatusBadRequest, "invalid")
		apptest.MustProblem(t, env.Do("GET", "/exams/students/"+s1.ID+"/report-card?batch_id="+s.batchA+"&"+q, s.owner, nil), http.StatusBadRequest, "invalid")
	}
}

func TestReportCardScope(t *testing.T) {
	s := newSchool(t)
	env := s.env
	tA := s.newTest(t, s.batchA, "Physics", "2026-06-01", 50, 1)
	tB := s.newTest(t, s.batchB, "Physics", "2026-06-01", 50, 1)
	s.enter(t, s.teacherA, tA.ID, present(s.s[0], 40), present(s.s[1], 30))
	s.enter(t, s.teacherB, tB.ID, present(s.b1, 20))
	card := func(student, batch string) string {
		return "/exams/students/" + student + "/report-card?batch_id=" + batch
	}

	// Students and guardians read their own, and nobody else's.
	student := s.login(t, s.s[0].PRN)
	if c := apptest.Call[reportCard](t, env, "GET", card(s.s[0].ID, s.batchA), student, nil, 200); c.Percent == nil || *c.Percent != 80 || c.Rank == nil || *c.Rank != 1 {
		t.Errorf("own card = %+v", c)
	}
	parent := s.login(t, s.g1.PRN)
	apptest.Call[reportCard](t, env, "GET", card(s.s[0].ID, s.batchA), parent, nil, 200)
	for _, tok := range []string{student, parent} {
		for _, path := range []string{card(s.s[1].ID, s.batchA), card(s.b1.ID, s.batchB), card(missingID, s.batchA), card(s.s[0].ID, s.batchB), card(s.s[0].ID, missingID)} {
			apptest.MustProblem(t, env.Do("GET", path, tok, nil), http.StatusNotFound, "not_found")
		}
		for _, path := range []string{"/exams/tests", "/exams/tests/" + tA.ID + "/results", "/exams/batches/" + s.batchA + "/ranking"} {
			apptest.MustProblem(t, env.Do("GET", path, tok, nil), http.StatusForbidden, "forbidden")
		}
		apptest.MustProblem(t, env.Do("PUT", "/exams/tests/"+tA.ID+"/results", tok, results(present(s.s[0], 50))), http.StatusForbidden, "forbidden")
	}
	if c := apptest.Call[scale](t, env, "GET", "/exams/grading-scale", student, nil, 200); !c.Default || len(c.Bands) == 0 {
		t.Errorf("grading scale = %+v", c)
	}

	// Staff: a teacher only with the batches that name them; an accountant not at all.
	apptest.MustProblem(t, env.Do("GET", card(s.s[0].ID, s.batchA), s.teacherB, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/tests/"+tA.ID+"/results", s.teacherB, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/batches/"+s.batchA+"/ranking", s.teacherB, nil), http.StatusNotFound, "not_found")
	apptest.Call[reportCard](t, env, "GET", card(s.b1.ID, s.batchB), s.teacherB, nil, 200)
	// A teacher of the same branch who does not teach the batch is refused too.
	env.Clock.Advance(time.Minute)
	apptest.Call[person](t, env, "POST", "/users/staff", s.owner, m{"email": "tc@alpha.test", "name": "TC", "role": "teacher",
		"branches": []string{s.branchA}, "password": apptest.Password}, 201)
	other := env.Login(s.slug, "tc@alpha.test").AccessToken
	apptest.MustProblem(t, env.Do("PUT", "/exams/tests/"+tA.ID+"/results", other, results(present(s.s[0], 50))), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/tests/"+tA.ID, other, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", card(s.s[0].ID, s.batchA), other, nil), http.StatusNotFound, "not_found")
	if got := apptest.Call[page[test]](t, env, "GET", "/exams/tests", other, nil, 200).Items; len(got) != 0 {
		t.Errorf("a teacher of no batch lists %+v", got)
	}
	// A student never enrolled in the batch has no card there; the batch is required.
	apptest.MustProblem(t, env.Do("GET", card(s.loner.ID, s.batchA), s.owner, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/students/"+s.s[0].ID+"/report-card", s.owner, nil), http.StatusBadRequest, "invalid")
	env.Clock.Advance(time.Minute)
	apptest.Call[person](t, env, "POST", "/users/staff", s.owner, m{"email": "acc@alpha.test", "name": "Acc", "role": "accountant", "password": apptest.Password}, 201)
	accountant := env.Login(s.slug, "acc@alpha.test").AccessToken
	apptest.MustProblem(t, env.Do("GET", card(s.s[0].ID, s.batchA), accountant, nil), http.StatusForbidden, "forbidden")
	apptest.MustProblem(t, env.Do("GET", "/exams/tests", accountant, nil), http.StatusForbidden, "forbidden")

	// Another institution's test, batch and student read as not found, and nothing of theirs changes.
	env.Provision("beta")
	env.Clock.Advance(time.Minute)
	stranger := env.Login("beta", "owner@beta.test").AccessToken
	apptest.MustProblem(t, env.Do("GET", "/exams/tests/"+tA.ID, stranger, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/tests/"+tA.ID+"/results", stranger, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("PUT", "/exams/tests/"+tA.ID+"/results", stranger, results(present(s.s[0], 1))), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", card(s.s[0].ID, s.batchA), stranger, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/exams/batches/"+s.batchA+"/ranking", stranger, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("POST", "/exams/tests", stranger, m{"batch_id": s.batchA, "subject": "Physics", "name": "x", "date": "2026-06-01", "max_marks": 10}), http.StatusNotFound, "not_found")
	if got := apptest.Call[page[test]](t, env, "GET", "/exams/tests", stranger, nil, 200).Items; len(got) != 0 {
		t.Errorf("another institution lists %+v", got)
	}
	if got := apptest.Items[result](t, env, "GET", "/exams/tests/"+tA.ID+"/results", s.owner, nil, 200); len(got) != 2 || *got[0].Marks != 40 {
		t.Errorf("results after the stranger's attempts = %+v", got)
	}
}

func TestGradingScale(t *testing.T) {
	s := newSchool(t)
	env := s.env
	bands := func(bs ...band) m { return m{"bands": bs} }
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no bands":           {bands(), "bands"},
		"too many":           {m{"bands": slices.Repeat([]band{{"A", 0}}, exams.MaxBands+1)}, "bands"},
		"does not reach 0":   {bands(band{"A", 90}, band{"B", 40}), "bands[1].min_percent"},
		"ascending":          {bands(band{"B", 40}, band{"A", 90}, band{"F", 0}), "bands[1].min_percent"},
		"overlap (equal)":    {bands(band{"A", 90}, band{"B", 90}, band{"F", 0}), "bands[1].min_percent"},
		"above 100":          {bands(band{"A", 100.01}, band{"F", 0}), "bands[0].min_percent"},
		"negative":           {bands(band{"A", 50}, band{"F", -1}), "bands[1].min_percent"},
		"three decimals":     {bands(band{"A", 33.333}, band{"F", 0}), "bands[0].min_percent"},
		"empty grade":        {bands(band{" ", 50}, band{"F", 0}), "bands[0].grade"},
		"long grade":         {bands(band{"Outstanding performance", 50}, band{"F", 0}), "bands[0].grade"},
		"grade twice":        {bands(band{"A", 50}, band{"A", 0}), "bands[1].grade"},
		"unknown field":      {m{"bands": []m{{"grade": "A", "min_percent": 0, "max_percent": 100}}}, ""},
		"string min percent": {`{"bands":[{"grade":"A","min_percent":"0"}]}`, ""},
	} {
		p := apptest.MustProblem(t, env.Do("PUT", "/exams/grading-scale", s.owner, tc.body), http.StatusBadRequest, "invalid")
		if tc.field != "" && p.Fields[tc.field] == "" {
			t.Errorf("%s: problem %+v does not name %s", name, p, tc.field)
		}
	}
	apptest.MustProblem(t, env.Do("PUT", "/exams/grading-scale", s.teacherA, bands(band{"P", 0})), http.StatusForbidden, "forbidden")
	if n := s.count(t, exams.GradingCollection); n != 0 {
		t.Fatalf("%d scales written by refused requests", n)
	}
	if sc := apptest.Call[scale](t, env, "GET", "/exams/grading-scale", s.teacherA, nil, 200); !sc.Default || sc.Bands[0] != (band{"A+", 90}) {
		t.Fatalf("default scale = %+v", sc)
	}

	tst := s.newTest(t, s.batchA, "Physics", "2026-06-01", 40, 1)
	s.enter(t, s.teacherA, tst.ID, present(s.s[0], 30), present(s.s[1], 29.99))
	grade := func(st person) string {
		t.Helper()
		return apptest.Call[reportCard](t, env, "GET", "/exams/students/"+st.ID+"/report-card?batch_id="+s.batchA, s.owner, nil, 200).Grade
	}
	if g1, g2 := grade(s.s[0]), grade(s.s[1]); g1 != "B+" || g2 != "B+" {
		t.Errorf("grades on the default scale %s, %s; want B+ (75 %%) and B+ (74.98 %%)", g1, g2)
	}
	set := apptest.Call[scale](t, env, "PUT", "/exams/grading-scale", s.owner, bands(band{" Distinction ", 75}, band{"Pass", 33.33}, band{"Fail", 0}), 200)
	if set.Default || len(set.Bands) != 3 || set.Bands[0].Grade != "Distinction" || set.Bands[1].MinPercent != 33.33 {
		t.Fatalf("set scale = %+v", set)
	}
	// 75 % reaches the band's minimum exactly; 74.975 % rounds to 74.98 % and does not.
	if g1, g2 := grade(s.s[0]), grade(s.s[1]); g1 != "Distinction" || g2 != "Pass" {
		t.Errorf("grades on the new scale %s, %s; want Distinction and Pass", g1, g2)
	}
	entries := apptest.Items[auditEntry](t, env, "GET", "/users/audit?kind=grading_scale&id="+exams.ScaleDocumentID, s.owner, nil, 200)
	if len(entries) != 1 || !strings.Contains(string(entries[0].Details), `"A+"`) || !strings.Contains(string(entries[0].Details), `"Distinction"`) {
		t.Errorf("audit of the scale change = %+v, want before and after", entries)
	}
}

// 29.99 of 40 is exactly 74.975 %, which rounds half up to 74.98 % (in float64 it is 74.97499…, which
// would round down); 37.49 of 50 is exactly 74.98 %. The two students therefore share a rank.
func TestPercentagesAreExact(t *testing.T) {
	s := newSchool(t)
	env := s.env
	t40 := s.newTest(t, s.batchA, "Physics", "2026-06-01", 40, 1)
	t50 := s.newTest(t, s.batchA, "Chemistry", "2026-06-01", 50, 1)
	s.enter(t, s.teacherA, t40.ID, present(s.s[1], 29.99), exempt(s.s[0]), exempt(s.s[2]))
	s.enter(t, s.teacherA, t50.ID, exempt(s.s[1]), present(s.s[0], 37.49), present(s.s[2], 37.48))
	rk := apptest.Call[ranking](t, env, "GET", "/exams/batches/"+s.batchA+"/ranking", s.owner, nil, 200)
	want := []standing{
		{1, s.s[0].ID, s.s[0].PRN, 74.98, "B+"},
		{1, s.s[1].ID, s.s[1].PRN, 74.98, "B+"},
		{3, s.s[2].ID, s.s[2].PRN, 74.96, "B+"},
	}
	if !slices.Equal(rk.Students, want) {
		t.Errorf("ranking = %+v, want %+v", rk.Students, want)
	}
	card := apptest.Call[reportCard](t, env, "GET", "/exams/students/"+s.s[1].ID+"/report-card?batch_id="+s.batchA, s.owner, nil, 200)
	if card.Percent == nil || *card.Percent != 74.98 || len(card.Subjects) != 2 || card.Subjects[0].Percent != nil || *card.Subjects[1].Percent != 74.98 {
		t.Errorf("card = %+v, want 74.98 %% overall and in Physics, Chemistry all exempt", card)
	}
}
