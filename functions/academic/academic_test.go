package academic_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type course struct {
	ID       string   `json:"id"`
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Subjects []string `json:"subjects"`
}

type slot struct {
	Weekday         string `json:"weekday"`
	Start           string `json:"start"`
	DurationMinutes int    `json:"duration_minutes"`
}

type batch struct {
	ID        string   `json:"id"`
	CourseID  string   `json:"course_id"`
	BranchID  string   `json:"branch_id"`
	Name      string   `json:"name"`
	Teachers  []string `json:"teachers"`
	Capacity  int      `json:"capacity"`
	Enrolled  int      `json:"enrolled"`
	StartDate string   `json:"start_date"`
	EndDate   string   `json:"end_date"`
	Schedule  []slot   `json:"schedule"`
}

type session struct {
	ID              string    `json:"id"`
	BatchID         string    `json:"batch_id"`
	BranchID        string    `json:"branch_id"`
	Date            string    `json:"date"`
	StartsAt        time.Time `json:"starts_at"`
	DurationMinutes int       `json:"duration_minutes"`
	Status          string    `json:"status"`
	Kind            string    `json:"kind"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

const missingID = "0123456789abcdef01234567"

func post[T any](t testing.TB, env *apptest.Env, path, token string, body any, want int) T {
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

type ids struct{ ID string }

// school is a tenant with two branches, a teacher in each (plus a second teacher in A), a branch admin of
// B, a course, and one batch in each branch taught by that branch's first teacher.
type school struct {
	env                           *apptest.Env
	owner, teacherA, teacherA2    string
	teacherB, adminB              string
	branchA, branchB              string
	teacherAID, teacherA2ID, tBID string
	course                        course
	batchA, batchB                batch
}

func newSchool(t testing.TB, zone string) *school {
	t.Helper()
	env := apptest.New(t)
	slug := "alpha"
	env.Provision(slug)
	if zone != "" {
		settings := tenant.DefaultSettings()
		settings.Timezone = zone
		apptest.MustStatus(t, env.Do("PUT", "/platform/tenants/"+slug+"/settings", env.AdminToken(), settings), http.StatusOK)
	}
	s := &school{env: env, owner: env.Login(slug, "owner@alpha.test").AccessToken}
	s.branchA = post[ids](t, env, "/users/branches", s.owner, map[string]string{"code": "AA", "name": "Branch A"}, 201).ID
	s.branchB = post[ids](t, env, "/users/branches", s.owner, map[string]string{"code": "BB", "name": "Branch B"}, 201).ID
	staff := func(email, role, branch string) string {
		return post[ids](t, env, "/users/staff", s.owner, map[string]any{"email": email, "name": email, "role": role,
			"branches": []string{branch}, "password": apptest.Password}, 201).ID
	}
	s.teacherAID = staff("ta@alpha.test", "teacher", s.branchA)
	s.teacherA2ID = staff("ta2@alpha.test", "teacher", s.branchA)
	s.tBID = staff("tb@alpha.test", "teacher", s.branchB)
	staff("ab@alpha.test", "branch_admin", s.branchB)
	s.teacherA = env.Login(slug, "ta@alpha.test").AccessToken
	s.teacherA2 = env.Login(slug, "ta2@alpha.test").AccessToken
	s.teacherB = env.Login(slug, "tb@alpha.test").AccessToken
	s.adminB = env.Login(slug, "ab@alpha.test").AccessToken
	s.course = post[course](t, env, "/academic/courses", s.owner, map[string]any{"code": "JEE-27", "name": "JEE 2027", "subjects": []string{"Physics", "Maths"}}, 201)
	s.batchA = post[batch](t, env, "/academic/batches", s.owner, s.batchBody(s.branchA, s.teacherAID), 201)
	s.batchB = post[batch](t, env, "/academic/batches", s.owner, s.batchBody(s.branchB, s.tBID), 201)
	return s
}

func (s *school) batchBody(branch string, teachers ...string) map[string]any {
	return map[string]any{
		"course_id": s.course.ID, "branch_id": branch, "name": "Morning", "teachers": teachers, "capacity": 10,
		"start_date": "2026-06-01", "end_date": "2026-06-28",
		"schedule": []slot{{"monday", "09:00", 90}, {"thursday", "16:30", 60}},
	}
}

func TestCourses(t *testing.T) {
	s := newSchool(t, "")
	env := s.env
	got := get[course](t, env, "/academic/courses/"+s.course.ID, s.teacherB)
	if got.Code != "JEE-27" || len(got.Subjects) != 2 {
		t.Fatalf("course = %+v", got)
	}
	apptest.MustProblem(t, env.Do("POST", "/academic/courses", s.owner, map[string]any{"code": "JEE-27", "name": "Again"}), 409, "conflict")
	// Teachers read courses but do not manage them.
	apptest.MustProblem(t, env.Do("POST", "/academic/courses", s.teacherA, map[string]any{"code": "NEET", "name": "NEET"}), 403, "forbidden")
	changed := map[string]any{"name": "JEE Main 2027", "subjects": []string{"Physics"}}
	rec := env.Do("PATCH", "/academic/courses/"+s.course.ID, s.adminB, changed)
	apptest.MustStatus(t, rec, 200)
	if c := apptest.Decode[course](t, rec); c.Name != "JEE Main 2027" || len(c.Subjects) != 1 || c.Code != "JEE-27" {
		t.Fatalf("changed course = %+v", c)
	}
	apptest.MustProblem(t, env.Do("GET", "/academic/courses/"+missingID, s.owner, nil), 404, "not_found")
}

// Bad input is refused with 400 and writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	s := newSchool(t, "")
	env := s.env
	courseCases := []map[string]any{
		{"code": "x", "name": "Lower case and short"},
		{"code": "OK-1", "name": "  "},
		{"code": "OK-1", "name": "Dup subjects", "subjects": []string{"A", "A"}},
		{"code": "OK-1", "name": "Unknown field", "owner": "me"},
		{"code": "OK-1", "name": map[string]any{"$ne": ""}},
	}
	for i, body := range courseCases {
		t.Run(fmt.Sprintf("course %d", i), func(t *testing.T) {
			apptest.MustProblem(t, env.Do("POST", "/academic/courses", s.owner, body), 400, "invalid")
		})
	}
	if n := len(get[page[course]](t, env, "/academic/courses", s.owner).Items); n != 1 {
		t.Fatalf("%d courses after refused creations, want 1", n)
	}

	mutate := func(f func(b map[string]any)) map[string]any {
		b := s.batchBody(s.branchA, s.teacherAID)
		f(b)
		return b
	}
	batchCases := map[string]map[string]any{
		"zero capacity":    mutate(func(b map[string]any) { b["capacity"] = 0 }),
		"end before start": mutate(func(b map[string]any) { b["end_date"] = "2026-05-01" }),
		"bad date":         mutate(func(b map[string]any) { b["start_date"] = "2026-6-1" }),
		"bad weekday":      mutate(func(b map[string]any) { b["schedule"] = []slot{{"Mon", "09:00", 60}} }),
		"bad start":        mutate(func(b map[string]any) { b["schedule"] = []slot{{"monday", "25:00", 60}} }),
		"short session":    mutate(func(b map[string]any) { b["schedule"] = []slot{{"monday", "09:00", 5}} }),
		"no schedule":      mutate(func(b map[string]any) { b["schedule"] = []slot{} }),
		"too long":         mutate(func(b map[string]any) { b["end_date"] = "2029-01-01" }),
		"too many sessions": mutate(func(b map[string]any) {
			// Two a weekday for 100 weeks is 1,000 sessions; the Monday after makes 1,002.
			b["end_date"] = "2028-05-01"
			var twice []slot
			for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
				twice = append(twice, slot{d, "07:00", 60}, slot{d, "12:00", 60})
			}
			b["schedule"] = twice
		}),
		"teacher of branch B":    mutate(func(b map[string]any) { b["teachers"] = []string{s.tBID} }),
		"teacher is not a user":  mutate(func(b map[string]any) { b["teachers"] = []string{missingID} }),
		"unknown course":         mutate(func(b map[string]any) { b["course_id"] = missingID }),
		"unknown branch":         mutate(func(b map[string]any) { b["branch_id"] = missingID }),
		"teacher listed twice":   mutate(func(b map[string]any) { b["teachers"] = []string{s.teacherAID, s.teacherAID} }),
		"operator for a string":  mutate(func(b map[string]any) { b["branch_id"] = map[string]string{"$gt": ""} }),
		"branch admin of B in A": nil,
	}
	for name, body := range batchCases {
		t.Run(name, func(t *testing.T) {
			token := s.owner
			if body == nil {
				body, token = s.batchBody(s.branchA), s.adminB
			}
			apptest.MustProblem(t, env.Do("POST", "/academic/batches", token, body), 400, "invalid")
		})
	}
	if n := len(get[page[batch]](t, env, "/academic/batches", s.owner).Items); n != 2 {
		t.Fatalf("%d batches after refused creations, want 2", n)
	}
	// Sessions of refused batches were never materialised: every session belongs to one of the two.
	for _, b := range []batch{s.batchA, s.batchB} {
		if n := len(get[page[session]](t, env, "/academic/batches/"+b.ID+"/sessions", s.owner).Items); n != 8 {
			t.Fatalf("batch %s has %d sessions, want 8", b.ID, n)
		}
	}
}

// Teachers see and change only their batches, branch staff only their branches' batches; the rest is 404.
func TestBatchVisibility(t *testing.T) {
	s := newSchool(t, "")
	env := s.env
	cases := []struct {
		name, token string
		batch       batch
		want        int
	}{
		{"owner sees A", s.owner, s.batchA, 200},
		{"owner sees B", s.owner, s.batchB, 200},
		{"teacher of A sees their batch", s.teacherA, s.batchA, 200},
		{"another teacher of A does not see it", s.teacherA2, s.batchA, 404},
		{"teacher of B does not see A's batch", s.teacherB, s.batchA, 404},
		{"teacher of A does not see B's batch", s.teacherA, s.batchB, 404},
		{"branch admin of B sees B", s.adminB, s.batchB, 200},
		{"branch admin of B does not see A", s.adminB, s.batchA, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := env.Do("GET", "/academic/batches/"+c.batch.ID, c.token, nil)
			apptest.MustStatus(t, rec, c.want)
			rec = env.Do("GET", "/academic/batches/"+c.batch.ID+"/sessions", c.token, nil)
			apptest.MustStatus(t, rec, c.want)
		})
	}
	if l := get[page[batch]](t, env, "/academic/batches", s.teacherA).Items; len(l) != 1 || l[0].ID != s.batchA.ID {
		t.Fatalf("teacher A lists %+v, want only batch A", l)
	}
	if l := get[page[batch]](t, env, "/academic/batches", s.teacherA2).Items; len(l) != 0 {
		t.Fatalf("teacher A2 lists %+v, want none", l)
	}
	if l := get[page[batch]](t, env, "/academic/batches?branch="+s.branchA, s.adminB).Items; len(l) != 0 {
		t.Fatalf("branch admin of B lists %+v in branch A", l)
	}

	// Changing: the branch admin of B may not touch A's batch; a teacher may not change a batch at all, but
	// may schedule and cancel sessions of their own batch only.
	apptest.MustProblem(t, env.Do("PATCH", "/academic/batches/"+s.batchA.ID, s.adminB, map[string]any{"capacity": 5}), 404, "not_found")
	apptest.MustProblem(t, env.Do("PATCH", "/academic/batches/"+s.batchA.ID, s.teacherA, map[string]any{"capacity": 5}), 403, "forbidden")
	extra := map[string]any{"date": "2026-06-06", "start": "10:00", "duration_minutes": 60}
	apptest.MustProblem(t, env.Do("POST", "/academic/batches/"+s.batchA.ID+"/sessions", s.teacherB, extra), 404, "not_found")
	sessions := get[page[session]](t, env, "/academic/batches/"+s.batchA.ID+"/sessions", s.teacherA).Items
	apptest.MustProblem(t, env.Do("POST", "/academic/sessions/"+sessions[0].ID+"/cancel", s.teacherB, map[string]any{}), 404, "not_found")
	apptest.MustProblem(t, env.Do("POST", "/academic/sessions/"+sessions[0].ID+"/cancel", s.teacherA2, map[string]any{}), 404, "not_found")
	cancelled := post[session](t, env, "/academic/sessions/"+sessions[0].ID+"/cancel", s.teacherA, map[string]any{"reason": "holiday"}, 200)
	if cancelled.Status != "cancelled" {
		t.Fatalf("cancelled session = %+v", cancelled)
	}
	apptest.MustProblem(t, env.Do("POST", "/academic/sessions/"+sessions[0].ID+"/cancel", s.teacherA, map[string]any{}), 409, "conflict")

	// Adding the second teacher to the batch lets them see it.
	rec := env.Do("PATCH", "/academic/batches/"+s.batchA.ID, s.owner, map[string]any{"teachers": []string{s.teacherAID, s.teacherA2ID}})
	apptest.MustStatus(t, rec, 200)
	apptest.MustStatus(t, env.Do("GET", "/academic/batches/"+s.batchA.ID, s.teacherA2, nil), 200)
}

func TestExtraSessions(t *testing.T) {
	s := newSchool(t, "")
	env := s.env
	path := "/academic/batches/" + s.batchA.ID + "/sessions"
	ex := post[session](t, env, path, s.teacherA, map[string]any{"date": "2026-06-06", "start": "10:00", "duration_minutes": 60}, 201)
	if ex.Kind != "extra" || ex.Status != "scheduled" || ex.Date != "2026-06-06" || !ex.StartsAt.Equal(time.Date(2026, 6, 6, 4, 30, 0, 0, time.UTC)) {
		t.Fatalf("extra session = %+v (Kolkata 10:00 is 04:30 UTC)", ex)
	}
	// Monday 2026-06-01 09:00 is a regular session already.
	apptest.MustProblem(t, env.Do("POST", path, s.teacherA, map[string]any{"date": "2026-06-01", "start": "09:00", "duration_minutes": 60}), 409, "conflict")
	for _, bad := range []map[string]any{
		{"date": "June 6", "start": "10:00", "duration_minutes": 60},
		{"date": "2026-06-06", "start": "10am", "duration_minutes": 60},
		{"date": "2026-06-06", "start": "10:00", "duration_minutes": 0},
	} {
		apptest.MustProblem(t, env.Do("POST", path, s.teacherA, bad), 400, "invalid")
	}
	all := get[page[session]](t, env, path, s.owner).Items
	if len(all) != 9 {
		t.Fatalf("%d sessions, want 8 regular and 1 extra", len(all))
	}
	for i := 1; i < len(all); i++ {
		if !all[i-1].StartsAt.Before(all[i].StartsAt) {
			t.Fatalf("sessions not in start order at %d: %v then %v", i, all[i-1].StartsAt, all[i].StartsAt)
		}
	}
	// Pages of 4 walk the same sessions in the same order; a date range narrows them.
	var walked []session
	cursor := ""
	for range 10 {
		p := get[page[session]](t, env, path+"?limit=4&cursor="+cursor, s.owner)
		walked = append(walked, p.Items...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(walked) != len(all) || walked[4].ID != all[4].ID || walked[8].ID != all[8].ID {
		t.Fatalf("paged walk gave %d sessions, want %d in the same order", len(walked), len(all))
	}
	week := get[page[session]](t, env, path+"?from=2026-06-01&to=2026-06-07", s.owner).Items
	if len(week) != 3 {
		t.Fatalf("first week has %d sessions, want Monday, Thursday and the extra Saturday", len(week))
	}
	apptest.MustProblem(t, env.Do("GET", path+"?from=yesterday", s.owner, nil), 400, "invalid")
}

// Sessions are materialised in the tenant's zone: the date is the local date the session starts on and
// the UTC start follows the zone's offset on that date, across DST changes.
func TestSessionMaterialisationTimeZones(t *testing.T) {
	cases := []struct {
		zone     string
		start    string
		end      string
		schedule []slot
		// want maps a session's local date to its UTC start.
		want map[string]time.Time
	}{
		{
			// No DST; +05:30. A Monday 01:00 class starts on Sunday in UTC, but its date is Monday.
			zone: "Asia/Kolkata", start: "2026-06-01", end: "2026-06-14",
			schedule: []slot{{"monday", "01:00", 60}, {"friday", "18:00", 60}},
			want: map[string]time.Time{
				"2026-06-01": time.Date(2026, 5, 31, 19, 30, 0, 0, time.UTC),
				"2026-06-05": time.Date(2026, 6, 5, 12, 30, 0, 0, time.UTC),
				"2026-06-08": time.Date(2026, 6, 7, 19, 30, 0, 0, time.UTC),
				"2026-06-12": time.Date(2026, 6, 12, 12, 30, 0, 0, time.UTC),
			},
		},
		{
			// Clocks go forward on Sunday 2026-03-29 and back on Sunday 2026-10-25.
			zone: "Europe/London", start: "2026-03-23", end: "2026-04-05",
			schedule: []slot{{"monday", "09:00", 60}, {"sunday", "23:30", 60}},
			want: map[string]time.Time{
				"2026-03-23": time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC),   // GMT
				"2026-03-29": time.Date(2026, 3, 29, 22, 30, 0, 0, time.UTC), // BST from 01:00 that day
				"2026-03-30": time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC),
				"2026-04-05": time.Date(2026, 4, 5, 22, 30, 0, 0, time.UTC),
			},
		},
		{
			zone: "Europe/London", start: "2026-10-19", end: "2026-10-26",
			schedule: []slot{{"monday", "09:00", 60}, {"sunday", "00:30", 60}},
			want: map[string]time.Time{
				"2026-10-19": time.Date(2026, 10, 19, 8, 0, 0, 0, time.UTC),   // BST
				"2026-10-25": time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC), // still BST at 00:30, on Saturday in UTC
				"2026-10-26": time.Date(2026, 10, 26, 9, 0, 0, 0, time.UTC),   // GMT
			},
		},
	}
	for _, c := range cases {
		t.Run(c.zone+" "+c.start, func(t *testing.T) {
			s := newSchool(t, c.zone)
			body := s.batchBody(s.branchA, s.teacherAID)
			body["start_date"], body["end_date"], body["schedule"] = c.start, c.end, c.schedule
			b := post[batch](t, s.env, "/academic/batches", s.owner, body, 201)
			got := get[page[session]](t, s.env, "/academic/batches/"+b.ID+"/sessions", s.owner).Items
			if len(got) != len(c.want) {
				t.Fatalf("%d sessions, want %d: %+v", len(got), len(c.want), got)
			}
			loc, _ := time.LoadLocation(c.zone)
			for _, ses := range got {
				want, ok := c.want[ses.Date]
				if !ok || !ses.StartsAt.Equal(want) {
					t.Errorf("session on %s starts %v, want %v", ses.Date, ses.StartsAt, want)
				}
				if local := ses.StartsAt.In(loc).Format(time.DateOnly); local != ses.Date {
					t.Errorf("session dated %s starts on local date %s", ses.Date, local)
				}
				if ses.Kind != "regular" || ses.Status != "scheduled" || ses.BranchID != s.branchA {
					t.Errorf("session = %+v", ses)
				}
			}
		})
	}
}

// The capacity may be raised and lowered, but not below the students already enrolled (tested with
// enrolments in the students package); here, the bounds.
func TestBatchChangeBounds(t *testing.T) {
	s := newSchool(t, "")
	env := s.env
	path := "/academic/batches/" + s.batchA.ID
	for _, bad := range []map[string]any{{"capacity": 0}, {"capacity": 5000}, {"teachers": []string{s.tBID}}, {"name": ""}} {
		apptest.MustProblem(t, env.Do("PATCH", path, s.owner, bad), 400, "invalid")
	}
	rec := env.Do("PATCH", path, s.owner, map[string]any{"capacity": 25, "name": "Evening"})
	apptest.MustStatus(t, rec, 200)
	if b := apptest.Decode[batch](t, rec); b.Capacity != 25 || b.Name != "Evening" || b.Enrolled != 0 || len(b.Schedule) != 2 {
		t.Fatalf("changed batch = %+v", b)
	}
}
