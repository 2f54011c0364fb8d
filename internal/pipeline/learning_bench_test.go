package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// Size of the engagement benchmark's tenant: benchStudents learners in 4 batches of one course (two
// branches), each with benchInteractions interactions spread over 30 days of May 2026 and one first
// attempt at a 10-question quiz.
const (
	benchStudents     = 2000
	benchInteractions = 60
)

// BenchmarkEngagementReports measures each engagement report through the HTTP handler on a DuckDB
// warehouse of 120,000 interactions and 20,000 quiz answers (the owner's view, all rows visible).
func BenchmarkEngagementReports(b *testing.B) {
	env := apptest.New(b)
	env.Provision("acme")
	owner := env.Login("acme", "owner@acme.test").AccessToken
	a, br := createBranch(b, env, owner, "MAIN"), createBranch(b, env, owner, "EAST")
	ctx := context.Background()
	w, err := duckdb.Open(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if err := w.Ensure(ctx, warehouse.Tables()); err != nil {
		b.Fatal(err)
	}
	f := &changeFeed{t: b}
	batches := []string{lcBatchA1, lcBatchA2, lcBatchB1, "b20000000000000000000002"}
	for i, bt := range batches {
		branch := a
		if i >= 2 {
			branch = br
		}
		f.put("acme", "batches", bt, map[string]any{"course_id": lcCourse1, "branch_id": branch, "name": fmt.Sprintf("B%d", i), "capacity": 600})
	}
	lessons := make([]string, 20)
	for k := range lessons {
		lessons[k] = fmt.Sprintf("e%023d", k)
		f.put("acme", "learning_lessons", lessons[k], map[string]any{"course_id": lcCourse1, "module_id": "m1", "title": "L", "order": k + 1, "status": "published"})
	}
	kinds := []string{"viewed", "viewed", "viewed", "completed", "quiz_attempted"}
	for s := range benchStudents {
		student, batch := lcStudent(s+1), batches[s%len(batches)]
		branch := a
		if s%len(batches) >= 2 {
			branch = br
		}
		f.put("acme", "students", student, map[string]any{"prn": fmt.Sprintf("P%06d", s), "branch_id": branch, "status": "active"})
		f.put("acme", "enrolments", fmt.Sprintf("en%d", s), map[string]any{"student_id": student, "batch_id": batch, "branch_id": branch,
			"course_id": lcCourse1, "from": "2026-05-01", "to": "", "status": "active"})
		for k := range benchInteractions - s%7 { // learners differ a little
			day := fmt.Sprintf("2026-05-%02d", 1+(k+s)%30)
			kind := kinds[k%len(kinds)]
			item := "v1"
			if kind == "completed" {
				item = ""
			}
			f.put("acme", "learning_interactions", fmt.Sprintf("%s:%d", student, k), map[string]any{"student_id": student, "course_id": lcCourse1,
				"batch_id": batch, "lesson_id": lessons[(k/5)%len(lessons)], "item_id": item, "kind": kind, "seconds": 30 * (k % 11),
				"at": lcDate(day + "T10:00:00Z"), "day": day})
		}
		var answers []map[string]any
		score := 0.0
		for q := range 10 {
			correct := (s+q)%3 != 0
			if correct {
				score++
			}
			answers = append(answers, map[string]any{"question_id": fmt.Sprintf("q%02d", q), "correct": correct, "chosen": []string{fmt.Sprint("o", (s*q)%4)}})
		}
		f.put("acme", "quiz_attempts", fmt.Sprintf("at%d", s), map[string]any{"student_id": student, "course_id": lcCourse1, "batch_id": batch,
			"lesson_id": lessons[0], "quiz_id": lcQuiz, "attempt": 1, "score": score, "max_score": 10.0,
			"submitted_at": lcDate("2026-05-20T10:00:00Z"), "day": "2026-05-20", "answers": answers})
	}
	in := ingest.New(w, nil, nil)
	for i := 0; i < len(f.evs); i += 5000 {
		if err := in.Apply(ctx, f.evs[i:min(i+5000, len(f.evs))]); err != nil {
			b.Fatal(err)
		}
	}
	env.Warehouse.Set(w)
	for _, r := range []struct{ name, path string }{
		{"active_days", "/analytics/learning/active?window=day&from=2026-05-01&to=2026-05-31"},
		{"active_weeks", "/analytics/learning/active?window=week&from=2026-05-01&to=2026-05-31"},
		{"funnel", "/analytics/learning/courses/" + lcCourse1 + "/funnel"},
		{"time_spent", "/analytics/learning/time-spent?from=2026-05-01&to=2026-05-31&limit=50"},
		{"quiz_items", "/analytics/learning/quizzes/" + lcQuiz + "/items"},
		{"inactive", "/analytics/learning/inactive?days=5"},
	} {
		b.Run(r.name, func(b *testing.B) {
			for b.Loop() {
				if rec := env.Do("GET", r.path, owner, nil); rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", r.path, rec.Code, rec.Body)
				}
			}
		})
	}
}
