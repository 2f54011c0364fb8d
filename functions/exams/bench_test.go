package exams_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
)

// BenchmarkEnterResults enters 10,000 results through the API: 200 tests (10 batches of 50 students, 20
// tests each), one PUT /exams/tests/{id}/results apiece with the whole batch, every tenth student absent.
// One op is the whole run on a fresh engine and institution (setup untimed); "create" enters every result
// for the first time, "edit" then enters every test again with three results in ten changed (the absent
// tenth moves on by one student, another tenth gains half a mark; each test's edits in one audit entry).
// Run: go test -run '^$' -bench EnterResults -benchtime 1x -count 3 ./functions/exams
func BenchmarkEnterResults(b *testing.B) {
	for _, edit := range []bool{false, true} {
		b.Run(map[bool]string{false: "create", true: "edit"}[edit], func(b *testing.B) {
			var results int
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				env := apptest.New(b)
				inst := setupBenchInstitution(b, env, fmt.Sprintf("bench-%d", i))
				if edit {
					inst.run(b, env, 0)
				}
				b.StartTimer()
				results += inst.run(b, env, map[bool]int{false: 0, true: 1}[edit])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(results), "ns/result")
		})
	}
}

// BenchmarkReportCard reads one report card and one batch ranking over a batch of 50 students with 20
// tests entered, in an institution holding 10,000 results.
// Run: go test -run '^$' -bench ReportCard -benchtime 200x ./functions/exams
func BenchmarkReportCard(b *testing.B) {
	env := apptest.New(b)
	inst := setupBenchInstitution(b, env, "bench-card")
	inst.run(b, env, 0)
	b.Run("report-card", func(b *testing.B) {
		for b.Loop() {
			rec := env.Do("GET", "/exams/students/"+inst.students[0][0]+"/report-card?batch_id="+inst.batches[0], inst.owner, nil)
			if rec.Code != http.StatusOK {
				b.Fatalf("report card: %d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("ranking", func(b *testing.B) {
		for b.Loop() {
			rec := env.Do("GET", "/exams/batches/"+inst.batches[0]+"/ranking", inst.owner, nil)
			if rec.Code != http.StatusOK {
				b.Fatalf("ranking: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

type benchInstitution struct {
	owner    string
	batches  []string
	students [][]string // per batch
	tests    [][]string // per batch
}

// run enters every test's results once. shift rotates which tenth of each batch is absent and moves
// everyone else's marks by one.
func (in *benchInstitution) run(b *testing.B, env *apptest.Env, shift int) int {
	n := 0
	for bi := range in.batches {
		for ti, tst := range in.tests[bi] {
			type entry struct {
				StudentID string   `json:"student_id"`
				Status    string   `json:"status"`
				Marks     *float64 `json:"marks,omitempty"`
			}
			entries := make([]entry, len(in.students[bi]))
			for si, st := range in.students[bi] {
				entries[si] = entry{StudentID: st, Status: "present"}
				if (si+shift)%10 == 0 {
					entries[si].Status = "absent"
					continue
				}
				marks := float64((si*7+ti*3)%80) + 20
				if shift > 0 && si%10 == 1 {
					marks += 0.5
				}
				entries[si].Marks = &marks
			}
			body, _ := json.Marshal(map[string]any{"results": entries})
			rec := env.Do("PUT", "/exams/tests/"+tst+"/results", in.owner, body)
			if rec.Code != http.StatusOK {
				b.Fatalf("enter results: %d %s", rec.Code, rec.Body)
			}
			n += len(entries)
		}
	}
	return n
}

// setupBenchInstitution provisions a tenant with 10 batches of 50 students and 20 past tests per batch.
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
	course := do("POST", "/academic/courses", m{"code": "JEE", "name": "JEE", "subjects": []string{"Physics", "Chemistry"}}).ID
	in := &benchInstitution{owner: owner}
	for bi := range 10 {
		batch := do("POST", "/academic/batches", m{"course_id": course, "branch_id": branch, "name": fmt.Sprintf("Batch %d", bi),
			"teachers": []string{}, "capacity": 50, "start_date": "2026-05-04", "end_date": "2026-05-29",
			"schedule": []m{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}}}).ID
		var students, tests []string
		for si := range 50 {
			st := do("POST", "/students/", m{"name": fmt.Sprintf("Student %d %d", bi, si), "date_of_birth": "2010-04-05",
				"phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password})
			do("POST", "/students/enrolments", m{"student_id": st.ID, "batch_id": batch, "from": "2026-05-04"})
			students = append(students, st.ID)
		}
		for ti := range 20 {
			subject := []string{"Physics", "Chemistry"}[ti%2]
			tests = append(tests, do("POST", "/exams/tests", m{"batch_id": batch, "subject": subject, "name": fmt.Sprintf("Test %d", ti),
				"date": fmt.Sprintf("2026-05-%02d", 4+ti), "max_marks": 100, "weight": 1 + ti%3}).ID)
		}
		in.batches = append(in.batches, batch)
		in.students = append(in.students, students)
		in.tests = append(in.tests, tests)
	}
	return in
}
