package attendance_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
)

// BenchmarkMarkSessions bulk-marks 10,000 attendance records through the API: 200 sessions (10 batches of
// 50 students, 20 weekday sessions each) marked by one PUT /attendance/sessions/{id}/marks apiece, every
// tenth student absent, so 1,000 guardian alerts go through the outbox to the in-process Pub/Sub topic.
// One op is the whole run on a fresh institution; "create" marks every student for the first time,
// "remark" then marks every session again with a tenth of the statuses changed (history and audit).
// Run: go test -run '^$' -bench MarkSessions -benchtime 3x -count 3 ./functions/attendance
func BenchmarkMarkSessions(b *testing.B) {
	for _, bc := range []struct {
		name   string
		absent bool // every tenth student absent, with a guardian alert each
		remark bool // mark everything once untimed, then time a second marking with a tenth changed
	}{
		{name: "present"},
		{name: "absent10pct", absent: true},
		{name: "remark", absent: true, remark: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var marks int
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				// A fresh engine per run: the embedded engine keeps five minutes of oplog, which every write
				// copies, so earlier runs' writes would slow this one down.
				env := apptest.New(b)
				inst := setupBenchInstitution(b, env, fmt.Sprintf("bench-%s-%d", bc.name, i))
				if bc.remark {
					inst.run(b, env, 0, true)
				}
				b.StartTimer()
				marks += inst.run(b, env, map[bool]int{false: 0, true: 1}[bc.remark], bc.absent)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(marks), "ns/mark")
		})
	}
}

type benchInstitution struct {
	owner    string
	sessions []string
	roster   map[string][]string // session -> students
}

// run marks every session once. shift rotates which tenth of each roster is absent.
func (in *benchInstitution) run(b *testing.B, env *apptest.Env, shift int, absent bool) int {
	n := 0
	for _, ses := range in.sessions {
		type entry struct {
			StudentID string `json:"student_id"`
			Status    string `json:"status"`
		}
		entries := make([]entry, len(in.roster[ses]))
		for i, st := range in.roster[ses] {
			entries[i] = entry{StudentID: st, Status: "present"}
			if absent && (i+shift)%10 == 0 {
				entries[i].Status = "absent"
			}
		}
		body, _ := json.Marshal(map[string]any{"marks": entries})
		rec := env.Do("PUT", "/attendance/sessions/"+ses+"/marks", in.owner, body)
		if rec.Code != http.StatusOK {
			b.Fatalf("mark session: %d %s", rec.Code, rec.Body)
		}
		n += len(entries)
	}
	return n
}

// setupBenchInstitution provisions a tenant with 10 batches of 50 students (each with a guardian) and 20
// past sessions per batch.
func setupBenchInstitution(b *testing.B, env *apptest.Env, slug string) *benchInstitution {
	b.Helper()
	env.Clock.Advance(time.Minute) // stay under the per-address login rate limit across iterations
	env.Provision(slug)
	owner := env.Login(slug, "owner@"+slug+".test").AccessToken
	do := func(method, path string, body any) person {
		rec := env.Do(method, path, owner, body)
		if rec.Code/100 != 2 {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return apptest.Decode[person](b, rec)
	}
	branch := do("POST", "/users/branches", m{"code": "MAIN", "name": "Main"}).ID
	course := do("POST", "/academic/courses", m{"code": "JEE", "name": "JEE"}).ID
	in := &benchInstitution{owner: owner, roster: map[string][]string{}}
	var weekdays []m
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		weekdays = append(weekdays, m{"weekday": d, "start": "09:00", "duration_minutes": 60})
	}
	for bi := range 10 {
		batch := do("POST", "/academic/batches", m{"course_id": course, "branch_id": branch, "name": fmt.Sprintf("Batch %d", bi),
			"teachers": []string{}, "capacity": 50, "start_date": "2026-05-04", "end_date": "2026-05-29", "schedule": weekdays}).ID
		var students []string
		for si := range 50 {
			st := do("POST", "/students/", m{"name": fmt.Sprintf("Student %d %d", bi, si), "date_of_birth": "2010-04-05",
				"phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password})
			do("POST", "/students/enrolments", m{"student_id": st.ID, "batch_id": batch, "from": "2026-05-04"})
			do("POST", "/students/guardians", m{"student_id": st.ID, "name": "Guardian", "email": fmt.Sprintf("g%d.%d@example.com", bi, si),
				"password": apptest.Password})
			students = append(students, st.ID)
		}
		rec := env.Do("GET", "/academic/batches/"+batch+"/sessions?limit=200", owner, nil)
		sessions := apptest.Decode[page[session]](b, rec).Items
		if len(sessions) != 20 {
			b.Fatalf("batch has %d sessions, want 20", len(sessions))
		}
		for _, s := range sessions {
			in.sessions = append(in.sessions, s.ID)
			in.roster[s.ID] = students
		}
	}
	return in
}
