package learning_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/learning"
	"github.com/edugrid/edugrid/internal/apptest"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type person struct {
	ID  string `json:"id"`
	PRN string `json:"prn"`
}

type item struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Quiz *struct {
		MaxAttempts int `json:"max_attempts"`
		Questions   []struct {
			ID      string `json:"id"`
			Kind    string `json:"kind"`
			Options []struct {
				ID string `json:"id"`
			} `json:"options"`
		} `json:"questions"`
	} `json:"quiz"`
}

type lesson struct {
	ID       string `json:"id"`
	ModuleID string `json:"module_id"`
	Order    int64  `json:"order"`
	Status   string `json:"status"`
	Items    []item `json:"items"`
	Done     bool   `json:"done"`
}

type progress struct {
	StudentID        string     `json:"student_id"`
	CourseID         string     `json:"course_id"`
	BatchID          string     `json:"batch_id"`
	LessonsCompleted int64      `json:"lessons_completed"`
	LessonsTotal     int64      `json:"lessons_total"`
	Percent          float64    `json:"percent"`
	LastActivityAt   *time.Time `json:"last_activity_at"`
}

type outline struct {
	CourseID string `json:"course_id"`
	BatchID  string `json:"batch_id"`
	Modules  []struct {
		ID      string   `json:"id"`
		Lessons []lesson `json:"lessons"`
	} `json:"modules"`
	Progress progress `json:"progress"`
}

type recording struct {
	Recorded     int `json:"recorded"`
	Duplicates   int `json:"duplicates"`
	Interactions []struct {
		Interaction struct {
			InteractionID string    `json:"interaction_id"`
			Kind          string    `json:"kind"`
			At            time.Time `json:"at"`
			Seconds       int64     `json:"seconds"`
		} `json:"interaction"`
		Duplicate bool `json:"duplicate"`
	} `json:"interactions"`
}

type attempts struct {
	MaxAttempts  int64    `json:"max_attempts"`
	AttemptsUsed int64    `json:"attempts_used"`
	AttemptsLeft int64    `json:"attempts_left"`
	MaxScore     float64  `json:"max_score"`
	BestScore    *float64 `json:"best_score"`
	LatestScore  *float64 `json:"latest_score"`
	Latest       *struct {
		Attempt int64   `json:"attempt"`
		Score   float64 `json:"score"`
		Answers []struct {
			QuestionID string   `json:"question_id"`
			Correct    bool     `json:"correct"`
			Chosen     []string `json:"chosen"`
		} `json:"answers"`
	} `json:"latest"`
	Solutions []map[string]any `json:"solutions"`
}

type m = map[string]any

// school is a tenant with branches A and B; courses JEE and NEET; batch A (JEE, branch A, teacher A), batch
// N (NEET, branch A) and batch B (JEE, branch B, teacher B), all June 2026. Students: s1 and s2 in batch A
// (s1 with guardian g1, s2 with guardian g2), outsider in batch N only, b1 in batch B. JEE's content: module
// one (published) with lesson video (a video and a document), lesson quiz (a quiz of each question kind,
// two attempts) and lesson draft (a draft); module two (a draft) with lesson hidden (published). The clock
// stands on 1 June 2026.
type school struct {
	env                     *apptest.Env
	slug                    string
	owner                   string
	teacherA, teacherB      string
	accountant              string
	jee, neet               string
	batchA, batchN, batchB  string
	s1, s2, outsider, b1    person
	g1, g2                  person
	modOne, modTwo          string
	video, quiz, draft      lesson
	hidden                  lesson
	quizID                  string
	single, multiple, numer string // question ids
}

func newSchool(t *testing.T) *school {
	t.Helper()
	env := apptest.New(t)
	s := &school{env: env, slug: "alpha"}
	env.Provision(s.slug)
	s.owner = env.Login(s.slug, "owner@alpha.test").AccessToken
	branchA := apptest.Call[person](t, env, "POST", "/users/branches", s.owner, m{"code": "AA", "name": "Branch A"}, 201).ID
	branchB := apptest.Call[person](t, env, "POST", "/users/branches", s.owner, m{"code": "BB", "name": "Branch B"}, 201).ID
	staff := func(email, role string, branches []string) string {
		return apptest.Call[person](t, env, "POST", "/users/staff", s.owner, m{"email": email, "name": email, "role": role,
			"branches": branches, "password": apptest.Password}, 201).ID
	}
	ta := staff("ta@alpha.test", "teacher", []string{branchA})
	tb := staff("tb@alpha.test", "teacher", []string{branchB})
	staff("acc@alpha.test", "accountant", nil)
	s.teacherA = env.Login(s.slug, "ta@alpha.test").AccessToken
	s.teacherB = env.Login(s.slug, "tb@alpha.test").AccessToken
	s.accountant = env.Login(s.slug, "acc@alpha.test").AccessToken
	s.jee = apptest.Call[person](t, env, "POST", "/academic/courses", s.owner, m{"code": "JEE", "name": "JEE"}, 201).ID
	s.neet = apptest.Call[person](t, env, "POST", "/academic/courses", s.owner, m{"code": "NEET", "name": "NEET"}, 201).ID
	batch := func(course, branch, teacher string) string {
		return apptest.Call[person](t, env, "POST", "/academic/batches", s.owner, m{
			"course_id": course, "branch_id": branch, "name": "Batch", "teachers": []string{teacher}, "capacity": 60,
			"start_date": "2026-06-01", "end_date": "2026-06-30", "schedule": []m{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}},
		}, 201).ID
	}
	s.batchA, s.batchN, s.batchB = batch(s.jee, branchA, ta), batch(s.neet, branchA, ta), batch(s.jee, branchB, tb)
	student := func(name, branch, batch string) person {
		st := apptest.Call[person](t, env, "POST", "/students/", s.owner, m{
			"name": name, "date_of_birth": "2010-04-05", "phone": "+91 98765 43210", "branch_id": branch, "password": apptest.Password,
		}, 201)
		apptest.Call[person](t, env, "POST", "/students/enrolments", s.owner, m{"student_id": st.ID, "batch_id": batch, "from": "2026-06-01"}, 201)
		return st
	}
	s.s1 = student("Asha One", branchA, s.batchA)
	s.s2 = student("Bala Two", branchA, s.batchA)
	s.outsider = student("Chitra Out", branchA, s.batchN)
	s.b1 = student("Esha Bee", branchB, s.batchB)
	guardian := func(st person, email string) person {
		return apptest.Call[person](t, env, "POST", "/students/guardians", s.owner, m{"student_id": st.ID, "name": "Parent", "email": email, "password": apptest.Password}, 201)
	}
	s.g1, s.g2 = guardian(s.s1, "g1@example.com"), guardian(s.s2, "g2@example.com")

	s.modOne = apptest.Call[person](t, env, "POST", "/learning/courses/"+s.jee+"/modules", s.owner, m{"title": "Kinematics"}, 201).ID
	s.modTwo = apptest.Call[person](t, env, "POST", "/learning/courses/"+s.jee+"/modules", s.teacherA, m{"title": "Dynamics"}, 201).ID
	addLesson := func(module, title string, items []m, publish bool) lesson {
		l := apptest.Call[lesson](t, env, "POST", "/learning/modules/"+module+"/lessons", s.owner, m{"title": title, "items": items}, 201)
		if publish {
			l = apptest.Call[lesson](t, env, "PATCH", "/learning/lessons/"+l.ID, s.owner, m{"status": "published"}, 200)
		}
		return l
	}
	s.video = addLesson(s.modOne, "Motion in a line", []m{
		{"kind": "video", "title": "Lecture", "url": "https://videos.example.com/1", "duration_seconds": 900},
		{"kind": "document", "title": "Notes", "url": "https://docs.example.com/1.pdf"},
	}, true)
	s.quiz = addLesson(s.modOne, "Check yourself", []m{{"kind": "quiz", "title": "Quiz 1", "quiz": quizBody(2)}}, true)
	s.draft = addLesson(s.modOne, "Not ready", []m{{"kind": "link", "title": "Later", "url": "https://example.com"}}, false)
	s.hidden = addLesson(s.modTwo, "Newton", []m{{"kind": "link", "title": "Wiki", "url": "https://example.com/newton"}}, true)
	apptest.Call[person](t, env, "PATCH", "/learning/modules/"+s.modOne, s.owner, m{"status": "published"}, 200)
	q := s.quiz.Items[0]
	s.quizID = q.ID
	s.single, s.multiple, s.numer = q.Quiz.Questions[0].ID, q.Quiz.Questions[1].ID, q.Quiz.Questions[2].ID
	return s
}

// quizBody is a quiz with one question of each kind: single choice (right: b), multiple choice (right: a
// and c), numeric (9.8 ± 0.1), worth 1, 2 and 3 points.
func quizBody(maxAttempts int) m {
	return m{"max_attempts": maxAttempts, "questions": []m{
		{"kind": "single_choice", "prompt": "Unit of force?", "options": []m{{"text": "joule"}, {"text": "newton"}, {"text": "watt"}}, "correct": []string{"b"}},
		{"kind": "multiple_choice", "prompt": "Vectors?", "points": 2, "options": []m{{"id": "a", "text": "velocity"}, {"id": "b", "text": "speed"}, {"id": "c", "text": "force"}}, "correct": []string{"a", "c"}},
		{"kind": "numeric", "prompt": "g in m/s²?", "points": 3, "answer": 9.8, "tolerance": 0.1},
	}}
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

func (s *school) count(t *testing.T, collection string, filter bson.M) int64 {
	t.Helper()
	n, err := s.env.TenantDB(s.slug).Collection(collection).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *school) attemptsPath(lessonID, quizID string) string {
	return "/learning/learn/lessons/" + lessonID + "/quizzes/" + quizID + "/attempts"
}

func interactions(list ...m) m { return m{"interactions": list} }

func TestLearnerSeesOnlyPublishedContentOfTheirCourses(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	o := apptest.Call[outline](t, s.env, "GET", "/learning/learn/courses/"+s.jee, tok, nil, 200)
	if o.BatchID != s.batchA || len(o.Modules) != 1 || o.Modules[0].ID != s.modOne {
		t.Fatalf("outline = %+v, want batch A and only the published module", o)
	}
	var got []string
	for _, l := range o.Modules[0].Lessons {
		got = append(got, l.ID)
	}
	if want := []string{s.video.ID, s.quiz.ID}; !slices.Equal(got, want) {
		t.Fatalf("lessons = %v, want the published ones in order %v", got, want)
	}
	if o.Progress.LessonsTotal != 2 || o.Progress.LastActivityAt != nil {
		t.Fatalf("progress = %+v, want 2 lessons and no activity", o.Progress)
	}
	mine := apptest.Items[struct {
		CourseID string `json:"course_id"`
	}](t, s.env, "GET", "/learning/learn/courses", tok, nil, 200)
	if len(mine) != 1 || mine[0].CourseID != s.jee {
		t.Fatalf("my courses = %+v, want JEE only", mine)
	}
	apptest.Call[lesson](t, s.env, "GET", "/learning/learn/lessons/"+s.video.ID, tok, nil, 200)
	for _, hidden := range []string{s.draft.ID, s.hidden.ID, "0123456789abcdef01234567", "nope"} {
		apptest.MustProblem(t, s.env.Do("GET", "/learning/learn/lessons/"+hidden, tok, nil), 404, "not_found")
	}
	// Authoring routes are for staff.
	apptest.MustProblem(t, s.env.Do("GET", "/learning/lessons/"+s.video.ID, tok, nil), 403, "forbidden")
	apptest.MustProblem(t, s.env.Do("GET", "/learning/courses/"+s.jee+"/content", tok, nil), 403, "forbidden")
}

func TestLearnerNotEnrolledGetsNotFound(t *testing.T) {
	s := newSchool(t)
	out := s.login(t, s.outsider.PRN)
	notFound := func(method, path string, body any) {
		t.Helper()
		apptest.MustProblem(t, s.env.Do(method, path, out, body), 404, "not_found")
	}
	notFound("GET", "/learning/learn/courses/"+s.jee, nil)
	notFound("GET", "/learning/learn/lessons/"+s.video.ID, nil)
	notFound("GET", "/learning/learn/lessons/"+s.quiz.ID, nil)
	notFound("POST", "/learning/learn/interactions", interactions(m{"id": "view-0001", "lesson_id": s.video.ID, "kind": "completed"}))
	notFound("GET", s.attemptsPath(s.quiz.ID, s.quizID), nil)
	notFound("POST", s.attemptsPath(s.quiz.ID, s.quizID), m{"answers": []m{}})
	if n := s.count(t, learning.InteractionsCollection, bson.M{}) + s.count(t, learning.AttemptsCollection, bson.M{}); n != 0 {
		t.Fatalf("%d documents written for a learner of another course", n)
	}
	// Their own course (NEET) exists for them, with nothing published yet.
	o := apptest.Call[outline](t, s.env, "GET", "/learning/learn/courses/"+s.neet, out, nil, 200)
	if len(o.Modules) != 0 || o.BatchID != s.batchN {
		t.Fatalf("NEET outline = %+v", o)
	}

	// Enrolment is what counts, today: withdrawn from batch A, s1 loses the course at once.
	s1 := s.login(t, s.s1.PRN)
	apptest.Call[outline](t, s.env, "GET", "/learning/learn/courses/"+s.jee, s1, nil, 200)
	owner := s.env.Login(s.slug, "owner@alpha.test").AccessToken
	es := apptest.Items[struct {
		ID string `json:"id"`
	}](t, s.env, "GET", "/students/enrolments?student="+s.s1.ID, owner, nil, 200)
	apptest.Call[m](t, s.env, "POST", "/students/enrolments/"+es[0].ID+"/withdraw", owner, m{"date": "2026-06-01"}, 200)
	apptest.MustProblem(t, s.env.Do("GET", "/learning/learn/courses/"+s.jee, s1, nil), 404, "not_found")
	apptest.MustProblem(t, s.env.Do("GET", "/learning/learn/lessons/"+s.video.ID, s1, nil), 404, "not_found")
}

// forbiddenKeys are the keys that would carry a quiz's answers.
var forbiddenKeys = []string{"correct", "answer", "answers", "solution", "solutions", "tolerance"}

// answerKeys returns the paths of every key in v that could carry an answer.
func answerKeys(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if slices.Contains(forbiddenKeys, strings.ToLower(k)) {
				out = append(out, path+"."+k)
			}
			out = append(out, answerKeys(c, path+"."+k)...)
		}
	case []any:
		for i, c := range x {
			out = append(out, answerKeys(c, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

func TestQuizAnswersNeverReachLearnersBeforeSubmission(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	for _, path := range []string{
		"/learning/learn/courses",
		"/learning/learn/courses/" + s.jee,
		"/learning/learn/lessons/" + s.quiz.ID,
		s.attemptsPath(s.quiz.ID, s.quizID),
		"/learning/progress/students/" + s.s1.ID,
	} {
		body := apptest.Call[any](t, s.env, "GET", path, tok, nil, 200)
		if keys := answerKeys(body, "$"); len(keys) > 0 {
			t.Errorf("GET %s shows %v to a learner", path, keys)
		}
	}
	rec := apptest.Call[any](t, s.env, "POST", "/learning/learn/interactions", tok, interactions(m{"id": "view-0001", "lesson_id": s.quiz.ID, "item_id": s.quizID, "kind": "viewed", "seconds": 30}), 200)
	if keys := answerKeys(rec, "$"); len(keys) > 0 {
		t.Errorf("recording an interaction shows %v", keys)
	}
	// The walk finds answers where they are: the authoring view.
	authoring := apptest.Call[any](t, s.env, "GET", "/learning/lessons/"+s.quiz.ID, s.owner, nil, 200)
	if keys := answerKeys(authoring, "$"); len(keys) < 3 {
		t.Fatalf("authoring view shows answer keys %v; the walk is not finding them", keys)
	}

	// After the first of two attempts: which questions were right, not the solutions.
	first := apptest.Call[attempts](t, s.env, "POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, m{"answers": []m{{"question_id": s.single, "chosen": []string{"a"}}}}, 201)
	if first.Solutions != nil || first.AttemptsLeft != 1 {
		t.Fatalf("after one attempt of two: %+v", first)
	}
	// After the last one, the solutions.
	last := apptest.Call[attempts](t, s.env, "POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, m{"answers": []m{{"question_id": s.single, "chosen": []string{"b"}}}}, 201)
	if len(last.Solutions) != 3 || last.AttemptsLeft != 0 {
		t.Fatalf("after the last attempt: %+v, want the three solutions", last)
	}
}

func TestGradingThroughTheAPI(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	got := apptest.Call[attempts](t, s.env, "POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, m{"answers": []m{
		{"question_id": s.single, "chosen": []string{"b"}},
		{"question_id": s.multiple, "chosen": []string{"c", "a"}},
		{"question_id": s.numer, "value": 9.75},
	}}, 201)
	if got.Latest == nil || got.Latest.Score != 6 || got.MaxScore != 6 || got.Latest.Attempt != 1 || *got.BestScore != 6 || *got.LatestScore != 6 {
		t.Fatalf("attempt = %+v, want 6 of 6", got)
	}
	if c := got.Latest.Answers[2].Chosen; !slices.Equal(c, []string{"9.75"}) {
		t.Fatalf("numeric chosen = %v, want the number as a string", c)
	}
	second := apptest.Call[attempts](t, s.env, "POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, m{"answers": []m{
		{"question_id": s.multiple, "chosen": []string{"a"}},
	}}, 201)
	if second.Latest.Score != 0 || *second.BestScore != 6 || *second.LatestScore != 0 || second.AttemptsUsed != 2 {
		t.Fatalf("second attempt = %+v, want score 0, best 6, latest 0", second)
	}
	apptest.MustProblem(t, s.env.Do("POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, m{"answers": []m{}}), 409, "conflict")

	// The stored attempt is what the warehouse reads.
	var stored learning.Attempt
	if err := s.env.TenantDB(s.slug).Collection(learning.AttemptsCollection).FindOne(context.Background(), bson.M{"attempt": 1}).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	if stored.StudentID != s.s1.ID || stored.CourseID != s.jee || stored.BatchID != s.batchA || stored.QuizID != s.quizID ||
		stored.Day != "2026-06-01" || len(stored.Answers) != 3 || !stored.Answers[1].Correct || !slices.Equal(stored.Answers[1].Chosen, []string{"a", "c"}) {
		t.Fatalf("stored attempt = %+v", stored)
	}
	if n := s.count(t, learning.InteractionsCollection, bson.M{"kind": "quiz_attempted", "item_id": s.quizID}); n != 2 {
		t.Fatalf("%d quiz_attempted interactions, want 2", n)
	}

	// Answers that do not fit the quiz are refused and use no attempt.
	other := s.login(t, s.s2.PRN)
	for _, bad := range []m{
		{"answers": []m{{"question_id": "nope", "chosen": []string{"a"}}}},
		{"answers": []m{{"question_id": s.single, "chosen": []string{"z"}}}},
		{"answers": []m{{"question_id": s.single, "chosen": []string{"a", "b"}}}},
		{"answers": []m{{"question_id": s.single, "value": 1}}},
		{"answers": []m{{"question_id": s.numer, "chosen": []string{"a"}}}},
		{"answers": []m{{"question_id": s.multiple, "chosen": []string{"a", "a"}}}},
		{"answers": []m{{"question_id": s.single}, {"question_id": s.single}}},
		{"submission_id": "short", "answers": []m{}},
		{"answers": []m{}, "correct": true},
	} {
		apptest.MustProblem(t, s.env.Do("POST", s.attemptsPath(s.quiz.ID, s.quizID), other, bad), 400, "invalid")
	}
	if n := s.count(t, learning.AttemptsCollection, bson.M{"student_id": s.s2.ID}); n != 0 {
		t.Fatalf("%d attempts recorded from refused submissions", n)
	}
	apptest.MustProblem(t, s.env.Do("POST", s.attemptsPath(s.quiz.ID, s.video.Items[0].ID), other, m{"answers": []m{}}), 404, "not_found")
	apptest.MustProblem(t, s.env.Do("POST", s.attemptsPath(s.video.ID, s.quizID), other, m{"answers": []m{}}), 404, "not_found")
}

func TestGrade(t *testing.T) {
	answer := 9.8
	quiz := &learning.Quiz{MaxAttempts: 1, Questions: []learning.Question{
		{ID: "s", Kind: learning.SingleChoice, Points: 1, Options: []learning.Option{{ID: "a"}, {ID: "b"}, {ID: "c"}}, Correct: []string{"b"}},
		{ID: "m", Kind: learning.MultipleChoice, Points: 2, Options: []learning.Option{{ID: "a"}, {ID: "b"}, {ID: "c"}}, Correct: []string{"a", "c"}},
		{ID: "n", Kind: learning.Numeric, Points: 3, Answer: &answer, Tolerance: 0.1},
	}}
	num := func(v float64) *float64 { return &v }
	tests := []struct {
		name    string
		answers []learning.SubmittedAnswer
		score   float64
		right   []bool // per question s, m, n
		invalid bool
	}{
		{name: "nothing answered", score: 0, right: []bool{false, false, false}},
		{name: "single right", answers: []learning.SubmittedAnswer{{QuestionID: "s", Chosen: []string{"b"}}}, score: 1, right: []bool{true, false, false}},
		{name: "single wrong", answers: []learning.SubmittedAnswer{{QuestionID: "s", Chosen: []string{"a"}}}, score: 0, right: []bool{false, false, false}},
		{name: "single empty", answers: []learning.SubmittedAnswer{{QuestionID: "s"}}, score: 0, right: []bool{false, false, false}},
		{name: "multiple exact in any order", answers: []learning.SubmittedAnswer{{QuestionID: "m", Chosen: []string{"c", "a"}}}, score: 2, right: []bool{false, true, false}},
		{name: "multiple subset scores nothing", answers: []learning.SubmittedAnswer{{QuestionID: "m", Chosen: []string{"a"}}}, score: 0, right: []bool{false, false, false}},
		{name: "multiple superset scores nothing", answers: []learning.SubmittedAnswer{{QuestionID: "m", Chosen: []string{"a", "b", "c"}}}, score: 0, right: []bool{false, false, false}},
		{name: "numeric exact", answers: []learning.SubmittedAnswer{{QuestionID: "n", Value: num(9.8)}}, score: 3, right: []bool{false, false, true}},
		{name: "numeric at the tolerance", answers: []learning.SubmittedAnswer{{QuestionID: "n", Value: num(9.9)}}, score: 3, right: []bool{false, false, true}},
		{name: "numeric outside the tolerance", answers: []learning.SubmittedAnswer{{QuestionID: "n", Value: num(9.95)}}, score: 0, right: []bool{false, false, false}},
		{name: "numeric below", answers: []learning.SubmittedAnswer{{QuestionID: "n", Value: num(9.69)}}, score: 0, right: []bool{false, false, false}},
		{name: "all right", answers: []learning.SubmittedAnswer{{QuestionID: "n", Value: num(9.71)}, {QuestionID: "s", Chosen: []string{"b"}}, {QuestionID: "m", Chosen: []string{"a", "c"}}}, score: 6, right: []bool{true, true, true}},
		{name: "unknown question", answers: []learning.SubmittedAnswer{{QuestionID: "x", Chosen: []string{"a"}}}, invalid: true},
		{name: "unknown option", answers: []learning.SubmittedAnswer{{QuestionID: "m", Chosen: []string{"d"}}}, invalid: true},
		{name: "two options for single", answers: []learning.SubmittedAnswer{{QuestionID: "s", Chosen: []string{"a", "b"}}}, invalid: true},
		{name: "value for a choice", answers: []learning.SubmittedAnswer{{QuestionID: "s", Value: num(1)}}, invalid: true},
		{name: "options for a numeric", answers: []learning.SubmittedAnswer{{QuestionID: "n", Chosen: []string{"a"}}}, invalid: true},
		{name: "numeric without a value", answers: []learning.SubmittedAnswer{{QuestionID: "n"}}, invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			score, maxScore, graded, err := learning.Grade(quiz, tc.answers)
			if tc.invalid {
				if err == nil {
					t.Fatalf("Grade = %v, %v; want an error", score, graded)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if score != tc.score || maxScore != 6 || len(graded) != 3 {
				t.Fatalf("Grade = %v of %v (%d answers), want %v of 6", score, maxScore, len(graded), tc.score)
			}
			for i, g := range graded {
				if g.Correct != tc.right[i] || (g.Points > 0) != tc.right[i] || g.Chosen == nil {
					t.Errorf("question %s: %+v, want correct %v", g.QuestionID, g, tc.right[i])
				}
			}
		})
	}
}

func TestRetriedInteractionCountsOnce(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	batch := interactions(
		m{"id": "view-0001", "lesson_id": s.video.ID, "item_id": s.video.Items[0].ID, "kind": "viewed", "seconds": 600},
		m{"id": "done-0001", "lesson_id": s.video.ID, "kind": "completed"},
	)
	first := apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, batch, 200)
	if first.Recorded != 2 || first.Duplicates != 0 {
		t.Fatalf("first = %+v", first)
	}
	s.env.Clock.Advance(time.Minute)
	again := apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, batch, 200)
	if again.Recorded != 0 || again.Duplicates != 2 || !again.Interactions[0].Duplicate || !again.Interactions[0].Interaction.At.Equal(first.Interactions[0].Interaction.At) {
		t.Fatalf("retry = %+v, want both duplicates with the original times", again)
	}
	// Retried concurrently, too.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			rec := s.env.Do("POST", "/learning/learn/interactions", tok, batch)
			if rec.Code != 200 {
				t.Errorf("concurrent retry: %d %s", rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	if n := s.count(t, learning.InteractionsCollection, bson.M{"student_id": s.s1.ID}); n != 2 {
		t.Fatalf("%d interactions stored, want 2", n)
	}
	// Completing the same lesson again under a new id is a new interaction but not a second lesson.
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, interactions(m{"id": "done-0002", "lesson_id": s.video.ID, "kind": "completed"}), 200)
	p := apptest.Items[progress](t, s.env, "GET", "/learning/progress/students/"+s.s1.ID, tok, nil, 200)
	if len(p) != 1 || p[0].LessonsCompleted != 1 || p[0].LessonsTotal != 2 || p[0].Percent != 50 || p[0].BatchID != s.batchA || p[0].LastActivityAt == nil {
		t.Fatalf("progress = %+v, want 1 of 2 lessons", p)
	}
	var stored learning.Progress
	if err := s.env.TenantDB(s.slug).Collection(learning.ProgressCollection).FindOne(context.Background(), bson.M{"_id": s.s1.ID + ":" + s.jee}).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	if stored.LessonsCompleted != 1 || stored.LessonsTotal != 2 || stored.Percent != 50 || !stored.LastActivityAt.Equal(s.env.Clock.Now()) {
		t.Fatalf("stored progress = %+v", stored)
	}
	// Another student's equal id is their own interaction.
	other := s.login(t, s.s2.PRN)
	r := apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", other, interactions(m{"id": "done-0001", "lesson_id": s.video.ID, "kind": "completed"}), 200)
	if r.Recorded != 1 {
		t.Fatalf("other student's interaction = %+v, want recorded", r)
	}
	var doc learning.Interaction
	if err := s.env.TenantDB(s.slug).Collection(learning.InteractionsCollection).FindOne(context.Background(), bson.M{"_id": s.s2.ID + ":done-0001"}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.InteractionID != "done-0001" || doc.StudentID != s.s2.ID || doc.CourseID != s.jee || doc.BatchID != s.batchA || doc.ItemID != "" || doc.Day != "2026-06-01" {
		t.Fatalf("stored interaction = %+v", doc)
	}
	// The lesson shows as done to its learner.
	if l := apptest.Call[lesson](t, s.env, "GET", "/learning/learn/lessons/"+s.video.ID, tok, nil, 200); !l.Done {
		t.Fatal("completed lesson not shown as done")
	}
}

func TestInteractionsAreValidatedFirst(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	ok := m{"id": "good-0001", "lesson_id": s.video.ID, "kind": "completed"}
	many := make([]m, learning.MaxBatch+1)
	for i := range many {
		many[i] = m{"id": fmt.Sprintf("many-%04d", i), "lesson_id": s.video.ID, "kind": "completed"}
	}
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"empty", interactions(), 400},
		{"too many", m{"interactions": many}, 400},
		{"short id", interactions(ok, m{"id": "x", "lesson_id": s.video.ID, "kind": "completed"}), 400},
		{"id with a colon", interactions(ok, m{"id": "abc:defgh", "lesson_id": s.video.ID, "kind": "completed"}), 400},
		{"same id twice", interactions(ok, ok), 400},
		{"quiz_attempted from a client", interactions(ok, m{"id": "quiz-0001", "lesson_id": s.quiz.ID, "item_id": s.quizID, "kind": "quiz_attempted"}), 400},
		{"viewed without an item", interactions(ok, m{"id": "view-0001", "lesson_id": s.video.ID, "kind": "viewed", "seconds": 5}), 400},
		{"negative seconds", interactions(ok, m{"id": "view-0001", "lesson_id": s.video.ID, "item_id": s.video.Items[0].ID, "kind": "viewed", "seconds": -1}), 400},
		{"too many seconds", interactions(ok, m{"id": "view-0001", "lesson_id": s.video.ID, "item_id": s.video.Items[0].ID, "kind": "viewed", "seconds": learning.MaxViewSeconds + 1}), 400},
		{"unknown field", interactions(ok, m{"id": "view-0001", "lesson_id": s.video.ID, "kind": "completed", "student_id": s.s2.ID}), 400},
		{"unknown item", interactions(ok, m{"id": "view-0001", "lesson_id": s.video.ID, "item_id": "nope", "kind": "viewed"}), 404},
		{"draft lesson", interactions(ok, m{"id": "view-0001", "lesson_id": s.draft.ID, "kind": "completed"}), 404},
		{"lesson of a draft module", interactions(ok, m{"id": "view-0001", "lesson_id": s.hidden.ID, "kind": "completed"}), 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := s.env.Do("POST", "/learning/learn/interactions", tok, tc.body)
			apptest.MustProblem(t, rec, tc.status, map[int]string{400: "invalid", 404: "not_found"}[tc.status])
		})
	}
	if n := s.count(t, learning.InteractionsCollection, bson.M{}) + s.count(t, learning.ProgressCollection, bson.M{}); n != 0 {
		t.Fatalf("%d documents written by refused batches", n)
	}
	// Staff do not record interactions.
	apptest.MustProblem(t, s.env.Do("POST", "/learning/learn/interactions", s.owner, interactions(ok)), 403, "forbidden")
}

func TestInteractionRateLimit(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	batch := func(n, from int) m {
		list := make([]m, n)
		for i := range list {
			list[i] = m{"id": fmt.Sprintf("view-%05d", from+i), "lesson_id": s.video.ID, "item_id": s.video.Items[0].ID, "kind": "viewed", "seconds": 10}
		}
		return interactions(list...)
	}
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, batch(50, 0), 200)
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, batch(50, 50), 200)
	rec := s.env.Do("POST", "/learning/learn/interactions", tok, batch(50, 100))
	apptest.MustProblem(t, rec, 429, "rate_limited")
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if n := s.count(t, learning.InteractionsCollection, bson.M{}); n != 100 {
		t.Fatalf("%d interactions stored, want the 100 allowed", n)
	}
	// Another student has their own budget.
	other := s.login(t, s.s2.PRN)
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", other, batch(50, 0), 200)
	// A minute later the first student may send again.
	s.env.Clock.Advance(time.Minute)
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, batch(50, 100), 200)
}

func TestAttemptLimitHoldsUnderConcurrentSubmissions(t *testing.T) {
	s := newSchool(t)
	// A quiz of three attempts, in its own published lesson.
	l := apptest.Call[lesson](t, s.env, "POST", "/learning/modules/"+s.modOne+"/lessons", s.owner, m{"title": "Race", "items": []m{{"kind": "quiz", "title": "Q", "quiz": quizBody(3)}}}, 201)
	apptest.Call[lesson](t, s.env, "PATCH", "/learning/lessons/"+l.ID, s.owner, m{"status": "published"}, 200)
	quiz := l.Items[0]
	tok := s.login(t, s.s1.PRN)
	const n = 20
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := s.env.Do("POST", s.attemptsPath(l.ID, quiz.ID), tok, m{"answers": []m{{"question_id": quiz.Quiz.Questions[0].ID, "chosen": []string{"b"}}}})
			codes[i] = rec.Code
		})
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 409:
			conflicts++
		}
	}
	if created != 3 || conflicts != n-3 {
		t.Fatalf("codes %v: %d created, %d conflicts; want 3 and %d", codes, created, conflicts, n-3)
	}
	var numbers []int64
	cur, err := s.env.TenantDB(s.slug).Collection(learning.AttemptsCollection).Find(context.Background(), bson.M{"student_id": s.s1.ID, "quiz_id": quiz.ID})
	if err != nil {
		t.Fatal(err)
	}
	var stored []learning.Attempt
	if err := cur.All(context.Background(), &stored); err != nil {
		t.Fatal(err)
	}
	for _, a := range stored {
		numbers = append(numbers, a.Attempt)
	}
	slices.Sort(numbers)
	if !slices.Equal(numbers, []int64{1, 2, 3}) {
		t.Fatalf("attempt numbers %v, want 1, 2, 3", numbers)
	}
	if got := s.count(t, learning.InteractionsCollection, bson.M{"kind": "quiz_attempted", "item_id": quiz.ID}); got != 3 {
		t.Fatalf("%d quiz_attempted interactions, want 3", got)
	}
	v := apptest.Call[attempts](t, s.env, "GET", s.attemptsPath(l.ID, quiz.ID), tok, nil, 200)
	if v.AttemptsUsed != 3 || v.AttemptsLeft != 0 || *v.BestScore != 1 {
		t.Fatalf("attempts = %+v", v)
	}
}

func TestRetriedSubmissionUsesOneAttempt(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	sub := m{"submission_id": "submit-0001", "answers": []m{{"question_id": s.numer, "value": 9.8}}}
	first := apptest.Call[attempts](t, s.env, "POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, sub, 201)
	again := apptest.Call[attempts](t, s.env, "POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, sub, 201)
	if first.AttemptsUsed != 1 || again.AttemptsUsed != 1 || again.Latest.Attempt != 1 || again.Latest.Score != 3 {
		t.Fatalf("first %+v, retry %+v; want one attempt", first, again)
	}
	// A submission id already used by a content interaction is refused.
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", tok, interactions(m{"id": "view-0001", "lesson_id": s.video.ID, "item_id": s.video.Items[0].ID, "kind": "viewed"}), 200)
	apptest.MustProblem(t, s.env.Do("POST", s.attemptsPath(s.quiz.ID, s.quizID), tok, m{"submission_id": "view-0001", "answers": []m{}}), 400, "invalid")
}

func TestProgressReaders(t *testing.T) {
	s := newSchool(t)
	s1 := s.login(t, s.s1.PRN)
	apptest.Call[recording](t, s.env, "POST", "/learning/learn/interactions", s1, interactions(m{"id": "done-0001", "lesson_id": s.video.ID, "kind": "completed"}), 200)
	g1, g2, s2 := s.login(t, s.g1.PRN), s.login(t, s.g2.PRN), s.login(t, s.s2.PRN)
	owner := s.env.Login(s.slug, "owner@alpha.test").AccessToken
	teacherA := s.env.Login(s.slug, "ta@alpha.test").AccessToken
	teacherB := s.env.Login(s.slug, "tb@alpha.test").AccessToken
	accountant := s.env.Login(s.slug, "acc@alpha.test").AccessToken
	path := "/learning/progress/students/" + s.s1.ID
	for name, tok := range map[string]string{"student": s1, "guardian": g1, "teacher of the branch": teacherA, "owner": owner} {
		p := apptest.Items[progress](t, s.env, "GET", path, tok, nil, 200)
		if len(p) != 1 || p[0].LessonsCompleted != 1 || p[0].Percent != 50 {
			t.Errorf("%s reads %+v", name, p)
		}
	}
	for name, tok := range map[string]string{"another student": s2, "another guardian": g2, "teacher of another branch": teacherB} {
		t.Run(name, func(t *testing.T) { apptest.MustProblem(t, s.env.Do("GET", path, tok, nil), 404, "not_found") })
	}
	apptest.MustProblem(t, s.env.Do("GET", path, accountant, nil), 403, "forbidden")

	// A batch's progress: every enrolled student, active or not yet.
	b := apptest.Items[progress](t, s.env, "GET", "/learning/progress/batches/"+s.batchA, teacherA, nil, 200)
	if len(b) != 2 || b[0].StudentID != s.s1.ID || b[0].LessonsCompleted != 1 || b[1].StudentID != s.s2.ID || b[1].LessonsCompleted != 0 || b[1].LastActivityAt != nil {
		t.Fatalf("batch progress = %+v", b)
	}
	// A teacher of the branch who does not teach the batch reads it as missing, as on every batch route.
	branchA := apptest.Call[struct {
		BranchID string `json:"branch_id"`
	}](t, s.env, "GET", "/academic/batches/"+s.batchA, owner, nil, 200).BranchID
	apptest.Call[person](t, s.env, "POST", "/users/staff", owner, m{"email": "tc@alpha.test", "name": "Other teacher", "role": "teacher",
		"branches": []string{branchA}, "password": apptest.Password}, 201)
	teacherC := s.env.Login(s.slug, "tc@alpha.test").AccessToken
	for name, tok := range map[string]string{"teacher of another branch": teacherB, "teacher of the branch, not of the batch": teacherC, "guardian": g1, "student": s1} {
		t.Run(name, func(t *testing.T) {
			apptest.MustProblem(t, s.env.Do("GET", "/learning/progress/batches/"+s.batchA, tok, nil), 404, "not_found")
		})
	}
	// Pages: one student at a time.
	one := apptest.Call[apptest.Page[progress]](t, s.env, "GET", "/learning/progress/batches/"+s.batchA+"?limit=1", teacherA, nil, 200)
	if len(one.Items) != 1 || one.Items[0].StudentID != s.s1.ID || one.NextCursor == "" {
		t.Fatalf("first page = %+v", one)
	}
	two := apptest.Call[apptest.Page[progress]](t, s.env, "GET", "/learning/progress/batches/"+s.batchA+"?limit=1&cursor="+one.NextCursor, teacherA, nil, 200)
	if len(two.Items) != 1 || two.Items[0].StudentID != s.s2.ID || two.NextCursor != "" {
		t.Fatalf("second page = %+v", two)
	}
	for _, q := range []string{"?limit=0", "?limit=201", "?limit=ten", "?cursor=nonsense"} {
		apptest.MustProblem(t, s.env.Do("GET", "/learning/progress/batches/"+s.batchA+q, teacherA, nil), 400, "invalid")
	}

	// Publishing another lesson lowers the percentage at once.
	apptest.Call[person](t, s.env, "PATCH", "/learning/modules/"+s.modTwo, owner, m{"status": "published"}, 200)
	p := apptest.Items[progress](t, s.env, "GET", path, g1, nil, 200)
	if p[0].LessonsTotal != 3 || p[0].Percent != 33.33 {
		t.Fatalf("after publishing: %+v, want 1 of 3", p)
	}
}

func TestAuthoring(t *testing.T) {
	s := newSchool(t)
	// Every item and question got an id, and the quiz its option ids.
	q := s.quiz.Items[0].Quiz
	if s.quizID == "" || s.single == "" || q.Questions[0].Options[1].ID != "b" || s.draft.Status != "draft" || s.quiz.Order != 2 || s.hidden.Order != 4 {
		t.Fatalf("quiz lesson = %+v, draft %+v, hidden %+v", s.quiz, s.draft, s.hidden)
	}
	content := apptest.Call[learning.CourseContent](t, s.env, "GET", "/learning/courses/"+s.jee+"/content", s.teacherA, nil, 200)
	if len(content.Modules) != 2 || len(content.Lessons) != 4 || content.Lessons[1].Items[0].Quiz.Questions[1].Correct[1] != "c" {
		t.Fatalf("content = %+v", content)
	}
	// Changing the items keeps the ids sent back and gives new items new ones.
	kept := apptest.Call[lesson](t, s.env, "PATCH", "/learning/lessons/"+s.video.ID, s.owner, m{"items": []m{
		{"id": s.video.Items[1].ID, "kind": "document", "title": "Notes v2", "url": "https://docs.example.com/2.pdf"},
		{"kind": "link", "title": "More", "url": "https://example.com/more"},
	}}, 200)
	if len(kept.Items) != 2 || kept.Items[0].ID != s.video.Items[1].ID || kept.Items[1].ID == "" || kept.Items[1].ID == s.video.Items[0].ID {
		t.Fatalf("items after change = %+v", kept.Items)
	}
	bad := []struct {
		name string
		body m
	}{
		{"no title", m{"title": " ", "items": []m{}}},
		{"bad url", m{"title": "T", "items": []m{{"kind": "video", "title": "V", "url": "javascript:alert(1)"}}}},
		{"unknown kind", m{"title": "T", "items": []m{{"kind": "game", "title": "G"}}}},
		{"quiz without questions", m{"title": "T", "items": []m{{"kind": "quiz", "title": "Q", "quiz": m{"max_attempts": 1, "questions": []m{}}}}}},
		{"too many attempts", m{"title": "T", "items": []m{{"kind": "quiz", "title": "Q", "quiz": quizBody(learning.MaxAttempts + 1)}}}},
		{"single with two correct", m{"title": "T", "items": []m{{"kind": "quiz", "title": "Q", "quiz": m{"max_attempts": 1, "questions": []m{
			{"kind": "single_choice", "prompt": "P", "options": []m{{"text": "x"}, {"text": "y"}}, "correct": []string{"a", "b"}}}}}}}},
		{"correct names no option", m{"title": "T", "items": []m{{"kind": "quiz", "title": "Q", "quiz": m{"max_attempts": 1, "questions": []m{
			{"kind": "multiple_choice", "prompt": "P", "options": []m{{"text": "x"}, {"text": "y"}}, "correct": []string{"z"}}}}}}}},
		{"numeric without answer", m{"title": "T", "items": []m{{"kind": "quiz", "title": "Q", "quiz": m{"max_attempts": 1, "questions": []m{
			{"kind": "numeric", "prompt": "P"}}}}}}},
		{"item id from elsewhere", m{"title": "T", "items": []m{{"id": s.quizID, "kind": "link", "title": "L", "url": "https://example.com"}}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			apptest.MustProblem(t, s.env.Do("POST", "/learning/modules/"+s.modOne+"/lessons", s.owner, tc.body), 400, "invalid")
		})
	}
	if n := s.count(t, learning.LessonsCollection, bson.M{}); n != 4 {
		t.Fatalf("%d lessons, want the 4 made by the fixture", n)
	}
	// A lesson as large as the limits allow is written and audited (the audit names the change only).
	questions := make([]m, learning.MaxQuestions)
	for i := range questions {
		opts := make([]m, learning.MaxOptions)
		for j := range opts {
			opts[j] = m{"text": strings.Repeat("x", 200)}
		}
		questions[i] = m{"kind": "multiple_choice", "prompt": strings.Repeat("p", 500), "options": opts, "correct": []string{"a", "j"}}
	}
	quizzes := make([]m, 4)
	for i := range quizzes {
		quizzes[i] = m{"kind": "quiz", "title": "Big", "quiz": m{"max_attempts": 1, "questions": questions}}
	}
	big := apptest.Call[lesson](t, s.env, "POST", "/learning/modules/"+s.modOne+"/lessons", s.owner, m{"title": "Big", "items": quizzes}, 201)
	apptest.Call[lesson](t, s.env, "PATCH", "/learning/lessons/"+big.ID, s.owner, m{"title": "Bigger", "items": quizzes}, 200)
	apptest.MustProblem(t, s.env.Do("POST", "/learning/courses/0123456789abcdef01234567/modules", s.owner, m{"title": "X"}), 404, "not_found")
	apptest.MustProblem(t, s.env.Do("POST", "/learning/modules/0123456789abcdef01234567/lessons", s.owner, m{"title": "X", "items": []m{}}), 404, "not_found")
	apptest.MustProblem(t, s.env.Do("PATCH", "/learning/lessons/"+s.video.ID, s.owner, m{"status": "archived"}), 400, "invalid")
	apptest.MustProblem(t, s.env.Do("POST", "/learning/courses/"+s.jee+"/modules", s.accountant, m{"title": "X"}), 403, "forbidden")
}

func TestInteractionsNameEveryBadField(t *testing.T) {
	s := newSchool(t)
	tok := s.login(t, s.s1.PRN)
	p := apptest.MustProblem(t, s.env.Do("POST", "/learning/learn/interactions", tok, interactions(
		m{"id": "short", "lesson_id": s.video.ID, "kind": "viewed", "item_id": s.video.Items[0].ID, "seconds": -1},
		m{"id": "view-0002", "lesson_id": "x", "kind": "skipped"},
	)), 400, "invalid")
	want := map[string]string{
		"interactions[0].id": "format", "interactions[0].seconds": "out_of_range",
		"interactions[1].lesson_id": "format", "interactions[1].kind": "not_allowed",
	}
	for field, code := range want {
		if p.FieldCode(field) != code {
			t.Errorf("errors %+v, want %s %s", p.Errors, field, code)
		}
	}
	if len(p.Errors) != len(want) {
		t.Errorf("errors %+v, want exactly %d", p.Errors, len(want))
	}
	if got := s.count(t, learning.InteractionsCollection, bson.M{}); got != 0 {
		t.Errorf("%d interactions recorded from a refused batch", got)
	}
}
