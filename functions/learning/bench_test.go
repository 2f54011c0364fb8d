package learning_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edugrid/edugrid/functions/learning"
	"github.com/edugrid/edugrid/internal/apptest"
)

// BenchmarkInteractions records learner interactions through POST /learning/learn/interactions on the
// embedded in-memory engine: 40 students of one batch, each sending batches of `batch` interactions (views
// with seconds, every tenth a lesson completion) until every student has sent 100, every request its own
// transaction with the progress update. One op is one whole run of 4,000 interactions on a fresh
// institution; the clock moves on between rounds by what the round spent of each student's budget, so the
// per-student limit (120 a minute) is not what is measured. "retry" sends every batch a second time (all duplicates).
// Run: go test -run '^$' -bench Interactions -benchtime 3x -count 3 ./functions/learning
func BenchmarkInteractions(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
		retry bool
	}{
		{name: "batch1", batch: 1},
		{name: "batch10", batch: 10},
		{name: "batch50", batch: 50},
		{name: "batch50-retry", batch: 50, retry: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var sent int
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				// A fresh engine per run: the embedded engine keeps five minutes of oplog, which every write
				// copies, so earlier runs' writes would slow this one down.
				env := apptest.New(b)
				in := setupBenchCourse(b, env, fmt.Sprintf("bench-%d", i))
				b.StartTimer()
				sent += in.run(b, env, bc.batch, bc.retry)
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "interactions/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/interaction")
		})
	}
}

const benchPerStudent = 100

type benchCourse struct {
	lessons []string
	items   []string
	tokens  []string
}

// run sends benchPerStudent interactions for every student, in batches, and returns how many it sent.
func (bc *benchCourse) run(b *testing.B, env *apptest.Env, batch int, retry bool) int {
	sent := 0
	for round := 0; round*batch < benchPerStudent; round++ {
		for si, tok := range bc.tokens {
			list := make([]m, 0, batch)
			for k := range batch {
				n := round*batch + k
				if n >= benchPerStudent {
					break
				}
				l := n % len(bc.lessons)
				in := m{"id": fmt.Sprintf("s%d-n%05d", si, n), "lesson_id": bc.lessons[l], "item_id": bc.items[l], "kind": "viewed", "seconds": 30 + n%600}
				if n%10 == 9 {
					in = m{"id": fmt.Sprintf("s%d-n%05d", si, n), "lesson_id": bc.lessons[l], "kind": "completed"}
				}
				list = append(list, in)
			}
			body, _ := json.Marshal(interactions(list...))
			for range map[bool]int{false: 1, true: 2}[retry] {
				rec := env.Do("POST", "/learning/learn/interactions", tok, body)
				if rec.Code != http.StatusOK {
					b.Fatalf("record interactions: %d %s", rec.Code, rec.Body)
				}
				sent += len(list)
			}
		}
		// Refill exactly what the round spent of each student's budget; a minute a round would outlive the
		// 15-minute access tokens in the one-interaction-per-request case.
		env.Clock.Advance(time.Duration(batch*map[bool]int{false: 1, true: 2}[retry]) * time.Minute / learning.InteractionRate)
	}
	return sent
}

// setupBenchCourse provisions a tenant with a course of 10 published lessons (a video each) and 40
// students enrolled in one batch of it, signed in.
func setupBenchCourse(b *testing.B, env *apptest.Env, slug string) *benchCourse {
	b.Helper()
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
	batch := do("POST", "/academic/batches", m{"course_id": course, "branch_id": branch, "name": "Batch", "teachers": []string{},
		"capacity": 50, "start_date": "2026-06-01", "end_date": "2026-08-31", "schedule": []m{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}}}).ID
	module := do("POST", "/learning/courses/"+course+"/modules", m{"title": "Module"}).ID
	do("PATCH", "/learning/modules/"+module, m{"status": "published"})
	bc := &benchCourse{}
	for i := range 10 {
		rec := env.Do("POST", "/learning/modules/"+module+"/lessons", owner, m{"title": fmt.Sprintf("Lesson %d", i),
			"items": []m{{"kind": "video", "title": "Video", "url": "https://videos.example.com/" + fmt.Sprint(i)}}})
		l := apptest.Decode[lesson](b, rec)
		do("PATCH", "/learning/lessons/"+l.ID, m{"status": "published"})
		bc.lessons, bc.items = append(bc.lessons, l.ID), append(bc.items, l.Items[0].ID)
	}
	for i := range 40 {
		st := do("POST", "/students/", m{"name": fmt.Sprintf("Student %d", i), "date_of_birth": "2010-04-05",
			"phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password})
		do("POST", "/students/enrolments", m{"student_id": st.ID, "batch_id": batch, "from": "2026-06-01"})
		if i%20 == 0 {
			env.Clock.Advance(time.Minute) // stay under the per-address login rate limit
		}
		rec := env.Do("POST", "/auth/login", "", map[string]string{"prn": st.PRN, "password": apptest.Password})
		if rec.Code != http.StatusOK {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		bc.tokens = append(bc.tokens, apptest.Decode[apptest.TokenPair](b, rec).AccessToken)
	}
	return bc
}
