package attendance_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/attendance"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/notify"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type mark struct {
	ID        string `json:"id"`
	SessionID string `json:"session_id"`
	BatchID   string `json:"batch_id"`
	BranchID  string `json:"branch_id"`
	StudentID string `json:"student_id"`
	Date      string `json:"date"`
	Status    string `json:"status"`
	Remark    string `json:"remark"`
	MarkedBy  string `json:"marked_by"`
	History   []struct {
		Status   string `json:"status"`
		Remark   string `json:"remark"`
		MarkedBy string `json:"marked_by"`
	} `json:"history"`
}

type markingResult struct {
	SessionID string `json:"session_id"`
	Date      string `json:"date"`
	Created   int    `json:"created"`
	Changed   int    `json:"changed"`
	Unchanged int    `json:"unchanged"`
	Marks     []mark `json:"marks"`
}

type counts struct {
	Total   int      `json:"total"`
	Present int      `json:"present"`
	Absent  int      `json:"absent"`
	Late    int      `json:"late"`
	Excused int      `json:"excused"`
	Rate    *float64 `json:"rate"`
}

type studentSummary struct {
	StudentID string `json:"student_id"`
	From      string `json:"from"`
	To        string `json:"to"`
	counts
	Batches []struct {
		BatchID string `json:"batch_id"`
		counts
	} `json:"batches"`
}

type batchSummary struct {
	BatchID  string `json:"batch_id"`
	Sessions int    `json:"sessions"`
	counts
	Students []struct {
		StudentID string `json:"student_id"`
		counts
	} `json:"students"`
}

type absentee struct {
	mark
	StudentName string `json:"student_name"`
	StudentPRN  string `json:"student_prn"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type session struct {
	ID     string `json:"id"`
	Date   string `json:"date"`
	Status string `json:"status"`
}

type person struct {
	ID        string `json:"id"`
	PRN       string `json:"prn"`
	AccountID string `json:"account_id"`
	Email     string `json:"email"`
}

type auditEntry struct {
	Action  string          `json:"action"`
	Details json.RawMessage `json:"details"`
}

const missingID = "0123456789abcdef01234567"

// school is a tenant with branches A and B, a teacher and a batch (Mon/Wed/Fri 09:00, June 2026) in each,
// three students of A enrolled in batch A (the first two with a guardian each), a student of A enrolled
// nowhere and a student of B enrolled in batch B. The clock stands on Monday 1 June 2026, 14:30 in the
// tenant's zone (Asia/Kolkata).
type school struct {
	env                   *apptest.Env
	slug                  string
	owner                 string
	teacherA, teacherB    string
	branchA, branchB      string
	batchA, batchB        string
	s1, s2, s3, loner, b1 person
	g1, g2                person
}

func newSchool(t *testing.T) *school {
	t.Helper()
	env := apptest.New(t)
	s := &school{env: env, slug: "alpha"}
	env.Provision(s.slug)
	s.owner = env.Login(s.slug, "owner@alpha.test").AccessToken
	s.branchA = apptest.Call[person](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "AA", "name": "Branch A"}, 201).ID
	s.branchB = apptest.Call[person](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "BB", "name": "Branch B"}, 201).ID
	teacher := func(email, branch string) string {
		return apptest.Call[person](t, env, "POST", "/users/staff", s.owner, map[string]any{"email": email, "name": email, "role": "teacher",
			"branches": []string{branch}, "password": apptest.Password}, 201).ID
	}
	ta, tb := teacher("ta@alpha.test", s.branchA), teacher("tb@alpha.test", s.branchB)
	s.teacherA = env.Login(s.slug, "ta@alpha.test").AccessToken
	s.teacherB = env.Login(s.slug, "tb@alpha.test").AccessToken
	course := apptest.Call[person](t, env, "POST", "/academic/courses", s.owner, map[string]any{"code": "JEE", "name": "JEE"}, 201).ID
	batch := func(branch, teacher string) string {
		return apptest.Call[person](t, env, "POST", "/academic/batches", s.owner, map[string]any{
			"course_id": course, "branch_id": branch, "name": "Batch", "teachers": []string{teacher}, "capacity": 60,
			"start_date": "2026-06-01", "end_date": "2026-06-30", "schedule": []map[string]any{
				{"weekday": "monday", "start": "09:00", "duration_minutes": 60},
				{"weekday": "wednesday", "start": "09:00", "duration_minutes": 60},
				{"weekday": "friday", "start": "09:00", "duration_minutes": 60},
			},
		}, 201).ID
	}
	s.batchA, s.batchB = batch(s.branchA, ta), batch(s.branchB, tb)
	student := func(name, branch, batch string) person {
		st := apptest.Call[person](t, env, "POST", "/students/", s.owner, map[string]any{
			"name": name, "date_of_birth": "2010-04-05", "phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password,
		}, 201)
		if batch != "" {
			apptest.Call[person](t, env, "POST", "/students/enrolments", s.owner, map[string]any{"student_id": st.ID, "batch_id": batch, "from": "2026-06-01"}, 201)
		}
		return st
	}
	s.s1 = student("Asha One", s.branchA, s.batchA)
	s.s2 = student("Bala Two", s.branchA, s.batchA)
	s.s3 = student("Chitra Three", s.branchA, s.batchA)
	s.loner = student("Dev Loner", s.branchA, "")
	s.b1 = student("Esha Bee", s.branchB, s.batchB)
	guardian := func(st person, email string) person {
		return apptest.Call[person](t, env, "POST", "/students/guardians", s.owner, map[string]any{
			"student_id": st.ID, "name": "Parent of " + st.ID, "email": email, "password": apptest.Password,
		}, 201)
	}
	s.g1 = guardian(s.s1, "g1@example.com")
	s.g2 = guardian(s.s2, "g2@example.com")
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

// sessions returns the batch's sessions of June 2026, in start order.
func (s *school) sessions(t *testing.T, batch string) []session {
	t.Helper()
	return apptest.Call[page[session]](t, s.env, "GET", "/academic/batches/"+batch+"/sessions?limit=200", s.owner, nil, 200).Items
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

type m = map[string]any

func marks(entries ...m) m { return m{"marks": entries} }

func (s *school) mark(t *testing.T, token, sessionID string, want int, entries ...m) *httptest.ResponseRecorder {
	t.Helper()
	rec := s.env.Do("PUT", "/attendance/sessions/"+sessionID+"/marks", token, marks(entries...))
	apptest.MustStatus(t, rec, want)
	return rec
}

// markCount counts the marks stored in the tenant database, on every sheet.
func (s *school) markCount(t *testing.T) int {
	t.Helper()
	cur, err := s.env.TenantDB(s.slug).Collection(attendance.SheetsCollection).Find(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var sheets []attendance.Sheet
	if err := cur.All(context.Background(), &sheets); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sh := range sheets {
		n += len(sh.Marks)
	}
	return n
}

func TestMarkingIsAllOrNothing(t *testing.T) {
	s := newSchool(t)
	env := s.env
	monday := s.sessions(t, s.batchA)[0]
	if monday.Date != "2026-06-01" {
		t.Fatalf("first session on %s, want 2026-06-01", monday.Date)
	}
	path := "/attendance/sessions/" + monday.ID + "/marks"

	// Students not enrolled in the batch that day: one of the branch, one of another batch, one unknown.
	rec := env.Do("PUT", path, s.teacherA, marks(
		m{"student_id": s.s1.ID, "status": "present"},
		m{"student_id": s.loner.ID, "status": "absent"},
		m{"student_id": s.b1.ID, "status": "present"},
		m{"student_id": missingID, "status": "late"},
	))
	p := apptest.MustProblem(t, rec, http.StatusBadRequest, "invalid")
	for _, id := range []string{s.loner.ID, s.b1.ID, missingID} {
		if !strings.Contains(p.Detail, id) {
			t.Errorf("detail %q does not name %s", p.Detail, id)
		}
	}
	if strings.Contains(p.Detail, s.s1.ID) || p.Fields["marks[1].student_id"] == "" || p.Fields["marks[3].student_id"] == "" || p.Fields["marks[0].student_id"] != "" {
		t.Errorf("problem = %+v, want exactly the three strangers named", p)
	}

	for _, field := range []string{"marks[1].student_id", "marks[2].student_id", "marks[3].student_id"} {
		if p.FieldCode(field) != "not_allowed" || len(p.Errors) != 3 {
			t.Errorf("errors = %+v, want %s not_allowed among three", p.Errors, field)
		}
	}

	// Every bad mark of one request at once.
	p = apptest.MustProblem(t, env.Do("PUT", path, s.teacherA, marks(
		m{"student_id": "x", "status": "present"},
		m{"student_id": s.s1.ID, "status": "here"},
		m{"student_id": s.s2.ID, "remark": strings.Repeat("x", 501)},
	)), http.StatusBadRequest, "invalid")
	for field, code := range map[string]string{"marks[0].student_id": "format", "marks[1].status": "not_allowed", "marks[2].status": "required", "marks[2].remark": "too_long"} {
		if p.FieldCode(field) != code {
			t.Errorf("errors %+v, want %s %s", p.Errors, field, code)
		}
	}

	for name, body := range map[string]any{
		"no marks":       marks(),
		"bad status":     marks(m{"student_id": s.s1.ID, "status": "here"}),
		"twice":          marks(m{"student_id": s.s1.ID, "status": "present"}, m{"student_id": s.s1.ID, "status": "absent"}),
		"bad id":         marks(m{"student_id": "x", "status": "present"}),
		"unknown field":  marks(m{"student_id": s.s1.ID, "status": "present", "branch_id": s.branchA}),
		"long remark":    marks(m{"student_id": s.s1.ID, "status": "present", "remark": strings.Repeat("x", 501)}),
		"operator":       `{"marks":[{"student_id":{"$ne":""},"status":"present"}]}`,
		"top-level list": `[{"student_id":"` + s.s1.ID + `","status":"present"}]`,
	} {
		if rec := env.Do("PUT", path, s.teacherA, body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; body %s", name, rec.Code, rec.Body)
		}
	}

	// A session still ahead, and a cancelled one, take no marks.
	wednesday := s.sessions(t, s.batchA)[1]
	apptest.MustProblem(t, env.Do("PUT", "/attendance/sessions/"+wednesday.ID+"/marks", s.teacherA, marks(m{"student_id": s.s1.ID, "status": "present"})), http.StatusConflict, "conflict")
	s.advance(t, 48*time.Hour)
	apptest.Call[session](t, env, "POST", "/academic/sessions/"+wednesday.ID+"/cancel", s.owner, m{"reason": "holiday"}, 200)
	apptest.MustProblem(t, env.Do("PUT", "/attendance/sessions/"+wednesday.ID+"/marks", s.teacherA, marks(m{"student_id": s.s1.ID, "status": "present"})), http.StatusConflict, "conflict")
	apptest.MustProblem(t, env.Do("PUT", "/attendance/sessions/"+missingID+"/marks", s.teacherA, marks(m{"student_id": s.s1.ID, "status": "present"})), http.StatusNotFound, "not_found")

	if n := s.markCount(t); n != 0 {
		t.Fatalf("%d marks written by refused requests", n)
	}
	if ns := env.Notifications(); len(ns) != 0 {
		t.Fatalf("refused requests notified: %+v", ns)
	}

	res := apptest.Call[markingResult](t, env, "PUT", path, s.teacherA, marks(
		m{"student_id": s.s1.ID, "status": "present"},
		m{"student_id": s.s2.ID, "status": "late", "remark": "  bus  "},
		m{"student_id": s.s3.ID, "status": "excused"},
	), 200)
	if res.Created != 3 || res.Changed != 0 || res.Date != "2026-06-01" || len(res.Marks) != 3 || res.Marks[1].Remark != "bus" || res.Marks[1].Status != "late" {
		t.Fatalf("marking = %+v", res)
	}
	got := apptest.Items[mark](t, env, "GET", path, s.teacherA, nil, 200)
	if len(got) != 3 || s.markCount(t) != 3 {
		t.Fatalf("session marks = %+v", got)
	}
	for _, mk := range got {
		if mk.SessionID != monday.ID || mk.BatchID != s.batchA || mk.BranchID != s.branchA || mk.Date != "2026-06-01" || len(mk.History) != 0 || mk.MarkedBy == "" {
			t.Errorf("stored mark %+v", mk)
		}
	}
}

func TestRemarkingKeepsHistoryAndAudits(t *testing.T) {
	s := newSchool(t)
	env := s.env
	ses := s.sessions(t, s.batchA)[0]
	s.mark(t, s.teacherA, ses.ID, 200, m{"student_id": s.s1.ID, "status": "present"}, m{"student_id": s.s3.ID, "status": "present"})

	s.advance(t, time.Hour)
	res := apptest.Call[markingResult](t, env, "PUT", "/attendance/sessions/"+ses.ID+"/marks", s.owner, marks(
		m{"student_id": s.s1.ID, "status": "absent", "remark": "left after roll call"},
		m{"student_id": s.s3.ID, "status": "present"},
		m{"student_id": s.s2.ID, "status": "present"},
	), 200)
	if res.Created != 1 || res.Changed != 1 || res.Unchanged != 1 {
		t.Fatalf("re-marking = %+v, want 1 created, 1 changed, 1 unchanged", res)
	}
	got := apptest.Items[mark](t, env, "GET", "/attendance/sessions/"+ses.ID+"/marks", s.owner, nil, 200)
	i := slices.IndexFunc(got, func(x mark) bool { return x.StudentID == s.s1.ID })
	if i < 0 || got[i].Status != "absent" || got[i].Remark != "left after roll call" || len(got[i].History) != 1 || got[i].History[0].Status != "present" {
		t.Fatalf("re-marked mark = %+v, want absent with the earlier present in its history", got)
	}
	first := got[i].History[0].MarkedBy
	if first == "" || first == got[i].MarkedBy {
		t.Errorf("history marked_by %q, now %q: want the teacher then the owner", first, got[i].MarkedBy)
	}
	// A second override grows the history, oldest first.
	s.mark(t, s.owner, ses.ID, 200, m{"student_id": s.s1.ID, "status": "excused"})
	got = apptest.Items[mark](t, env, "GET", "/attendance/sessions/"+ses.ID+"/marks", s.owner, nil, 200)
	i = slices.IndexFunc(got, func(x mark) bool { return x.StudentID == s.s1.ID })
	if h := got[i].History; len(h) != 2 || h[0].Status != "present" || h[1].Status != "absent" || got[i].Status != "excused" {
		t.Fatalf("history = %+v, want present then absent", h)
	}

	entries := apptest.Items[auditEntry](t, env, "GET", "/users/audit?kind=session&id="+ses.ID, s.owner, nil, 200)
	if len(entries) != 2 {
		t.Fatalf("audit = %+v, want one entry per overriding request", entries)
	}
	for i, want := range []string{`"from":"present","to":"absent"`, `"from":"absent","to":"excused"`} {
		if entries[i].Action != "attendance.marks.changed" || !strings.Contains(string(entries[i].Details), want) || !strings.Contains(string(entries[i].Details), s.s1.ID) {
			t.Errorf("audit entry %d = %+v, want %s for %s", i, entries[i], want, s.s1.ID)
		}
	}
	if strings.Contains(string(entries[0].Details), s.s3.ID) || strings.Contains(string(entries[0].Details), s.s2.ID) {
		t.Errorf("audit names unchanged or new marks: %s", entries[0].Details)
	}
	if rep := apptest.Call[struct {
		OK bool `json:"ok"`
	}](t, env, "GET", "/users/audit/verify", s.owner, nil, 200); !rep.OK {
		t.Error("audit chain broken")
	}
}

func TestScope(t *testing.T) {
	s := newSchool(t)
	env := s.env
	sesA, sesB := s.sessions(t, s.batchA)[0], s.sessions(t, s.batchB)[0]
	s.mark(t, s.teacherA, sesA.ID, 200, m{"student_id": s.s1.ID, "status": "absent"})
	s.mark(t, s.teacherB, sesB.ID, 200, m{"student_id": s.b1.ID, "status": "absent"})

	// The teacher of batch B knows nothing of batch A.
	for _, tc := range []struct{ method, path string }{
		{"PUT", "/attendance/sessions/" + sesA.ID + "/marks"},
		{"GET", "/attendance/sessions/" + sesA.ID + "/marks"},
		{"GET", "/attendance/batches/" + s.batchA + "/summary"},
		{"GET", "/attendance/absentees?batch=" + s.batchA},
		{"GET", "/attendance/absentees?branch=" + s.branchA},
		{"GET", "/attendance/students/" + s.s1.ID + "/summary"},
	} {
		var body any
		if tc.method == "PUT" {
			body = marks(m{"student_id": s.s1.ID, "status": "present"})
		}
		apptest.MustProblem(t, env.Do(tc.method, tc.path, s.teacherB, body), http.StatusNotFound, "not_found")
	}
	// A teacher of the same branch who does not teach the batch is refused too.
	env.Clock.Advance(time.Minute)
	apptest.Call[person](t, env, "POST", "/users/staff", s.owner, map[string]any{"email": "tc@alpha.test", "name": "TC", "role": "teacher",
		"branches": []string{s.branchA}, "password": apptest.Password}, 201)
	other := env.Login(s.slug, "tc@alpha.test").AccessToken
	apptest.MustProblem(t, env.Do("PUT", "/attendance/sessions/"+sesA.ID+"/marks", other, marks(m{"student_id": s.s1.ID, "status": "present"})), http.StatusNotFound, "not_found")
	if got := apptest.Call[page[absentee]](t, env, "GET", "/attendance/absentees?date=2026-06-01", other, nil, 200).Items; len(got) != 0 {
		t.Errorf("a teacher of no batch sees absentees %+v", got)
	}

	onlyB := apptest.Call[page[absentee]](t, env, "GET", "/attendance/absentees?date=2026-06-01", s.teacherB, nil, 200).Items
	if len(onlyB) != 1 || onlyB[0].StudentID != s.b1.ID || onlyB[0].StudentName != "Esha Bee" || onlyB[0].StudentPRN != s.b1.PRN {
		t.Errorf("teacher B's absentees = %+v, want only Esha Bee", onlyB)
	}
	s.mark(t, s.teacherA, sesA.ID, 200, m{"student_id": s.s3.ID, "status": "absent"})
	all := apptest.Call[page[absentee]](t, env, "GET", "/attendance/absentees?date=2026-06-01", s.owner, nil, 200).Items
	if len(all) != 3 {
		t.Errorf("owner's absentees = %+v, want all three", all)
	}
	// One at a time, within a session and across sessions, nobody twice and nobody left out.
	var paged []string
	for cursor, n := "", 0; n == 0 || cursor != ""; n++ {
		p := apptest.Call[page[absentee]](t, env, "GET", "/attendance/absentees?date=2026-06-01&limit=1&cursor="+cursor, s.owner, nil, 200)
		if len(p.Items) != 1 || n > 3 {
			t.Fatalf("page %d = %+v", n, p)
		}
		paged = append(paged, p.Items[0].StudentID)
		cursor = p.NextCursor
	}
	want := []string{s.s1.ID, s.s3.ID, s.b1.ID}
	slices.Sort(paged)
	slices.Sort(want)
	if !slices.Equal(paged, want) {
		t.Errorf("paged absentees %v, want %v", paged, want)
	}
	byBranch := apptest.Call[page[absentee]](t, env, "GET", "/attendance/absentees?date=2026-06-01&branch="+s.branchA, s.owner, nil, 200).Items
	if len(byBranch) != 2 || byBranch[0].BranchID != s.branchA || byBranch[1].BranchID != s.branchA {
		t.Errorf("branch A's absentees = %+v", byBranch)
	}
	if got := apptest.Call[page[absentee]](t, env, "GET", "/attendance/absentees?date=2026-06-02", s.owner, nil, 200).Items; len(got) != 0 {
		t.Errorf("absentees of a day without marks = %+v", got)
	}
	apptest.MustProblem(t, env.Do("GET", "/attendance/absentees?date=June", s.owner, nil), http.StatusBadRequest, "invalid")

	// Students and guardians read one student's attendance: their own, their child's.
	student := s.login(t, s.s1.PRN)
	apptest.Call[studentSummary](t, env, "GET", "/attendance/students/"+s.s1.ID+"/summary", student, nil, 200)
	apptest.Items[mark](t, env, "GET", "/attendance/students/"+s.s1.ID+"/marks", student, nil, 200)
	for _, other := range []string{s.s2.ID, s.b1.ID, missingID} {
		apptest.MustProblem(t, env.Do("GET", "/attendance/students/"+other+"/summary", student, nil), http.StatusNotFound, "not_found")
		apptest.MustProblem(t, env.Do("GET", "/attendance/students/"+other+"/marks", student, nil), http.StatusNotFound, "not_found")
	}
	apptest.MustProblem(t, env.Do("GET", "/attendance/absentees", student, nil), http.StatusForbidden, "forbidden")
	apptest.MustProblem(t, env.Do("GET", "/attendance/sessions/"+sesA.ID+"/marks", student, nil), http.StatusForbidden, "forbidden")
	apptest.MustProblem(t, env.Do("PUT", "/attendance/sessions/"+sesA.ID+"/marks", student, marks(m{"student_id": s.s1.ID, "status": "present"})), http.StatusForbidden, "forbidden")

	parent := s.login(t, s.g1.PRN)
	apptest.Call[studentSummary](t, env, "GET", "/attendance/students/"+s.s1.ID+"/summary", parent, nil, 200)
	apptest.MustProblem(t, env.Do("GET", "/attendance/students/"+s.s2.ID+"/summary", parent, nil), http.StatusNotFound, "not_found")

	// Another institution's session reads as not found.
	env.Provision("beta")
	env.Clock.Advance(time.Minute)
	stranger := env.Login("beta", "owner@beta.test").AccessToken
	apptest.MustProblem(t, env.Do("GET", "/attendance/sessions/"+sesA.ID+"/marks", stranger, nil), http.StatusNotFound, "not_found")
	apptest.MustProblem(t, env.Do("PUT", "/attendance/sessions/"+sesA.ID+"/marks", stranger, marks(m{"student_id": s.s1.ID, "status": "present"})), http.StatusNotFound, "not_found")
}

func TestSummaries(t *testing.T) {
	s := newSchool(t)
	env := s.env
	ss := s.sessions(t, s.batchA)
	s.advance(t, 5*24*time.Hour) // Saturday 6 June: Mon, Wed and Fri are past
	// s1: present, late, absent; s2: absent, excused, present; s3: marked only on Monday.
	s.mark(t, s.teacherA, ss[0].ID, 200, m{"student_id": s.s1.ID, "status": "present"}, m{"student_id": s.s2.ID, "status": "absent"}, m{"student_id": s.s3.ID, "status": "present"})
	s.mark(t, s.teacherA, ss[1].ID, 200, m{"student_id": s.s1.ID, "status": "late"}, m{"student_id": s.s2.ID, "status": "excused"})
	s.mark(t, s.teacherA, ss[2].ID, 200, m{"student_id": s.s1.ID, "status": "absent"}, m{"student_id": s.s2.ID, "status": "present"})

	sum := apptest.Call[studentSummary](t, env, "GET", "/attendance/students/"+s.s1.ID+"/summary?from=2026-06-01&to=2026-06-30", s.owner, nil, 200)
	if sum.Total != 3 || sum.Present != 1 || sum.Late != 1 || sum.Absent != 1 || sum.Rate == nil || *sum.Rate != 0.6667 ||
		len(sum.Batches) != 1 || sum.Batches[0].BatchID != s.batchA || sum.Batches[0].Total != 3 {
		t.Errorf("s1 summary = %+v", sum)
	}
	// The range bounds are inclusive tenant-local dates; the default range ends today.
	if got := apptest.Call[studentSummary](t, env, "GET", "/attendance/students/"+s.s1.ID+"/summary?from=2026-06-02&to=2026-06-03", s.owner, nil, 200); got.Total != 1 || got.Late != 1 {
		t.Errorf("Tue-Wed summary = %+v", got)
	}
	if got := apptest.Call[studentSummary](t, env, "GET", "/attendance/students/"+s.s1.ID+"/summary", s.owner, nil, 200); got.Total != 3 || got.To != "2026-06-06" || got.From != "2026-05-08" {
		t.Errorf("default summary = %+v", got)
	}
	if got := apptest.Call[studentSummary](t, env, "GET", "/attendance/students/"+s.loner.ID+"/summary", s.owner, nil, 200); got.Total != 0 || got.Rate != nil {
		t.Errorf("summary without marks = %+v, want zero and a null rate", got)
	}
	ms := apptest.Items[mark](t, env, "GET", "/attendance/students/"+s.s1.ID+"/marks?from=2026-06-01&to=2026-06-30", s.owner, nil, 200)
	if len(ms) != 3 || ms[0].Date != "2026-06-01" || ms[2].Date != "2026-06-05" {
		t.Errorf("s1 marks = %+v, want three oldest first", ms)
	}

	b := apptest.Call[batchSummary](t, env, "GET", "/attendance/batches/"+s.batchA+"/summary?from=2026-06-01&to=2026-06-30", s.teacherA, nil, 200)
	// Counted: 4 attended (present or late) of 6, the excused mark left out.
	if b.Sessions != 3 || b.Total != 7 || b.Present != 3 || b.Late != 1 || b.Absent != 2 || b.Excused != 1 || b.Rate == nil || *b.Rate != 0.6667 || len(b.Students) != 3 {
		t.Errorf("batch summary = %+v", b)
	}
	for _, st := range b.Students {
		if st.StudentID == s.s3.ID && (st.Total != 1 || st.Rate == nil || *st.Rate != 1) {
			t.Errorf("s3 in batch summary = %+v", st)
		}
	}

	for _, q := range []string{"from=2026-07-01&to=2026-06-01", "from=2025-01-01&to=2026-06-30", "from=yesterday", "to=2026-13-01"} {
		apptest.MustProblem(t, env.Do("GET", "/attendance/batches/"+s.batchA+"/summary?"+q, s.owner, nil), http.StatusBadRequest, "invalid")
		apptest.MustProblem(t, env.Do("GET", "/attendance/students/"+s.s1.ID+"/summary?"+q, s.owner, nil), http.StatusBadRequest, "invalid")
	}
}

func TestAbsenceAlertOncePerStudentPerDay(t *testing.T) {
	s := newSchool(t)
	env := s.env
	ss := s.sessions(t, s.batchA)
	monday, wednesday := ss[0], ss[1]
	s.mark(t, s.teacherA, monday.ID, 200, m{"student_id": s.s1.ID, "status": "absent"}, m{"student_id": s.s2.ID, "status": "present"},
		m{"student_id": s.s3.ID, "status": "absent"}) // s3 has no guardian: nobody to tell
	ns := env.Notifications()
	if len(ns) != 1 {
		t.Fatalf("notifications = %+v, want one for s1's guardian", ns)
	}
	n := ns[0]
	if n.ID != attendance.AbsenceID(s.s1.ID, "2026-06-01", s.g1.ID) || n.Kind != attendance.AbsenceKind || n.Tenant != s.slug ||
		n.Recipient != s.g1.AccountID || n.Data["student_id"] != s.s1.ID || n.Data["date"] != "2026-06-01" || n.Data["email"] != "g1@example.com" ||
		!strings.Contains(n.Body, "Asha One") {
		t.Fatalf("alert = %+v", n)
	}

	// Re-marked absent with a remark, back to present and absent again, and absent from an extra session the
	// same day: still one alert. s2 absent for the first time: one more.
	s.advance(t, time.Hour)
	s.mark(t, s.teacherA, monday.ID, 200, m{"student_id": s.s1.ID, "status": "absent", "remark": "sick"})
	s.mark(t, s.teacherA, monday.ID, 200, m{"student_id": s.s1.ID, "status": "present"})
	s.mark(t, s.teacherA, monday.ID, 200, m{"student_id": s.s1.ID, "status": "absent"}, m{"student_id": s.s2.ID, "status": "absent"})
	extra := apptest.Call[session](t, env, "POST", "/academic/batches/"+s.batchA+"/sessions", s.teacherA, m{"date": "2026-06-01", "start": "16:00", "duration_minutes": 60}, 201)
	s.mark(t, s.teacherA, extra.ID, 200, m{"student_id": s.s1.ID, "status": "absent"}, m{"student_id": s.s2.ID, "status": "absent"})
	if ns := env.Notifications(); len(ns) != 2 || ns[1].ID != attendance.AbsenceID(s.s2.ID, "2026-06-01", s.g2.ID) {
		t.Fatalf("notifications = %+v, want s1's and then s2's only", ns)
	}

	// The next day of classes is another day.
	s.advance(t, 48*time.Hour)
	s.mark(t, s.teacherA, wednesday.ID, 200, m{"student_id": s.s1.ID, "status": "absent"})
	if ns := env.Notifications(); len(ns) != 3 || ns[2].ID != attendance.AbsenceID(s.s1.ID, "2026-06-03", s.g1.ID) {
		t.Fatalf("notifications = %+v, want a third for Wednesday", ns)
	}

	// A topic that is down never fails the marking: the alert waits in the outbox for notify.Flush.
	topic := env.App.Notifier
	down := *env.App
	down.Notifier = notify.Failing(errors.New("topic down"))
	served := env.Handler
	env.Handler = all.Build(&down, all.Options{}).Attendance.Area(down.AreaOptions())
	s.mark(t, s.teacherA, wednesday.ID, 200, m{"student_id": s.s2.ID, "status": "absent"})
	env.Handler = served
	if ns := env.Notifications(); len(ns) != 3 {
		t.Fatalf("published %d alerts through a failing topic", len(ns)-3)
	}
	res, err := notify.Flush(context.Background(), s.env.TenantDB(s.slug), topic)
	if err != nil || res.Published != 1 {
		t.Fatalf("flush = %+v, %v; want the one waiting alert", res, err)
	}
	if ns := env.Notifications(); len(ns) != 4 || ns[3].ID != attendance.AbsenceID(s.s2.ID, "2026-06-03", s.g2.ID) {
		t.Fatalf("notifications after flush = %+v", ns)
	}
}

func TestEscalationAfterDaysAbsentInARow(t *testing.T) {
	s := newSchool(t)
	env := s.env
	escalations := func() []notify.Notification {
		t.Helper()
		var out []notify.Notification
		for _, n := range env.Notifications() {
			if n.Kind == attendance.EscalationKind {
				out = append(out, n)
			}
		}
		return out
	}
	if got := apptest.Call[attendance.EscalationRules](t, env, "GET", "/attendance/escalation", s.owner, nil, 200); len(got.Rules) != 0 || !got.Default {
		t.Fatalf("rules before any are set = %+v", got)
	}
	for _, tc := range []struct {
		body  m
		field string
		code  string
	}{
		{m{"rules": []m{{"after": 1, "notify": "guardians"}}}, "rules[0].after", "out_of_range"},
		{m{"rules": []m{{"after": 2, "notify": "everyone"}}}, "rules[0].notify", "not_allowed"},
		{m{"rules": []m{{"after": 2, "notify": "guardians"}, {"after": 2, "notify": "guardians"}}}, "rules[1]", "duplicate"},
	} {
		p := apptest.MustProblem(t, env.Do("PUT", "/attendance/escalation", s.owner, tc.body), http.StatusBadRequest, "invalid")
		if got := p.FieldCode(tc.field); got != tc.code {
			t.Errorf("%v: %s has code %q, want %q (%+v)", tc.body, tc.field, got, tc.code, p.Errors)
		}
	}
	p := apptest.MustProblem(t, env.Do("PUT", "/attendance/escalation", s.owner, m{"rules": []m{{"after": 1, "notify": "everyone"}}}), http.StatusBadRequest, "invalid")
	if len(p.Errors) != 2 {
		t.Errorf("a rule with two bad fields is refused with %+v, want both named", p.Errors)
	}
	apptest.MustProblem(t, env.Do("PUT", "/attendance/escalation", s.teacherA, m{"rules": []m{}}), http.StatusForbidden, "forbidden")
	apptest.Call[attendance.EscalationRules](t, env, "PUT", "/attendance/escalation", s.owner,
		m{"rules": []m{{"after": 2, "notify": "guardians"}, {"after": 3, "notify": "branch_admins"}}}, 200)
	admin := apptest.Call[person](t, env, "POST", "/users/staff", s.owner, m{"email": "admin.a@alpha.test", "name": "Admin A", "role": "branch_admin",
		"branches": []string{s.branchA}, "password": apptest.Password}, 201)

	ss := s.sessions(t, s.batchA) // Mon 1, Wed 3, Fri 5, Mon 8, Wed 10, Fri 12 June...
	absentOn := func(i int, hours time.Duration) {
		t.Helper()
		s.advance(t, hours)
		s.mark(t, s.teacherA, ss[i].ID, 200, m{"student_id": s.s1.ID, "status": "absent"}, m{"student_id": s.s2.ID, "status": "present"})
	}
	absentOn(0, 0)
	if got := escalations(); len(got) != 0 {
		t.Fatalf("one day absent escalated: %+v", got)
	}
	absentOn(1, 48*time.Hour)
	got := escalations()
	if len(got) != 1 || got[0].Recipient != s.g1.AccountID || got[0].Data["dates"] != "2026-06-01, 2026-06-03" || got[0].Data["count"] != "2" ||
		got[0].ID != attendance.EscalationID(s.s1.ID, "2026-06-01", 2, s.g1.AccountID) {
		t.Fatalf("after two days absent: %+v", got)
	}
	// Marked again the same day: nothing new.
	s.mark(t, s.teacherA, ss[1].ID, 200, m{"student_id": s.s1.ID, "status": "absent", "remark": "no word from home"})
	if got := escalations(); len(got) != 1 {
		t.Fatalf("re-marking escalated again: %+v", got)
	}
	absentOn(2, 48*time.Hour)
	got = escalations()
	if len(got) != 2 || got[1].Recipient != admin.ID || got[1].Data["dates"] != "2026-06-01, 2026-06-03, 2026-06-05" {
		t.Fatalf("after three days absent: %+v", got)
	}
	// Present ends the run: the next two days absent are a new run.
	s.advance(t, 72*time.Hour)
	s.mark(t, s.teacherA, ss[3].ID, 200, m{"student_id": s.s1.ID, "status": "present"})
	absentOn(4, 48*time.Hour)
	if got := escalations(); len(got) != 2 {
		t.Fatalf("one day absent after a present one escalated: %+v", got)
	}
	absentOn(5, 48*time.Hour)
	if got := escalations(); len(got) != 3 || got[2].Data["dates"] != "2026-06-10, 2026-06-12" {
		t.Fatalf("a new run of two days: %+v", got)
	}
}
