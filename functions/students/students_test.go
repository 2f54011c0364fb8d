package students_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type student struct {
	ID          string   `json:"id"`
	PRN         string   `json:"prn"`
	AccountID   string   `json:"account_id"`
	Name        string   `json:"name"`
	DateOfBirth string   `json:"date_of_birth"`
	Phone       string   `json:"phone"`
	Email       string   `json:"email"`
	BranchID    string   `json:"branch_id"`
	Status      string   `json:"status"`
	GuardianIDs []string `json:"guardian_ids"`
}

type guardian struct {
	ID    string `json:"id"`
	PRN   string `json:"prn"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

type enrolment struct {
	ID            string `json:"id"`
	StudentID     string `json:"student_id"`
	BatchID       string `json:"batch_id"`
	From          string `json:"from"`
	To            string `json:"to"`
	Status        string `json:"status"`
	TransferredTo string `json:"transferred_to"`
}

type rosterEntry struct {
	Enrolment enrolment `json:"enrolment"`
	PRN       string    `json:"prn"`
	Name      string    `json:"name"`
}

type batch struct {
	ID       string `json:"id"`
	Capacity int    `json:"capacity"`
	Enrolled int    `json:"enrolled"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type ids struct{ ID string }

const missingID = "0123456789abcdef01234567"

func post[T any](t *testing.T, env *apptest.Env, path, token string, body any, want int) T {
	t.Helper()
	rec := env.Do("POST", path, token, body)
	apptest.MustStatus(t, rec, want)
	return apptest.Decode[T](t, rec)
}

func get[T any](t *testing.T, env *apptest.Env, path, token string) T {
	t.Helper()
	rec := env.Do("GET", path, token, nil)
	apptest.MustStatus(t, rec, http.StatusOK)
	return apptest.Decode[T](t, rec)
}

// items reads a list route whose whole answer fits one page.
func items[T any](t *testing.T, env *apptest.Env, path, token string) []T {
	t.Helper()
	return apptest.Items[T](t, env, "GET", path, token, nil, http.StatusOK)
}

// loginPRN signs in with a PRN, as students and guardians do.
func loginPRN(t *testing.T, env *apptest.Env, prn string) string {
	t.Helper()
	// Every apptest request comes from one address; a minute keeps many logins under its rate limit.
	env.Clock.Advance(time.Minute)
	rec := env.Do("POST", "/auth/login", "", map[string]string{"prn": prn, "password": apptest.Password})
	apptest.MustStatus(t, rec, http.StatusOK)
	return apptest.Decode[apptest.TokenPair](t, rec).AccessToken
}

// school is a tenant with branches A and B, a teacher and a batch in each, and a counsellor.
type school struct {
	env                        *apptest.Env
	slug                       string
	owner, teacherA, teacherB  string
	counsellor                 string
	branchA, branchB, courseID string
	teacherAID                 string
	batchA, batchB             batch
}

func newSchool(t *testing.T) *school {
	t.Helper()
	env := apptest.New(t)
	s := &school{env: env, slug: "alpha"}
	env.Provision(s.slug)
	s.owner = env.Login(s.slug, "owner@alpha.test").AccessToken
	s.branchA = post[ids](t, env, "/users/branches", s.owner, map[string]string{"code": "AA", "name": "Branch A"}, 201).ID
	s.branchB = post[ids](t, env, "/users/branches", s.owner, map[string]string{"code": "BB", "name": "Branch B"}, 201).ID
	staff := func(email, role string, branches ...string) string {
		if branches == nil {
			branches = []string{}
		}
		return post[ids](t, env, "/users/staff", s.owner, map[string]any{"email": email, "name": email, "role": role,
			"branches": branches, "password": apptest.Password}, 201).ID
	}
	s.teacherAID = staff("ta@alpha.test", "teacher", s.branchA)
	tb := staff("tb@alpha.test", "teacher", s.branchB)
	staff("c@alpha.test", "counsellor")
	s.teacherA = env.Login(s.slug, "ta@alpha.test").AccessToken
	s.teacherB = env.Login(s.slug, "tb@alpha.test").AccessToken
	s.counsellor = env.Login(s.slug, "c@alpha.test").AccessToken
	s.courseID = post[ids](t, env, "/academic/courses", s.owner, map[string]any{"code": "JEE", "name": "JEE"}, 201).ID
	s.batchA = s.newBatch(t, s.branchA, 10, s.teacherAID)
	s.batchB = s.newBatch(t, s.branchB, 10, tb)
	return s
}

func (s *school) newBatch(t *testing.T, branch string, capacity int, teachers ...string) batch {
	t.Helper()
	if teachers == nil {
		teachers = []string{}
	}
	return post[batch](t, s.env, "/academic/batches", s.owner, map[string]any{
		"course_id": s.courseID, "branch_id": branch, "name": "Batch", "teachers": teachers, "capacity": capacity,
		"start_date": "2026-06-01", "end_date": "2026-12-31", "schedule": []map[string]any{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}},
	}, 201)
}

func (s *school) newStudent(t *testing.T, name, branch string) student {
	t.Helper()
	return post[student](t, s.env, "/students/", s.owner, map[string]any{
		"name": name, "date_of_birth": "2010-04-05", "phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password,
	}, 201)
}

func (s *school) enrol(studentID, batchID, from string) *httptest.ResponseRecorder {
	body := map[string]any{"student_id": studentID, "batch_id": batchID}
	if from != "" {
		body["from"] = from
	}
	return s.env.Do("POST", "/students/enrolments", s.owner, body)
}

func (s *school) batch(t *testing.T, id string) batch {
	t.Helper()
	return get[batch](t, s.env, "/academic/batches/"+id, s.owner)
}

func TestCreateStudentWithPRNAndLogin(t *testing.T) {
	s := newSchool(t)
	env := s.env
	st := post[student](t, env, "/students/", s.counsellor, map[string]any{
		"name": "  Ana   María ", "date_of_birth": "2009-12-31", "phone": "98765-43210", "email": "Ana@Example.com",
		"branch_id": s.branchA, "password": apptest.Password,
	}, 201)
	if st.Name != "Ana María" || st.Email != "ana@example.com" || st.Phone != "9876543210" || st.Status != "active" || st.BranchID != s.branchA {
		t.Fatalf("student = %+v", st)
	}
	// PRN: tenant number, role 9, two-digit year of the tenant's today, sequence, check digit.
	if len(st.PRN) != 14 || st.PRN[4:7] != "926" {
		t.Fatalf("PRN %q is not a 2026 student PRN", st.PRN)
	}
	if got := get[student](t, env, "/students/by-prn/"+st.PRN, s.teacherA); got.ID != st.ID {
		t.Fatalf("by PRN = %+v", got)
	}
	token := loginPRN(t, env, st.PRN)
	me := get[struct {
		UserID string `json:"user_id"`
		Role   string `json:"role"`
	}](t, env, "/auth/me", token)
	if me.UserID != st.AccountID || me.Role != "student" {
		t.Fatalf("me = %+v", me)
	}
	if got := get[student](t, env, "/students/"+st.ID, token); got.PRN != st.PRN {
		t.Fatalf("own record = %+v", got)
	}
	// A typo in a PRN is caught by its check digit; a staff PRN is not a student's.
	bad := []byte(st.PRN)
	bad[10] = '0' + (bad[10]-'0'+1)%10
	apptest.MustProblem(t, env.Do("GET", "/students/by-prn/"+string(bad), s.owner, nil), 400, "invalid")
	apptest.MustProblem(t, env.Do("GET", "/students/by-prn/"+ownerPRN(t, s), s.owner, nil), 400, "invalid")
	// Email conflicts with any account, staff included.
	apptest.MustProblem(t, env.Do("POST", "/students/", s.owner, map[string]any{
		"name": "Clash", "date_of_birth": "2010-01-01", "phone": "9876543210", "email": "ta@alpha.test", "branch_id": s.branchA, "password": apptest.Password,
	}), 409, "conflict")
}

func ownerPRN(t *testing.T, s *school) string {
	t.Helper()
	return get[struct {
		PRN string `json:"prn"`
	}](t, s.env, "/auth/me", s.owner).PRN
}

// Bad input is refused with 400 and writes nothing: no record, no account, no enrolment.
func TestBadInputWritesNothing(t *testing.T) {
	s := newSchool(t)
	env := s.env
	good := func() map[string]any {
		return map[string]any{"name": "Ravi", "date_of_birth": "2010-01-01", "phone": "9876543210", "branch_id": s.branchA, "password": apptest.Password}
	}
	cases := map[string]func(map[string]any){
		"no name":          func(b map[string]any) { b["name"] = " - " },
		"bad birth date":   func(b map[string]any) { b["date_of_birth"] = "01/01/2010" },
		"future birth":     func(b map[string]any) { b["date_of_birth"] = "2099-01-01" },
		"bad phone":        func(b map[string]any) { b["phone"] = "call me" },
		"bad email":        func(b map[string]any) { b["email"] = "not-an-email" },
		"weak password":    func(b map[string]any) { b["password"] = "x" },
		"unknown branch":   func(b map[string]any) { b["branch_id"] = missingID },
		"unknown field":    func(b map[string]any) { b["status"] = "active" },
		"operator in name": func(b map[string]any) { b["name"] = map[string]string{"$gt": ""} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := good()
			mutate(b)
			apptest.MustProblem(t, env.Do("POST", "/students/", s.owner, b), 400, "invalid")
		})
	}
	if n := len(get[page[student]](t, env, "/students/", s.owner).Items); n != 0 {
		t.Fatalf("%d students after refused admissions", n)
	}
	db := s.env.TenantDB(s.slug)
	if n, err := db.Collection(account.Collection).CountDocuments(context.Background(), bson.M{"role": "student"}); err != nil || n != 0 {
		t.Fatalf("%d student accounts after refused admissions (%v)", n, err)
	}

	st := s.newStudent(t, "Ravi", s.branchA)
	for name, body := range map[string]map[string]any{
		"bad student id": {"student_id": "x", "batch_id": s.batchA.ID},
		"bad batch id":   {"student_id": st.ID, "batch_id": 7},
		"bad from":       {"student_id": st.ID, "batch_id": s.batchA.ID, "from": "tomorrow"},
		"other branch":   {"student_id": st.ID, "batch_id": s.batchB.ID},
		"after the end":  {"student_id": st.ID, "batch_id": s.batchA.ID, "from": "2027-01-01"},
	} {
		t.Run(name, func(t *testing.T) {
			apptest.MustProblem(t, env.Do("POST", "/students/enrolments", s.owner, body), 400, "invalid")
		})
	}
	if es := items[enrolment](t, env, "/students/enrolments?student="+st.ID, s.owner); len(es) != 0 {
		t.Fatalf("enrolments after refused requests: %+v", es)
	}
	if b := s.batch(t, s.batchA.ID); b.Enrolled != 0 {
		t.Fatalf("batch A has %d seats taken after refused enrolments", b.Enrolled)
	}
	apptest.MustProblem(t, env.Do("GET", "/students/enrolments", s.owner, nil), 400, "invalid")
}

func guardianAccount(t *testing.T, s *school, prn string) string {
	t.Helper()
	u, err := account.ByPRN(context.Background(), s.env.TenantDB(s.slug), prn)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// 30 students enrol concurrently into a batch of 10: exactly 10 get a seat, the others 409, and the seat
// count matches the active enrolments.
func TestCapacityUnderConcurrency(t *testing.T) {
	s := newSchool(t)
	env := s.env
	var sts []student
	for i := range 30 {
		sts = append(sts, s.newStudent(t, fmt.Sprintf("Student %02d", i), s.branchA))
	}
	codes := make([]int, len(sts))
	var wg sync.WaitGroup
	for i, st := range sts {
		wg.Go(func() { codes[i] = s.enrol(st.ID, s.batchA.ID, "").Code })
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[201] != 10 || count[409] != 20 {
		t.Fatalf("status counts %v, want 10 x 201 and 20 x 409", count)
	}
	if b := s.batch(t, s.batchA.ID); b.Enrolled != 10 {
		t.Fatalf("batch counts %d enrolled, want 10", b.Enrolled)
	}
	if r := items[rosterEntry](t, env, "/students/batches/"+s.batchA.ID+"/roster", s.teacherA); len(r) != 10 {
		t.Fatalf("roster has %d students, want 10", len(r))
	}
	// The capacity cannot drop below the enrolled students, and a freed seat can be taken again.
	apptest.MustProblem(t, env.Do("PATCH", "/academic/batches/"+s.batchA.ID, s.owner, map[string]any{"capacity": 9}), 409, "conflict")
	var enrolled, waiting []student
	for i, c := range codes {
		if c == 201 {
			enrolled = append(enrolled, sts[i])
		} else {
			waiting = append(waiting, sts[i])
		}
	}
	e := items[enrolment](t, env, "/students/enrolments?student="+enrolled[0].ID, s.owner)[0]
	post[enrolment](t, env, "/students/enrolments/"+e.ID+"/withdraw", s.owner, map[string]any{}, 200)
	apptest.MustStatus(t, s.enrol(waiting[0].ID, s.batchA.ID, ""), 201)
	apptest.MustProblem(t, s.enrol(waiting[1].ID, s.batchA.ID, ""), 409, "conflict")
}

// One student enrolled into one batch ten times at once gets exactly one enrolment and one seat.
func TestDoubleEnrolmentUnderConcurrency(t *testing.T) {
	s := newSchool(t)
	st := s.newStudent(t, "Only Once", s.branchA)
	codes := make([]int, 10)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i] = s.enrol(st.ID, s.batchA.ID, "").Code })
	}
	wg.Wait()
	if n201 := slices.Index(codes, 201); n201 < 0 || len(slices.DeleteFunc(slices.Clone(codes), func(c int) bool { return c != 201 })) != 1 {
		t.Fatalf("codes %v, want exactly one 201", codes)
	}
	for _, c := range codes {
		if c != 201 && c != 409 {
			t.Fatalf("codes %v, want 201 once and 409 otherwise", codes)
		}
	}
	if es := items[enrolment](t, s.env, "/students/enrolments?student="+st.ID, s.owner); len(es) != 1 {
		t.Fatalf("%d enrolments, want 1", len(es))
	}
	if b := s.batch(t, s.batchA.ID); b.Enrolled != 1 {
		t.Fatalf("batch counts %d, want 1", b.Enrolled)
	}
}

// A student sees only their own record; another student's reads as 404 by every route.
func TestStudentSeesOnlyThemself(t *testing.T) {
	s := newSchool(t)
	env := s.env
	me := s.newStudent(t, "Meera", s.branchA)
	other := s.newStudent(t, "Omar", s.branchA)
	apptest.MustStatus(t, s.enrol(other.ID, s.batchA.ID, ""), 201)
	token := loginPRN(t, env, me.PRN)
	for _, path := range []string{
		"/students/" + other.ID,
		"/students/by-prn/" + other.PRN,
		"/students/enrolments?student=" + other.ID,
		"/students/guardians?student=" + other.ID,
		"/students/batches/" + s.batchA.ID + "/roster",
		"/students/" + missingID,
	} {
		apptest.MustProblem(t, env.Do("GET", path, token, nil), 404, "not_found")
	}
	if l := get[page[student]](t, env, "/students/", token).Items; len(l) != 1 || l[0].ID != me.ID {
		t.Fatalf("student's search = %+v, want only themself", l)
	}
	apptest.MustStatus(t, env.Do("GET", "/students/enrolments?student="+me.ID, token, nil), 200)
	// Reading is all a student may do.
	apptest.MustProblem(t, env.Do("PATCH", "/students/"+me.ID, token, map[string]any{"name": "Queen Meera"}), 403, "forbidden")
	apptest.MustProblem(t, env.Do("GET", "/academic/batches/"+s.batchA.ID, token, nil), 403, "forbidden")
}

// A guardian added to two children is one account; it sees both children and nothing else.
func TestGuardianSeesExactlyTheirChildren(t *testing.T) {
	s := newSchool(t)
	env := s.env
	c1 := s.newStudent(t, "Child One", s.branchA)
	c2 := s.newStudent(t, "Child Two", s.branchB)
	stranger := s.newStudent(t, "Stranger", s.branchA)
	g := post[guardian](t, env, "/students/guardians", s.owner, map[string]any{
		"student_id": c1.ID, "name": "Parent", "email": "parent@example.com", "phone": "+91 90000 00001", "password": apptest.Password,
	}, 201)
	if len(g.PRN) != 14 || g.PRN[4] != '8' {
		t.Fatalf("guardian PRN %q lacks role 8", g.PRN)
	}
	// Found again by phone (any spelling), then by email: the same guardian, no second account.
	again := post[guardian](t, env, "/students/guardians", s.owner, map[string]any{"student_id": c2.ID, "phone": "+919000000001"}, 201)
	if again.ID != g.ID || again.PRN != g.PRN {
		t.Fatalf("second child got guardian %+v, want %+v", again, g)
	}
	apptest.MustProblem(t, env.Do("POST", "/students/guardians", s.owner, map[string]any{"student_id": c2.ID, "email": "PARENT@example.com"}), 409, "conflict")
	// A new guardian needs a name and a password.
	apptest.MustProblem(t, env.Do("POST", "/students/guardians", s.owner, map[string]any{"student_id": stranger.ID, "email": "new@example.com"}), 400, "invalid")
	apptest.MustProblem(t, env.Do("POST", "/students/guardians", s.owner, map[string]any{"student_id": stranger.ID}), 400, "invalid")

	if gs := items[guardian](t, env, "/students/guardians?student="+c2.ID, s.owner); len(gs) != 1 || gs[0].ID != g.ID {
		t.Fatalf("guardians of child two = %+v", gs)
	}
	token := loginPRN(t, env, g.PRN)
	got := get[page[student]](t, env, "/students/", token).Items
	if len(got) != 2 || !slices.ContainsFunc(got, func(x student) bool { return x.ID == c1.ID }) || !slices.ContainsFunc(got, func(x student) bool { return x.ID == c2.ID }) {
		t.Fatalf("guardian's search = %+v, want exactly both children", got)
	}
	for _, c := range []student{c1, c2} {
		apptest.MustStatus(t, env.Do("GET", "/students/"+c.ID, token, nil), 200)
		apptest.MustStatus(t, env.Do("GET", "/students/by-prn/"+c.PRN, token, nil), 200)
	}
	apptest.MustProblem(t, env.Do("GET", "/students/"+stranger.ID, token, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/students/by-prn/"+stranger.PRN, token, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/students/enrolments?student="+stranger.ID, token, nil), 404, "not_found")
}

// Staff see the students of their branches; a teacher of A gets 404 for B's students and batches.
func TestBranchScope(t *testing.T) {
	s := newSchool(t)
	env := s.env
	a := s.newStudent(t, "In A", s.branchA)
	b := s.newStudent(t, "In B", s.branchB)
	apptest.MustStatus(t, s.enrol(b.ID, s.batchB.ID, ""), 201)
	apptest.MustStatus(t, env.Do("GET", "/students/"+a.ID, s.teacherA, nil), 200)
	apptest.MustProblem(t, env.Do("GET", "/students/"+b.ID, s.teacherA, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/students/batches/"+s.batchB.ID+"/roster", s.teacherA, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", "/students/?batch="+s.batchB.ID, s.teacherA, nil), 404, "not_found")
	if l := get[page[student]](t, env, "/students/", s.teacherA).Items; len(l) != 1 || l[0].ID != a.ID {
		t.Fatalf("teacher A's search = %+v", l)
	}
	if r := items[rosterEntry](t, env, "/students/batches/"+s.batchB.ID+"/roster", s.teacherB); len(r) != 1 || r[0].PRN != b.PRN {
		t.Fatalf("teacher B's roster = %+v", r)
	}
	// Teachers read students but do not enrol them.
	apptest.MustProblem(t, env.Do("POST", "/students/enrolments", s.teacherA, map[string]any{"student_id": a.ID, "batch_id": s.batchA.ID}), 403, "forbidden")
}

// Search by name prefix ignores case and punctuation, filters, and pages in name order.
func TestSearch(t *testing.T) {
	s := newSchool(t)
	env := s.env
	names := []string{"Aarav Shah", "aarti rao", "AARON Lee", "Aaron Abel", "Bala Murugan", "Aa-Ron Zed", "Zara Khan"}
	byName := map[string]student{}
	for i, n := range names {
		branch := s.branchA
		if i == 6 {
			branch = s.branchB
		}
		byName[n] = s.newStudent(t, n, branch)
	}
	search := func(token, q string) []string {
		t.Helper()
		var out []string
		cursor := ""
		for range 20 {
			p := get[page[student]](t, env, "/students/?limit=2&"+q+"&cursor="+cursor, token)
			if len(p.Items) > 2 {
				t.Fatalf("page of %d items, limit 2", len(p.Items))
			}
			for _, st := range p.Items {
				out = append(out, st.Name)
			}
			if cursor = p.NextCursor; cursor == "" {
				return out
			}
		}
		t.Fatal("paging did not end")
		return nil
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"q=aar", []string{"Aarav Shah", "Aaron Abel", "AARON Lee", "aarti rao"}},
		{"q=AAR", []string{"Aarav Shah", "Aaron Abel", "AARON Lee", "aarti rao"}},
		{"q=aaron", []string{"Aaron Abel", "AARON Lee"}},
		{"q=" + url.QueryEscape("aa ron"), []string{"Aa-Ron Zed"}},
		{"q=zz", nil},
		{"branch=" + s.branchB, []string{"Zara Khan"}},
		{"q=a&status=active", []string{"Aa-Ron Zed", "Aarav Shah", "Aaron Abel", "AARON Lee", "aarti rao"}},
		{"", []string{"Aa-Ron Zed", "Aarav Shah", "Aaron Abel", "AARON Lee", "aarti rao", "Bala Murugan", "Zara Khan"}},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			if got := search(s.owner, c.q); !slices.Equal(got, c.want) {
				t.Fatalf("search %q = %q, want %q", c.q, got, c.want)
			}
		})
	}
	// Batch and status filters.
	apptest.MustStatus(t, s.enrol(byName["Bala Murugan"].ID, s.batchA.ID, ""), 201)
	if got := search(s.owner, "batch="+s.batchA.ID); !slices.Equal(got, []string{"Bala Murugan"}) {
		t.Fatalf("batch filter = %q", got)
	}
	apptest.MustStatus(t, env.Do("PATCH", "/students/"+byName["Aaron Abel"].ID, s.owner, map[string]any{"status": "withdrawn"}), 200)
	if got := search(s.owner, "q=aaron&status=withdrawn"); !slices.Equal(got, []string{"Aaron Abel"}) {
		t.Fatalf("status filter = %q", got)
	}
	for _, bad := range []string{"status=gone", "cursor=nonsense", "limit=0", "q=" + url.QueryEscape("--")} {
		apptest.MustProblem(t, env.Do("GET", "/students/?"+bad, s.owner, nil), 400, "invalid")
	}
}

// Transfers and withdrawals keep the history: nothing is deleted, dates say who was where on each day.
func TestTransferAndWithdrawHistory(t *testing.T) {
	s := newSchool(t)
	env := s.env
	st := s.newStudent(t, "Mover", s.branchA)
	other := s.newBatch(t, s.branchA, 1)
	first := apptest.Decode[enrolment](t, s.enrol(st.ID, s.batchA.ID, "2026-06-01"))
	if first.Status != "active" || first.From != "2026-06-01" {
		t.Fatalf("enrolment = %+v", first)
	}
	apptest.MustProblem(t, s.enrol(st.ID, s.batchA.ID, ""), 409, "conflict")

	transfer := func(e enrolment, to, date string) *httptest.ResponseRecorder {
		return env.Do("POST", "/students/enrolments/"+e.ID+"/transfer", s.owner, map[string]any{"batch_id": to, "date": date})
	}
	apptest.MustProblem(t, transfer(first, s.batchA.ID, "2026-06-10"), 400, "invalid")
	apptest.MustProblem(t, transfer(first, s.batchB.ID, "2026-06-10"), 400, "invalid") // another branch
	apptest.MustProblem(t, transfer(first, other.ID, "2026-05-01"), 400, "invalid")    // before it started
	apptest.MustProblem(t, transfer(first, missingID, "2026-06-10"), 404, "not_found")
	// The target batch is full: nothing changes.
	filler := s.newStudent(t, "Filler", s.branchA)
	apptest.MustStatus(t, s.enrol(filler.ID, other.ID, ""), 201)
	apptest.MustProblem(t, transfer(first, other.ID, "2026-06-10"), 409, "conflict")
	if es := items[enrolment](t, env, "/students/enrolments?student="+st.ID, s.owner); len(es) != 1 || es[0].Status != "active" {
		t.Fatalf("after a refused transfer: %+v", es)
	}
	if b := s.batch(t, s.batchA.ID); b.Enrolled != 1 {
		t.Fatalf("batch A counts %d after a refused transfer, want 1", b.Enrolled)
	}
	fe := items[enrolment](t, env, "/students/enrolments?student="+filler.ID, s.owner)[0]
	post[enrolment](t, env, "/students/enrolments/"+fe.ID+"/withdraw", s.owner, map[string]any{"date": "2026-06-05"}, 200)

	second := post[enrolment](t, env, "/students/enrolments/"+first.ID+"/transfer", s.owner, map[string]any{"batch_id": other.ID, "date": "2026-06-10"}, 201)
	if second.BatchID != other.ID || second.From != "2026-06-10" || second.Status != "active" {
		t.Fatalf("new enrolment = %+v", second)
	}
	apptest.MustProblem(t, transfer(first, other.ID, "2026-06-11"), 409, "conflict")
	hist := items[enrolment](t, env, "/students/enrolments?student="+st.ID, s.owner)
	if len(hist) != 2 || hist[0].Status != "transferred" || hist[0].To != "2026-06-10" || hist[0].TransferredTo != second.ID {
		t.Fatalf("history = %+v", hist)
	}
	if a, o := s.batch(t, s.batchA.ID), s.batch(t, other.ID); a.Enrolled != 0 || o.Enrolled != 1 {
		t.Fatalf("seats after transfer: A %d, other %d", a.Enrolled, o.Enrolled)
	}
	roster := func(b, date string) int {
		return len(items[rosterEntry](t, env, "/students/batches/"+b+"/roster?date="+date, s.owner))
	}
	for _, c := range []struct {
		batch, date string
		want        int
	}{
		{s.batchA.ID, "2026-05-31", 0}, {s.batchA.ID, "2026-06-01", 1}, {s.batchA.ID, "2026-06-09", 1}, {s.batchA.ID, "2026-06-10", 0},
		{other.ID, "2026-06-09", 0}, {other.ID, "2026-06-10", 1},
	} {
		if got := roster(c.batch, c.date); got != c.want {
			t.Errorf("roster of %s on %s has %d, want %d", c.batch, c.date, got, c.want)
		}
	}
	apptest.MustProblem(t, env.Do("GET", "/students/batches/"+other.ID+"/roster?date=June", s.owner, nil), 400, "invalid")

	// Withdrawing the student closes what is open; the history stays.
	rec := env.Do("PATCH", "/students/"+st.ID, s.owner, map[string]any{"status": "withdrawn", "name": "Mover Moved"})
	apptest.MustStatus(t, rec, 200)
	hist = items[enrolment](t, env, "/students/enrolments?student="+st.ID, s.owner)
	if len(hist) != 2 || hist[1].Status != "withdrawn" || hist[1].To != "2026-06-10" {
		t.Fatalf("history after withdrawal = %+v", hist)
	}
	if o := s.batch(t, other.ID); o.Enrolled != 0 {
		t.Fatalf("other batch counts %d after withdrawal", o.Enrolled)
	}
	apptest.MustProblem(t, s.enrol(st.ID, s.batchA.ID, ""), 409, "conflict")

	// Every change is in the audit log.
	for _, target := range []struct{ kind, id, action string }{
		{"enrolment", first.ID, "students.enrolment.created"},
		{"enrolment", first.ID, "students.enrolment.transferred"},
		{"enrolment", fe.ID, "students.enrolment.withdrawn"},
		{"student", st.ID, "students.student.updated"},
		{"student", st.ID, "students.student.created"},
	} {
		entries := items[struct {
			Action string `json:"action"`
		}](t, env, "/users/audit?kind="+target.kind+"&id="+target.id, s.owner)
		if !slices.ContainsFunc(entries, func(e struct {
			Action string `json:"action"`
		}) bool {
			return e.Action == target.action
		}) {
			t.Errorf("no %s entry for %s %s: %+v", target.action, target.kind, target.id, entries)
		}
	}
	if rep := get[struct {
		OK bool `json:"ok"`
	}](t, env, "/users/audit/verify", s.owner); !rep.OK {
		t.Fatal("audit chain does not verify")
	}
}

// The Go API other areas build on.
func TestContractFunctions(t *testing.T) {
	s := newSchool(t)
	env := s.env
	st := s.newStudent(t, "Contract", s.branchA)
	stranger := s.newStudent(t, "Stranger", s.branchB)
	g := post[guardian](t, env, "/students/guardians", s.owner, map[string]any{
		"student_id": st.ID, "name": "Parent", "phone": "9000000002", "password": apptest.Password,
	}, 201)
	e := apptest.Decode[enrolment](t, s.enrol(st.ID, s.batchA.ID, "2026-06-03"))
	post[enrolment](t, env, "/students/enrolments/"+e.ID+"/withdraw", s.owner, map[string]any{"date": "2026-06-20"}, 200)

	ctx := context.Background()
	db := s.env.TenantDB(s.slug)
	for date, want := range map[string]int{"2026-06-02": 0, "2026-06-03": 1, "2026-06-19": 1, "2026-06-20": 0} {
		got, err := students.ActiveEnrolmentsOn(ctx, db, s.batchA.ID, date)
		if err != nil || len(got) != want || want == 1 && got[0].StudentID != st.ID {
			t.Errorf("ActiveEnrolmentsOn(%s) = %+v, %v; want %d", date, got, err, want)
		}
	}
	if _, err := students.ActiveEnrolmentsOn(ctx, db, s.batchA.ID, "June"); err == nil {
		t.Error("ActiveEnrolmentsOn accepted a malformed date")
	}
	gs, err := students.GuardiansOf(ctx, db, st.ID)
	if err != nil || len(gs) != 1 || gs[0].ID != g.ID || gs[0].Phone != "9000000002" {
		t.Fatalf("GuardiansOf = %+v, %v", gs, err)
	}
	if gs, err := students.GuardiansOf(ctx, db, stranger.ID); err != nil || gs == nil || len(gs) != 0 {
		t.Fatalf("GuardiansOf(no guardians) = %#v, %v; want an empty slice", gs, err)
	}

	as := func(p rbac.Principal) context.Context { return store.WithDatabase(rbac.WithPrincipal(ctx, p), db) }
	cases := []struct {
		name    string
		p       rbac.Principal
		student string
		ok      bool
	}{
		{"owner", rbac.Principal{Subject: "o", Role: rbac.Owner}, stranger.ID, true},
		{"teacher of the branch", rbac.Principal{Subject: "t", Role: rbac.Teacher, Branches: []string{s.branchA}}, st.ID, true},
		{"teacher of another branch", rbac.Principal{Subject: "t", Role: rbac.Teacher, Branches: []string{s.branchA}}, stranger.ID, false},
		{"the student", rbac.Principal{Subject: st.AccountID, Role: rbac.Student}, st.ID, true},
		{"another student", rbac.Principal{Subject: st.AccountID, Role: rbac.Student}, stranger.ID, false},
		{"the guardian", rbac.Principal{Subject: guardianAccount(t, s, g.PRN), Role: rbac.Guardian}, st.ID, true},
		{"the guardian, someone else's child", rbac.Principal{Subject: guardianAccount(t, s, g.PRN), Role: rbac.Guardian}, stranger.ID, false},
		{"no such student", rbac.Principal{Subject: "o", Role: rbac.Owner}, missingID, false},
	}
	for _, c := range cases {
		err := students.CanSeeStudent(as(c.p), c.student)
		if c.ok && err != nil || !c.ok && (err == nil || err.Error() != "not_found: no such student") {
			t.Errorf("%s: CanSeeStudent = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// Profile changes reach the search key and the sign-in account, are audited, and stay within scope; another
// tenant's students and batches do not exist for a caller.
func TestProfileChangeAndTenantIsolation(t *testing.T) {
	s := newSchool(t)
	env := s.env
	st := s.newStudent(t, "Old Name", s.branchA)
	rec := env.Do("PATCH", "/students/"+st.ID, s.owner, map[string]any{"name": "Nisha Verma", "phone": "+91 91111 22222", "email": "nisha@example.com"})
	apptest.MustStatus(t, rec, 200)
	if got := apptest.Decode[student](t, rec); got.Name != "Nisha Verma" || got.Phone != "+919111122222" || got.Email != "nisha@example.com" || got.PRN != st.PRN {
		t.Fatalf("changed student = %+v", got)
	}
	if l := get[page[student]](t, env, "/students/?q=nish", s.owner).Items; len(l) != 1 || l[0].ID != st.ID {
		t.Fatalf("search by the new name = %+v", l)
	}
	if l := get[page[student]](t, env, "/students/?q=old", s.owner).Items; len(l) != 0 {
		t.Fatalf("search by the old name = %+v", l)
	}
	token := loginPRN(t, env, st.PRN)
	me := get[struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}](t, env, "/auth/me", token)
	if me.Name != "Nisha Verma" || me.Email != "nisha@example.com" {
		t.Fatalf("account after the change = %+v", me)
	}
	// Refused changes write nothing.
	for _, c := range []struct {
		body         map[string]any
		status       int
		code, reason string
	}{
		{map[string]any{"email": "ta@alpha.test"}, 409, "conflict", "email of a staff account"},
		{map[string]any{"date_of_birth": "2026-06-02"}, 400, "invalid", "born tomorrow"},
		{map[string]any{"status": "expelled"}, 400, "invalid", "unknown status"},
		{map[string]any{"prn": "1"}, 400, "invalid", "unknown field"},
	} {
		apptest.MustProblem(t, env.Do("PATCH", "/students/"+st.ID, s.owner, c.body), c.status, c.code)
	}
	if got := get[student](t, env, "/students/"+st.ID, s.owner); got.Email != "nisha@example.com" || got.DateOfBirth != "2010-04-05" {
		t.Fatalf("student after refused changes = %+v", got)
	}
	apptest.MustProblem(t, env.Do("PATCH", "/students/"+st.ID, s.teacherA, map[string]any{"name": "X"}), 403, "forbidden")

	env.Provision("bravo")
	other := env.Login("bravo", "owner@bravo.test").AccessToken
	for _, path := range []string{"/students/" + st.ID, "/students/by-prn/" + st.PRN, "/academic/batches/" + s.batchA.ID, "/students/batches/" + s.batchA.ID + "/roster"} {
		apptest.MustProblem(t, env.Do("GET", path, other, nil), 404, "not_found")
	}
	apptest.MustProblem(t, env.Do("POST", "/students/enrolments", other, map[string]any{"student_id": st.ID, "batch_id": s.batchA.ID}), 404, "not_found")
	if l := get[page[student]](t, env, "/students/", other).Items; len(l) != 0 {
		t.Fatalf("another tenant's owner lists %+v", l)
	}
}

// TestTimetableFollowsTransfers: a student's timetable holds each batch's sessions only on the days their
// enrolment in it covers, in start order; the range is checked before anything is read.
func TestTimetableFollowsTransfers(t *testing.T) {
	s := newSchool(t)
	env := s.env
	st := s.newStudent(t, "Mover", s.branchA)
	other := s.newBatch(t, s.branchA, 5)
	first := apptest.Decode[enrolment](t, s.enrol(st.ID, s.batchA.ID, "2026-06-01"))
	apptest.MustStatus(t, env.Do("POST", "/students/enrolments/"+first.ID+"/transfer", s.owner, map[string]any{"batch_id": other.ID, "date": "2026-06-15"}), 201)
	type entry struct {
		BatchID   string `json:"batch_id"`
		BatchName string `json:"batch_name"`
		Date      string `json:"date"`
	}
	got := items[entry](t, env, "/students/timetable?student="+st.ID+"&from=2026-06-01&to=2026-06-30", s.owner)
	want := []entry{ // the batches meet on Mondays
		{s.batchA.ID, "Batch", "2026-06-01"}, {s.batchA.ID, "Batch", "2026-06-08"},
		{other.ID, "Batch", "2026-06-15"}, {other.ID, "Batch", "2026-06-22"}, {other.ID, "Batch", "2026-06-29"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("timetable = %+v\nwant %+v", got, want)
	}
	tests := []struct {
		query  string
		status int
		fields map[string]string
	}{
		{"", 400, map[string]string{"student": "required"}},
		{"student=" + st.ID + "&from=2026-06-30&to=2026-06-01", 400, map[string]string{"to": "out_of_range"}},
		{"student=" + st.ID + "&from=2026-06-01&to=2026-09-01", 400, map[string]string{"to": "out_of_range"}},
		{"student=" + st.ID + "&from=1%20June&to=2026-13-01", 400, map[string]string{"from": "format", "to": "format"}},
		{"student=" + st.ID + "&limit=0", 400, map[string]string{"limit": "out_of_range"}},
		{"student=" + missingID, 404, nil},
	}
	for _, tt := range tests {
		rec := env.Do("GET", "/students/timetable?"+tt.query, s.owner, nil)
		if tt.status == 404 {
			apptest.MustProblem(t, rec, 404, "not_found")
			continue
		}
		p := apptest.MustProblem(t, rec, tt.status, "invalid")
		for f, code := range tt.fields {
			if p.FieldCode(f) != code || len(p.Errors) != len(tt.fields) {
				t.Errorf("%q: errors %+v, want %v", tt.query, p.Errors, tt.fields)
			}
		}
	}
	// A teacher of another branch reads the student as missing.
	apptest.MustProblem(t, env.Do("GET", "/students/timetable?student="+st.ID, s.teacherB, nil), 404, "not_found")
}
