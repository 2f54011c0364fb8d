package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
	"github.com/edugrid/edugrid/triggers/ingest"
)

// The engagement data set's ids (the warehouse needs no more than their form).
const (
	lcCourse1 = "c10000000000000000000001"
	lcCourse2 = "c20000000000000000000002"
	lcBatchA1 = "a10000000000000000000001" // course 1, branch a
	lcBatchA2 = "a20000000000000000000002" // course 1, branch a
	lcBatchA3 = "a30000000000000000000003" // course 2, branch a
	lcBatchB1 = "b10000000000000000000001" // course 1, branch b
	lcLesson1 = "e10000000000000000000001"
	lcLesson2 = "e20000000000000000000002"
	lcLesson3 = "e30000000000000000000003"
	lcLesson4 = "e40000000000000000000004"
	lcQuiz    = "9a0000000000000000000001"
)

// lcStudent is student n's id (1..7).
func lcStudent(n int) string { return fmt.Sprintf("5%023d", n) }

// changeFeed builds change events as the relay publishes them, each a newer version than the last.
type changeFeed struct {
	t   testing.TB
	seq uint32
	evs []*events.Event
}

func (c *changeFeed) put(tenant, coll, id string, doc map[string]any) {
	c.t.Helper()
	c.seq++
	e := &events.Event{V: 1, ID: events.IDFromToken(fmt.Appendf(nil, "learning-%d", c.seq)), Tenant: tenant, Collection: coll, Op: events.Insert,
		DocumentID: id, Time: events.ClusterTime{T: 1780000000 + c.seq, I: 1}}
	if doc == nil {
		e.Op = events.Delete
	} else {
		raw, err := json.Marshal(doc)
		if err != nil {
			c.t.Fatal(err)
		}
		e.Document = raw
	}
	c.evs = append(c.evs, e)
}

func lcDate(s string) map[string]any { return map[string]any{"$date": s} }

// learningWarehouse is an in-memory DuckDB warehouse holding a small, hand-computed engagement data set
// for acme (branches a and b), fed through the ingest transforms, and a rival tenant's rows under the
// same ids that must never be counted. The numbers each report must show are worked out in the tests.
//
//	students 1-3, 6, 7 in batch A1, 4 in A2, 5 in B1 (course 1); student 1 also in A3 (course 2).
//	student 7's enrolment was withdrawn on 25 May; student 6 never did anything.
//	lessons of course 1: L1 (order 1), L2 (order 2, published by its second version), L3 (3, draft),
//	L4 (4).
func learningWarehouse(t *testing.T, a, b string) *duckdb.Warehouse {
	t.Helper()
	ctx := context.Background()
	w, err := duckdb.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Ensure(ctx, warehouse.Tables()); err != nil {
		t.Fatal(err)
	}
	f := &changeFeed{t: t}
	for _, tenant := range []string{"acme", "rival"} {
		for _, bt := range []struct{ id, course, branch, name string }{
			{lcBatchA1, lcCourse1, a, "A1"}, {lcBatchA2, lcCourse1, a, "A2"}, {lcBatchA3, lcCourse2, a, "A3"}, {lcBatchB1, lcCourse1, b, "B1"},
		} {
			f.put(tenant, "batches", bt.id, map[string]any{"course_id": bt.course, "branch_id": bt.branch, "name": bt.name, "capacity": 30})
		}
	}
	for n := 1; n <= 7; n++ {
		f.put("acme", "students", lcStudent(n), map[string]any{"prn": fmt.Sprintf("P%d", n), "branch_id": a, "status": "active"})
	}
	f.put("rival", "students", lcStudent(1), map[string]any{"prn": "RIVAL1", "branch_id": a, "status": "active"})
	enrol := func(tenant, id string, student int, batch, branch, course, status, to string) {
		f.put(tenant, "enrolments", id, map[string]any{"student_id": lcStudent(student), "batch_id": batch, "branch_id": branch,
			"course_id": course, "from": "2026-05-01", "to": to, "status": status})
	}
	enrol("acme", "en1", 1, lcBatchA1, a, lcCourse1, "active", "")
	enrol("acme", "en2", 2, lcBatchA1, a, lcCourse1, "active", "")
	enrol("acme", "en3", 3, lcBatchA1, a, lcCourse1, "active", "")
	enrol("acme", "en4", 4, lcBatchA2, a, lcCourse1, "active", "")
	enrol("acme", "en5", 5, lcBatchB1, b, lcCourse1, "active", "")
	enrol("acme", "en6", 6, lcBatchA1, a, lcCourse1, "active", "")
	enrol("acme", "en7", 7, lcBatchA1, a, lcCourse1, "withdrawn", "2026-05-25")
	enrol("acme", "en8", 1, lcBatchA3, a, lcCourse2, "active", "")
	enrol("rival", "en1", 1, lcBatchA1, a, lcCourse1, "active", "")
	lesson := func(tenant, id, course string, order int, status string) {
		f.put(tenant, "learning_lessons", id, map[string]any{"course_id": course, "module_id": "m1", "title": "Lesson " + id[:2],
			"order": order, "status": status})
	}
	lesson("acme", lcLesson1, lcCourse1, 1, "published")
	lesson("acme", lcLesson2, lcCourse1, 2, "draft")
	lesson("acme", lcLesson2, lcCourse1, 2, "published")
	lesson("acme", lcLesson3, lcCourse1, 3, "draft")
	lesson("acme", lcLesson4, lcCourse1, 4, "published")
	lesson("rival", "f00000000000000000000009", lcCourse1, 0, "published")
	n := 0
	act := func(tenant string, student int, batch, lesson, item, kind string, seconds int, day string) string {
		n++
		id := fmt.Sprintf("%s:i%03d", lcStudent(student), n)
		course := lcCourse1
		if batch == lcBatchA3 {
			course = lcCourse2
		}
		f.put(tenant, "learning_interactions", id, map[string]any{"interaction_id": fmt.Sprintf("i%03d", n), "student_id": lcStudent(student),
			"course_id": course, "batch_id": batch, "lesson_id": lesson, "item_id": item, "kind": kind, "seconds": seconds,
			"at": lcDate(day + "T10:00:00Z"), "day": day})
		return id
	}
	act("acme", 1, lcBatchA1, lcLesson1, "v1", "viewed", 600, "2026-05-18")
	act("acme", 1, lcBatchA1, lcLesson1, "", "completed", 0, "2026-05-18")
	act("acme", 1, lcBatchA1, lcLesson2, "v2", "viewed", 300, "2026-05-19")
	act("acme", 1, lcBatchA1, lcLesson2, "", "completed", 0, "2026-05-26")
	act("acme", 1, lcBatchA1, lcLesson4, "v4", "viewed", 120, "2026-05-26")
	act("acme", 1, lcBatchA1, lcLesson4, "", "completed", 0, "2026-05-27")
	act("acme", 1, lcBatchA2, lcLesson1, "v1", "viewed", 60, "2026-05-26") // the same learner in a second batch
	act("acme", 2, lcBatchA1, lcLesson1, "v1", "viewed", 900, "2026-05-20")
	act("acme", 2, lcBatchA1, lcLesson1, "", "completed", 0, "2026-05-20")
	act("acme", 2, lcBatchA1, lcLesson2, "", "completed", 0, "2026-05-28")
	gone := act("acme", 2, lcBatchA1, lcLesson1, "v1", "viewed", 5000, "2026-05-21")
	f.put("acme", "learning_interactions", gone, nil) // deleted: never counted
	act("acme", 3, lcBatchA1, lcLesson1, "v1", "viewed", 60, "2026-05-10")
	act("acme", 4, lcBatchA2, lcLesson1, "v1", "viewed", 1200, "2026-05-25")
	act("acme", 4, lcBatchA2, lcLesson1, "v1", "completed", 0, "2026-05-25") // an item's completion, not the lesson's
	act("acme", 4, lcBatchA2, lcLesson1, lcQuiz, "quiz_attempted", 0, "2026-05-25")
	act("acme", 5, lcBatchB1, lcLesson1, "v1", "viewed", 300, "2026-05-19")
	act("acme", 5, lcBatchB1, lcLesson1, "", "completed", 0, "2026-05-19")
	act("acme", 5, lcBatchB1, lcLesson1, "v1", "viewed", 100, "2026-05-29")
	act("acme", 7, lcBatchA1, lcLesson1, "v1", "viewed", 50, "2026-05-21")
	act("acme", 7, lcBatchA1, lcLesson1, "", "completed", 0, "2026-05-21")
	act("rival", 1, lcBatchA1, lcLesson1, "v1", "viewed", 9999, "2026-05-20")
	act("rival", 1, lcBatchA1, lcLesson1, "", "completed", 0, "2026-05-20")
	attempt := func(tenant, id string, student int, batch string, number int, score float64, answers ...[]any) {
		var docs []map[string]any
		for _, a := range answers {
			docs = append(docs, map[string]any{"question_id": a[0], "correct": a[1], "chosen": a[2]})
		}
		f.put(tenant, "quiz_attempts", id, map[string]any{"student_id": lcStudent(student), "course_id": lcCourse1, "batch_id": batch,
			"lesson_id": lcLesson1, "quiz_id": lcQuiz, "attempt": number, "score": score, "max_score": 3.0,
			"submitted_at": lcDate("2026-05-25T10:00:00Z"), "day": "2026-05-25", "answers": docs})
	}
	ans := func(q string, correct bool, chosen ...string) []any {
		return []any{q, correct, append([]string{}, chosen...)}
	}
	attempt("acme", "at1", 1, lcBatchA1, 1, 2, ans("q1", true, "a"), ans("q2", false, "a"), ans("q3", true, "3.5"))
	attempt("acme", "at2", 2, lcBatchA1, 1, 1, ans("q1", false, "b"), ans("q2", true, "a", "c"), ans("q3", false, "4"))
	attempt("acme", "at3", 4, lcBatchA2, 1, 1, ans("q1", true, "a"), ans("q2", false, "b"), ans("q3", false))
	attempt("acme", "at4", 5, lcBatchB1, 1, 0, ans("q1", false, "c"), ans("q2", false, "a"), ans("q3", false, "4"))
	attempt("acme", "at5", 1, lcBatchA1, 2, 3, ans("q1", true, "a"), ans("q2", true, "a", "c"), ans("q3", true, "3.5")) // a second attempt
	attempt("rival", "at1", 1, lcBatchA1, 1, 0, ans("q1", false, "d"), ans("q2", false, "d"), ans("q3", false, "9"))

	if err := ingest.New(w, nil, nil).Apply(ctx, f.evs); err != nil {
		t.Fatal(err)
	}
	return w
}

type learningFixture struct {
	env              *apptest.Env
	a, b             string
	owner, ba, rival string
}

func newLearningFixture(t *testing.T) *learningFixture {
	t.Helper()
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	fx := &learningFixture{env: env, owner: env.Login("acme", "owner@acme.test").AccessToken, rival: env.Login("rival", "owner@rival.test").AccessToken}
	fx.a, fx.b = createBranch(t, env, fx.owner, "MAIN"), createBranch(t, env, fx.owner, "EAST")
	createStaff(t, env, fx.owner, "ba@acme.test", "branch_admin", []string{fx.a})
	fx.ba = env.Login("acme", "ba@acme.test").AccessToken
	env.Warehouse.Set(learningWarehouse(t, fx.a, fx.b))
	return fx
}

func learningReport[T any](t *testing.T, env *apptest.Env, path, token string) T {
	t.Helper()
	rec := env.Do("GET", path, token, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	return apptest.Decode[T](t, rec)
}

type activeReport struct {
	Courses []struct {
		CourseID string `json:"course_id"`
		Active   int64  `json:"active"`
		Periods  []struct {
			Start  string `json:"start"`
			Active int64  `json:"active"`
		} `json:"periods"`
		Batches []struct {
			BatchID   string `json:"batch_id"`
			BatchName string `json:"batch_name"`
			BranchID  string `json:"branch_id"`
			Active    int64  `json:"active"`
			Periods   []struct {
				Start  string `json:"start"`
				Active int64  `json:"active"`
			} `json:"periods"`
		} `json:"batches"`
	} `json:"courses"`
}

// flatActive renders the report as "course total [periods] | batch name total [periods] ...".
func flatActive(r activeReport) []string {
	var out []string
	for _, c := range r.Courses {
		line := fmt.Sprintf("%s %d", c.CourseID[:2], c.Active)
		for _, p := range c.Periods {
			line += fmt.Sprintf(" %s:%d", p.Start[5:], p.Active)
		}
		for _, b := range c.Batches {
			line += fmt.Sprintf(" | %s %d", b.BatchName, b.Active)
			for _, p := range b.Periods {
				line += fmt.Sprintf(" %s:%d", p.Start[5:], p.Active)
			}
		}
		out = append(out, line)
	}
	return out
}

func TestActiveLearnersOnDuckDB(t *testing.T) {
	fx := newLearningFixture(t)
	get := func(path, token string) []string {
		t.Helper()
		return flatActive(learningReport[activeReport](t, fx.env, path, token))
	}
	const weeks = "/analytics/learning/active?window=week&from=2026-05-18&to=2026-05-31"
	for _, tc := range []struct {
		name, path, token string
		want              []string
	}{
		// Week of 18 May: students 1, 2, 7 in A1 and 5 in B1; week of 25 May: 1, 2 in A1, 4 and 1 in A2, 5 in
		// B1. Student 1 counts once for the course in the second week, and student 3 (10 May) not at all.
		{"owner weeks", weeks, fx.owner, []string{
			"c1 5 05-18:4 05-25:4 | A1 3 05-18:3 05-25:2 | A2 2 05-18:0 05-25:2 | B1 1 05-18:1 05-25:1",
		}},
		{"branch admin of a", weeks, fx.ba, []string{"c1 4 05-18:3 05-25:3 | A1 3 05-18:3 05-25:2 | A2 2 05-18:0 05-25:2"}},
		{"branch b", weeks + "&branch=" + fx.b, fx.owner, []string{"c1 1 05-18:1 05-25:1 | B1 1 05-18:1 05-25:1"}},
		{"batch A2", weeks + "&batch=" + lcBatchA2, fx.owner, []string{"c1 2 05-18:0 05-25:2 | A2 2 05-18:0 05-25:2"}},
		{"course 2 has no activity", weeks + "&course=" + lcCourse2, fx.owner, nil},
		{"days", "/analytics/learning/active?window=day&from=2026-05-25&to=2026-05-27&course=" + lcCourse1, fx.owner, []string{
			"c1 2 05-25:1 05-26:1 05-27:1 | A1 1 05-25:0 05-26:1 05-27:1 | A2 2 05-25:1 05-26:1 05-27:0",
		}},
		{"month", "/analytics/learning/active?window=month&from=2026-05-01&to=2026-05-31", fx.owner, []string{
			"c1 6 05-01:6 | A1 4 05-01:4 | A2 2 05-01:2 | B1 1 05-01:1",
		}},
		// The rival's rows share acme's ids; the rival sees only its own learner.
		{"rival", weeks, fx.rival, []string{"c1 1 05-18:1 05-25:0 | A1 1 05-18:1 05-25:0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.path, tc.token); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	for _, q := range []string{"window=year", "from=May", "batch=nope", "course=123", "branch=x"} {
		apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/active?"+q, fx.owner, nil), 400, "invalid")
	}
}

type funnelReport struct {
	CourseID string `json:"course_id"`
	AsOf     string `json:"as_of"`
	Learners int64  `json:"learners"`
	Lessons  []struct {
		LessonID    string   `json:"lesson_id"`
		Order       int64    `json:"order"`
		Completed   int64    `json:"completed"`
		Share       *float64 `json:"share"`
		DropOff     int64    `json:"drop_off"`
		DropOffRate *float64 `json:"drop_off_rate"`
	} `json:"lessons"`
}

func flatFunnel(r funnelReport) string {
	s := fmt.Sprintf("%s learners %d", r.AsOf, r.Learners)
	f := func(p *float64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.4f", *p)
	}
	for _, l := range r.Lessons {
		s += fmt.Sprintf(" | %s #%d %d %s -%d %s", l.LessonID[:2], l.Order, l.Completed, f(l.Share), l.DropOff, f(l.DropOffRate))
	}
	return s
}

func TestCompletionFunnelOnDuckDB(t *testing.T) {
	fx := newLearningFixture(t)
	path := "/analytics/learning/courses/" + lcCourse1 + "/funnel"
	for _, tc := range []struct {
		name, query, token, want string
	}{
		// Learners today (1 June): students 1-6 (7 withdrew). L1 completed by 1, 2, 5 (7 is no longer a
		// learner; 4 completed an item only); L2 by 1, 2; L3 is a draft; L4 by 1.
		{"owner", "", fx.owner, "2026-06-01 learners 6 | e1 #1 3 0.5000 -3 0.5000 | e2 #2 2 0.3333 -1 0.3333 | e4 #4 1 0.1667 -1 0.5000"},
		{"branch admin of a", "", fx.ba, "2026-06-01 learners 5 | e1 #1 2 0.4000 -3 0.6000 | e2 #2 2 0.4000 -0 0.0000 | e4 #4 1 0.2000 -1 0.5000"},
		{"batch B1", "?batch=" + lcBatchB1, fx.owner, "2026-06-01 learners 1 | e1 #1 1 1.0000 -0 0.0000 | e2 #2 0 0.0000 -1 1.0000 | e4 #4 0 0.0000 -0 null"},
		{"branch b for the branch admin of a", "?branch=" + fx.b, fx.ba, "2026-06-01 learners 0 | e1 #1 0 null -0 null | e2 #2 0 null -0 null | e4 #4 0 null -0 null"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := flatFunnel(learningReport[funnelReport](t, fx.env, path+tc.query, tc.token)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// The rival's only lesson of the course id is its own, and its learner completed acme's lesson id, not it.
	if got := learningReport[funnelReport](t, fx.env, path, fx.rival); len(got.Lessons) != 1 || got.Lessons[0].LessonID[:2] != "f0" || got.Learners != 1 || got.Lessons[0].Completed != 0 {
		t.Fatalf("rival funnel = %+v", got)
	}
	apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/courses/"+lcCourse2+"/funnel", fx.owner, nil), 404, "not_found")
	apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/courses/nope/funnel", fx.owner, nil), 400, "invalid")
	apptest.MustProblem(t, fx.env.Do("GET", path+"?batch=1", fx.owner, nil), 400, "invalid")
}

type timeReport struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Items []struct {
		StudentID      string    `json:"student_id"`
		PRN            string    `json:"prn"`
		Seconds        int64     `json:"seconds"`
		ActiveDays     int64     `json:"active_days"`
		LastActiveDay  string    `json:"last_active_day"`
		LastActivityAt time.Time `json:"last_activity_at"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func flatTime(r timeReport) []string {
	out := []string{}
	for _, it := range r.Items {
		out = append(out, fmt.Sprintf("%s %d %dd %s", it.PRN, it.Seconds, it.ActiveDays, it.LastActiveDay))
	}
	return out
}

func TestTimeSpentOnDuckDB(t *testing.T) {
	fx := newLearningFixture(t)
	const may = "/analytics/learning/time-spent?from=2026-05-01&to=2026-05-31"
	for _, tc := range []struct {
		name, path, token string
		want              []string
	}{
		// Student 1: 600 + 300 + 120 + 60 (in A2) on 18, 19, 26, 27 May; student 2: 900 (the deleted 5000
		// never counts) on 20 and 28 May; student 4's completion and quiz attempt add a day's activity,
		// not time.
		{"owner", may, fx.owner, []string{"P4 1200 1d 2026-05-25", "P1 1080 4d 2026-05-27", "P2 900 2d 2026-05-28",
			"P5 400 2d 2026-05-29", "P3 60 1d 2026-05-10", "P7 50 1d 2026-05-21"}},
		{"branch admin of a", may, fx.ba, []string{"P4 1200 1d 2026-05-25", "P1 1080 4d 2026-05-27", "P2 900 2d 2026-05-28",
			"P3 60 1d 2026-05-10", "P7 50 1d 2026-05-21"}},
		{"batch A2", may + "&batch=" + lcBatchA2, fx.owner, []string{"P4 1200 1d 2026-05-25", "P1 60 1d 2026-05-26"}},
		{"last week of May", "/analytics/learning/time-spent?from=2026-05-25&to=2026-05-31", fx.owner, []string{
			"P4 1200 1d 2026-05-25", "P1 180 2d 2026-05-27", "P5 100 1d 2026-05-29", "P2 0 1d 2026-05-28"}},
		{"course 2", may + "&course=" + lcCourse2, fx.owner, []string{}},
		{"rival", may, fx.rival, []string{"RIVAL1 9999 1d 2026-05-20"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := flatTime(learningReport[timeReport](t, fx.env, tc.path, tc.token)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
	// Pages of four: the cursor continues where the first page stopped.
	first := learningReport[timeReport](t, fx.env, may+"&limit=4", fx.owner)
	if len(first.Items) != 4 || first.NextCursor == "" || first.Items[0].LastActivityAt != time.Date(2026, 5, 25, 10, 0, 0, 0, time.UTC) {
		t.Fatalf("first page = %+v", first)
	}
	rest := learningReport[timeReport](t, fx.env, may+"&limit=4&cursor="+url.QueryEscape(first.NextCursor), fx.owner)
	if got := flatTime(rest); !reflect.DeepEqual(got, []string{"P3 60 1d 2026-05-10", "P7 50 1d 2026-05-21"}) || rest.NextCursor != "" {
		t.Fatalf("second page = %q, cursor %q", got, rest.NextCursor)
	}
	for _, q := range []string{"cursor=bogus", "limit=0", "from=2026-06-02&to=2026-06-01", "course=x"} {
		apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/time-spent?"+q, fx.owner, nil), 400, "invalid")
	}
}

type quizReport struct {
	QuizID    string `json:"quiz_id"`
	Attempts  int64  `json:"attempts"`
	Questions []struct {
		QuestionID      string   `json:"question_id"`
		Answered        int64    `json:"answered"`
		Skipped         int64    `json:"skipped"`
		Correct         int64    `json:"correct"`
		Difficulty      *float64 `json:"difficulty"`
		Discrimination  *float64 `json:"discrimination"`
		MostChosenWrong *struct {
			Chosen []string `json:"chosen"`
			Count  int64    `json:"count"`
		} `json:"most_chosen_wrong"`
	} `json:"questions"`
}

// quizItemWant is one question's expected analysis; nan stands for null.
type quizItemWant struct {
	question                  string
	answered, skipped, right  int64
	difficulty, discriminates float64
	wrong                     string
	wrongCount                int64
}

func checkQuiz(t *testing.T, got quizReport, quiz string, attempts int64, want []quizItemWant) {
	t.Helper()
	if got.QuizID != quiz || got.Attempts != attempts || len(got.Questions) != len(want) {
		t.Fatalf("quiz report = %+v, want %d attempts and %d questions", got, attempts, len(want))
	}
	same := func(p *float64, v float64) bool {
		if math.IsNaN(v) {
			return p == nil
		}
		return p != nil && math.Abs(*p-v) < 1e-12
	}
	for i, w := range want {
		q := got.Questions[i]
		wrong := ""
		if q.MostChosenWrong != nil {
			wrong = fmt.Sprintf("%q", q.MostChosenWrong.Chosen)
			if q.MostChosenWrong.Count != w.wrongCount {
				wrong += fmt.Sprintf(" x%d", q.MostChosenWrong.Count)
			}
		}
		if q.QuestionID != w.question || q.Answered != w.answered || q.Skipped != w.skipped || q.Correct != w.right ||
			!same(q.Difficulty, w.difficulty) || !same(q.Discrimination, w.discriminates) || wrong != w.wrong {
			t.Errorf("question %s = %+v (difficulty %v, discrimination %v, wrong %s), want %+v", q.QuestionID, q, lcDeref(q.Difficulty), lcDeref(q.Discrimination), wrong, w)
		}
	}
}

func lcDeref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestQuizItemAnalysisOnDuckDB(t *testing.T) {
	fx := newLearningFixture(t)
	path := "/analytics/learning/quizzes/" + lcQuiz + "/items"
	nan := math.NaN()
	// First attempts only (scores out of 3): at1 2, at2 1, at3 1, at4 0; at5 is a second attempt. With x the
	// question's correctness and y the score fraction (2/3, 1/3, 1/3, 0):
	//   q1 right in at1, at3: r = (1/3) / sqrt(1 * 2/9) = 1/sqrt(2); wrong answers b and c tie: b.
	//   q2 right in at2 only: the covariance is 0; wrong a twice.
	//   q3 right in at1, blank in at3: r = (1/3) / sqrt(3/4 * 2/9) = sqrt(6)/3; wrong 4 twice.
	checkQuiz(t, learningReport[quizReport](t, fx.env, path, fx.owner), lcQuiz, 4, []quizItemWant{
		{"q1", 4, 0, 2, 0.5, 1 / math.Sqrt2, `["b"]`, 1},
		{"q2", 4, 0, 1, 0.25, 0, `["a"]`, 2},
		{"q3", 4, 1, 1, 0.25, math.Sqrt(6) / 3, `["4"]`, 2},
	})
	// The branch admin of a sees at1-at3: q1 x = (1, 0, 1), y = (2/3, 1/3, 1/3): r = (1/9) / sqrt(2/3 * 2/27)
	// = 0.5. q2 x = (0, 1, 0): r = (-1/9) / (2/9) = -0.5. q3 x = (1, 0, 0): r = (2/9) / sqrt(2/3 * 2/27) = 1.
	checkQuiz(t, learningReport[quizReport](t, fx.env, path, fx.ba), lcQuiz, 3, []quizItemWant{
		{"q1", 3, 0, 2, 0.6667, 0.5, `["b"]`, 1},
		{"q2", 3, 0, 1, 0.3333, -0.5, `["a"]`, 1},
		{"q3", 3, 1, 1, 0.3333, 1, `["4"]`, 1},
	})
	// One attempt: no correlation.
	checkQuiz(t, learningReport[quizReport](t, fx.env, path+"?batch="+lcBatchB1, fx.owner), lcQuiz, 1, []quizItemWant{
		{"q1", 1, 0, 0, 0, nan, `["c"]`, 1},
		{"q2", 1, 0, 0, 0, nan, `["a"]`, 1},
		{"q3", 1, 0, 0, 0, nan, `["4"]`, 1},
	})
	checkQuiz(t, learningReport[quizReport](t, fx.env, path, fx.rival), lcQuiz, 1, []quizItemWant{
		{"q1", 1, 0, 0, 0, nan, `["d"]`, 1},
		{"q2", 1, 0, 0, 0, nan, `["d"]`, 1},
		{"q3", 1, 0, 0, 0, nan, `["9"]`, 1},
	})
	apptest.MustProblem(t, fx.env.Do("GET", path+"?branch="+fx.b, fx.ba, nil), 404, "not_found")
	apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/quizzes/"+lcLesson1+"/items", fx.owner, nil), 404, "not_found")
	apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/quizzes/q1/items", fx.owner, nil), 400, "invalid")
}

type inactiveReport struct {
	AsOf  string `json:"as_of"`
	Days  int64  `json:"days"`
	Items []struct {
		EnrolmentID   string  `json:"enrolment_id"`
		PRN           string  `json:"prn"`
		CourseID      string  `json:"course_id"`
		BatchID       string  `json:"batch_id"`
		LastActiveDay *string `json:"last_active_day"`
		DaysInactive  *int64  `json:"days_inactive"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func flatInactive(r inactiveReport) []string {
	out := []string{}
	for _, it := range r.Items {
		s := it.EnrolmentID + " " + it.PRN
		if it.LastActiveDay != nil {
			s += fmt.Sprintf(" %s %dd", *it.LastActiveDay, *it.DaysInactive)
		}
		out = append(out, s)
	}
	return out
}

func TestInactiveLearnersOnDuckDB(t *testing.T) {
	fx := newLearningFixture(t)
	// Today is 1 June. Open enrolments and their last activity in the course: en1 27 May, en2 28 May,
	// en3 10 May, en4 25 May, en5 29 May, en6 never, en8 (student 1 in course 2) never; en7 is withdrawn.
	for _, tc := range []struct {
		name, query, token string
		want               []string
	}{
		{"default 14 days", "", fx.owner, []string{"en8 P1", "en6 P6", "en3 P3 2026-05-10 22d"}},
		{"5 days", "?days=5", fx.owner, []string{"en8 P1", "en6 P6", "en3 P3 2026-05-10 22d", "en4 P4 2026-05-25 7d"}},
		{"4 days: the 28th is not before the cutoff", "?days=4", fx.owner, []string{"en8 P1", "en6 P6", "en3 P3 2026-05-10 22d", "en4 P4 2026-05-25 7d", "en1 P1 2026-05-27 5d"}},
		{"course 2", "?course=" + lcCourse2, fx.owner, []string{"en8 P1"}},
		{"batch A1", "?days=5&batch=" + lcBatchA1, fx.owner, []string{"en6 P6", "en3 P3 2026-05-10 22d"}},
		{"branch b", "?days=1&branch=" + fx.b, fx.owner, []string{"en5 P5 2026-05-29 3d"}},
		{"branch b for the branch admin of a", "?days=1&branch=" + fx.b, fx.ba, []string{}},
		{"branch admin of a", "?days=1", fx.ba, []string{"en8 P1", "en6 P6", "en3 P3 2026-05-10 22d", "en4 P4 2026-05-25 7d", "en1 P1 2026-05-27 5d", "en2 P2 2026-05-28 4d"}},
		{"owner sees b too", "?days=1", fx.owner, []string{"en8 P1", "en6 P6", "en3 P3 2026-05-10 22d", "en4 P4 2026-05-25 7d", "en1 P1 2026-05-27 5d", "en2 P2 2026-05-28 4d", "en5 P5 2026-05-29 3d"}},
		{"rival", "?days=1", fx.rival, []string{"en1 RIVAL1 2026-05-20 12d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := learningReport[inactiveReport](t, fx.env, "/analytics/learning/inactive"+tc.query, tc.token)
			if got := flatInactive(rep); !reflect.DeepEqual(got, tc.want) || rep.AsOf != "2026-06-01" {
				t.Fatalf("as of %s got %q\nwant %q", rep.AsOf, got, tc.want)
			}
		})
	}
	first := learningReport[inactiveReport](t, fx.env, "/analytics/learning/inactive?days=1&limit=5", fx.owner)
	rest := learningReport[inactiveReport](t, fx.env, "/analytics/learning/inactive?days=1&limit=5&cursor="+url.QueryEscape(first.NextCursor), fx.owner)
	if len(first.Items) != 5 || !reflect.DeepEqual(flatInactive(rest), []string{"en2 P2 2026-05-28 4d", "en5 P5 2026-05-29 3d"}) || rest.NextCursor != "" {
		t.Fatalf("pages %q then %q", flatInactive(first), flatInactive(rest))
	}
	for _, q := range []string{"days=0", "days=366", "days=two", "batch=b1", "limit=x"} {
		apptest.MustProblem(t, fx.env.Do("GET", "/analytics/learning/inactive?"+q, fx.owner, nil), 400, "invalid")
	}
}
