package pipeline_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
)

type e2eObject struct {
	ID  string `json:"id"`
	PRN string `json:"prn"`
}

type e2eLesson struct {
	ID    string `json:"id"`
	Items []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		Quiz *struct {
			Questions []struct {
				ID   string `json:"id"`
				Kind string `json:"kind"`
			} `json:"questions"`
		} `json:"quiz"`
	} `json:"items"`
}

func e2eCall[T any](t *testing.T, env *apptest.Env, method, path, token string, body any, want int) T {
	t.Helper()
	rec := env.Do(method, path, token, body)
	apptest.MustStatus(t, rec, want)
	return apptest.Decode[T](t, rec)
}

// Learners' interactions and quiz attempts sent through the learning API reach every engagement report
// through the whole local pipeline (change stream, relay, Pub/Sub, ingest, DuckDB) with the numbers worked
// out below; a retried interaction counts once, and another tenant sees none of it.
func TestEngagementEndToEnd(t *testing.T) {
	env := apptest.New(t)
	start(t, env, "")
	env.Provision("acme")
	env.Provision("rival")
	owner := env.Login("acme", "owner@acme.test").AccessToken
	a, b := createBranch(t, env, owner, "MAIN"), createBranch(t, env, owner, "EAST")
	createStaff(t, env, owner, "ba@acme.test", "branch_admin", []string{a})
	type m = map[string]any

	course := e2eCall[e2eObject](t, env, "POST", "/academic/courses", owner, m{"code": "JEE", "name": "JEE", "subjects": []string{"Physics"}}, 201).ID
	batch := func(branch, name string) string {
		return e2eCall[e2eObject](t, env, "POST", "/academic/batches", owner, m{"course_id": course, "branch_id": branch, "name": name, "capacity": 30,
			"start_date": "2026-06-01", "end_date": "2026-08-31", "schedule": []m{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}}}, 201).ID
	}
	batchA, batchB := batch(a, "Batch A"), batch(b, "Batch B")
	// Students 1-3 and 5 in batch A, 4 in batch B.
	var students [5]e2eObject
	for i := range students {
		branch, bt := a, batchA
		if i == 3 {
			branch, bt = b, batchB
		}
		students[i] = e2eCall[e2eObject](t, env, "POST", "/students/", owner, m{"name": fmt.Sprintf("Learner %d", i+1), "date_of_birth": "2010-04-05",
			"phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password}, 201)
		e2eCall[e2eObject](t, env, "POST", "/students/enrolments", owner, m{"student_id": students[i].ID, "batch_id": bt, "from": "2026-06-01"}, 201)
	}

	// Content: one module, lesson 1 (a video and a quiz of each question kind) and lesson 2 (a video).
	module := e2eCall[e2eObject](t, env, "POST", "/learning/courses/"+course+"/modules", owner, m{"title": "Mechanics"}, 201).ID
	video := func(title string) m {
		return m{"kind": "video", "title": title, "url": "https://videos.example.com/" + title}
	}
	l1 := e2eCall[e2eLesson](t, env, "POST", "/learning/modules/"+module+"/lessons", owner, m{"title": "Motion", "items": []m{video("motion"), {
		"kind": "quiz", "title": "Check", "quiz": m{"max_attempts": 2, "questions": []m{
			{"kind": "single_choice", "prompt": "Unit of force?", "options": []m{{"id": "a", "text": "newton"}, {"id": "b", "text": "joule"}, {"id": "c", "text": "watt"}}, "correct": []string{"a"}},
			{"kind": "multiple_choice", "prompt": "Vectors?", "options": []m{{"id": "a", "text": "velocity"}, {"id": "b", "text": "mass"}, {"id": "c", "text": "force"}}, "correct": []string{"a", "c"}},
			{"kind": "numeric", "prompt": "7 / 2?", "answer": 3.5, "tolerance": 0.01},
		}}}}}, 201)
	l2 := e2eCall[e2eLesson](t, env, "POST", "/learning/modules/"+module+"/lessons", owner, m{"title": "Forces", "items": []m{video("forces")}}, 201)
	e2eCall[e2eObject](t, env, "PATCH", "/learning/modules/"+module, owner, m{"status": "published"}, 200)
	for _, l := range []string{l1.ID, l2.ID} {
		e2eCall[e2eObject](t, env, "PATCH", "/learning/lessons/"+l, owner, m{"status": "published"}, 200)
	}
	video1, video2, quiz := l1.Items[0].ID, l2.Items[0].ID, l1.Items[1].ID
	q := l1.Items[1].Quiz.Questions
	single, multiple, numeric := q[0].ID, q[1].ID, q[2].ID

	login := func(i int) string {
		t.Helper()
		env.Clock.Advance(time.Minute) // every apptest request comes from one address: stay under the login limit
		rec := env.Do("POST", "/auth/login", "", map[string]string{"prn": students[i].PRN, "password": apptest.Password})
		apptest.MustStatus(t, rec, http.StatusOK)
		return apptest.Decode[apptest.TokenPair](t, rec).AccessToken
	}
	n := 0
	view := func(lesson, item string, seconds int) m {
		n++
		return m{"id": fmt.Sprintf("view-%04d", n), "lesson_id": lesson, "item_id": item, "kind": "viewed", "seconds": seconds}
	}
	complete := func(lesson string) m {
		n++
		return m{"id": fmt.Sprintf("done-%04d", n), "lesson_id": lesson, "kind": "completed"}
	}
	type recording struct{ Recorded, Duplicates int }
	record := func(token string, ins ...m) recording {
		t.Helper()
		return e2eCall[recording](t, env, "POST", "/learning/learn/interactions", token, m{"interactions": ins}, 200)
	}
	submit := func(token string, answers ...m) {
		t.Helper()
		e2eCall[e2eObject](t, env, "POST", "/learning/learn/lessons/"+l1.ID+"/quizzes/"+quiz+"/attempts", token, m{"answers": answers}, 201)
	}
	choose := func(question string, options ...string) m { return m{"question_id": question, "chosen": options} }
	value := func(v float64) m { return m{"question_id": numeric, "value": v} }

	// 1 June. Scores out of 3: learner 1 scores 2 on the first attempt (3 on the second, which the item
	// analysis ignores), learner 2 scores 1, learner 4 scores 1 and leaves the numeric question blank.
	s1, s2, s4 := login(0), login(1), login(3)
	record(s1, view(l1.ID, video1, 300), complete(l1.ID))
	retried := []m{view(l1.ID, video1, 120)}
	record(s2, retried...)
	if r := record(s2, retried...); r.Recorded != 0 || r.Duplicates != 1 { // a client retry: recorded once
		t.Fatalf("retried interaction: %+v", r)
	}
	submit(s1, choose(single, "a"), choose(multiple, "a"), value(3.5))
	submit(s1, choose(single, "a"), choose(multiple, "a", "c"), value(3.5))
	submit(s2, choose(single, "b"), choose(multiple, "c", "a"), value(4))
	submit(s4, choose(single, "a"), choose(multiple, "b"))

	// 2 June.
	env.Clock.Advance(24 * time.Hour)
	s1, s4 = login(0), login(3)
	record(s1, view(l2.ID, video2, 60), complete(l2.ID))
	record(s4, view(l1.ID, video1, 200), complete(l1.ID))

	// 3 June: the reports.
	env.Clock.Advance(24 * time.Hour)
	owner = env.Login("acme", "owner@acme.test").AccessToken
	ba := env.Login("acme", "ba@acme.test").AccessToken
	rival := env.Login("rival", "owner@rival.test").AccessToken
	prn := func(i int) string { return students[i].PRN }

	poll := func(what, path, token string, render func(*testing.T, string, string) string, want string) {
		t.Helper()
		eventually(t, what, func() (bool, string) {
			got := render(t, path, token)
			return got == want, got + "\nwant " + want
		})
	}
	active := func(t *testing.T, path, token string) string {
		return fmt.Sprint(flatActive(learningReport[activeReport](t, env, path, token)))
	}
	funnel := func(t *testing.T, path, token string) string {
		return flatFunnel(learningReport[funnelReport](t, env, path, token))
	}
	spent := func(t *testing.T, path, token string) string {
		return fmt.Sprint(flatTime(learningReport[timeReport](t, env, path, token)))
	}
	inactive := func(t *testing.T, path, token string) string {
		r := learningReport[inactiveReport](t, env, path, token)
		out := []string{}
		for _, it := range r.Items {
			s := it.PRN
			if it.DaysInactive != nil {
				s += fmt.Sprintf(" %dd", *it.DaysInactive)
			}
			out = append(out, s)
		}
		return fmt.Sprint(out)
	}

	// Learners 1, 2 (batch A) and 4 (batch B, through the quiz attempt) on 1 June; 1 and 4 on 2 June.
	const days = "/analytics/learning/active?window=day&from=2026-06-01&to=2026-06-03"
	cid := course[:2]
	poll("active learners", days, owner, active, fmt.Sprint([]string{
		cid + " 3 06-01:3 06-02:2 06-03:0 | Batch A 2 06-01:2 06-02:1 06-03:0 | Batch B 1 06-01:1 06-02:1 06-03:0"}))
	poll("active learners of branch a", days, ba, active, fmt.Sprint([]string{
		cid + " 2 06-01:2 06-02:1 06-03:0 | Batch A 2 06-01:2 06-02:1 06-03:0"}))

	// Five learners; lesson 1 completed by 1 and 4, lesson 2 by 1.
	path := "/analytics/learning/courses/" + course + "/funnel"
	l1p, l2p := l1.ID[:2], l2.ID[:2]
	poll("funnel", path, owner, funnel, fmt.Sprintf("2026-06-03 learners 5 | %s #1 2 0.4000 -3 0.6000 | %s #2 1 0.2000 -1 0.5000", l1p, l2p))
	poll("funnel of branch a", path, ba, funnel, fmt.Sprintf("2026-06-03 learners 4 | %s #1 1 0.2500 -3 0.7500 | %s #2 1 0.2500 -0 0.0000", l1p, l2p))

	// Learner 2's retried 120 s count once.
	const spentPath = "/analytics/learning/time-spent?from=2026-06-01&to=2026-06-03"
	poll("time spent", spentPath, owner, spent, fmt.Sprint([]string{
		prn(0) + " 360 2d 2026-06-02", prn(3) + " 200 2d 2026-06-02", prn(1) + " 120 1d 2026-06-01"}))
	poll("time spent in branch a", spentPath, ba, spent, fmt.Sprint([]string{prn(0) + " 360 2d 2026-06-02", prn(1) + " 120 1d 2026-06-01"}))

	// As of 3 June, more than one day without activity: learners 3 and 5 never did anything, 2 last on 1 June.
	poll("inactive learners", "/analytics/learning/inactive?days=1", owner, inactive, fmt.Sprint([]string{prn(2), prn(4), prn(1) + " 2d"}))
	poll("inactive learners, 14 days", "/analytics/learning/inactive", owner, inactive, fmt.Sprint([]string{prn(2), prn(4)}))

	// First attempts (score fractions 2/3, 1/3, 1/3 for learners 1, 2, 4): the single-choice question is
	// right for 1 and 4 (r = 0.5), the multiple-choice one for 2 (r = -0.5; wrong answers a and b tie: a),
	// the numeric one for 1 (r = 1), blank for 4.
	quizPath := "/analytics/learning/quizzes/" + quiz + "/items"
	eventually(t, "quiz item analysis", func() (bool, string) {
		rec := env.Do("GET", quizPath, owner, nil)
		if rec.Code == http.StatusNotFound {
			return false, "no attempts yet"
		}
		r := apptest.Decode[quizReport](t, rec)
		return r.Attempts == 3, fmt.Sprintf("%+v", r)
	})
	byID := map[string]quizItemWant{
		single:   {single, 3, 0, 2, 0.6667, 0.5, `["b"]`, 1},
		multiple: {multiple, 3, 0, 1, 0.3333, -0.5, `["a"]`, 1},
		numeric:  {numeric, 3, 1, 1, 0.3333, 1, `["4"]`, 1},
	}
	got := learningReport[quizReport](t, env, quizPath, owner)
	var want []quizItemWant
	for _, qq := range got.Questions {
		want = append(want, byID[qq.QuestionID])
	}
	checkQuiz(t, got, quiz, 3, want)
	if r := learningReport[quizReport](t, env, quizPath, ba); r.Attempts != 2 {
		t.Fatalf("branch admin's item analysis reads %d attempts, want learners 1 and 2", r.Attempts)
	}

	// The other tenant sees nothing of acme's.
	if got := active(t, days, rival); got != fmt.Sprint([]string(nil)) {
		t.Fatalf("rival active learners: %s", got)
	}
	if got := spent(t, spentPath, rival); got != "[]" {
		t.Fatalf("rival time spent: %s", got)
	}
	apptest.MustProblem(t, env.Do("GET", path, rival, nil), 404, "not_found")
	apptest.MustProblem(t, env.Do("GET", quizPath, rival, nil), 404, "not_found")
}
