package seed

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"time"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/learning"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// learningDays is how far back the demo's learner activity reaches.
const learningDays = 21

// demoCourseContent is the JEE course's content: three published modules of eight lessons, with a quiz of
// every question kind, and a draft module authors are still writing.
func demoCourseContent() []struct {
	title   string
	publish bool
	lessons []learning.NewLesson
} {
	video := func(title string, minutes int64) learning.Item {
		return learning.Item{Kind: learning.Video, Title: title, URL: "https://videos.demo.test/" + slug(title), DurationSeconds: minutes * 60}
	}
	doc := func(title string) learning.Item {
		return learning.Item{Kind: learning.Document, Title: title, URL: "https://docs.demo.test/" + slug(title) + ".pdf"}
	}
	link := func(title, url string) learning.Item {
		return learning.Item{Kind: learning.Link, Title: title, URL: url}
	}
	num := func(v float64) *float64 { return &v }
	choices := func(texts ...string) []learning.Option {
		out := make([]learning.Option, len(texts))
		for i, t := range texts {
			out[i] = learning.Option{Text: t}
		}
		return out
	}
	return []struct {
		title   string
		publish bool
		lessons []learning.NewLesson
	}{
		{"Kinematics", true, []learning.NewLesson{
			{Title: "Motion in a straight line", Items: []learning.Item{video("Displacement, velocity, acceleration", 32), doc("Kinematics notes")}},
			{Title: "Vectors and projectiles", Items: []learning.Item{video("Projectile motion", 41), link("Projectile simulator", "https://phet.colorado.edu/en/simulations/projectile-motion")}},
			{Title: "Kinematics check", Items: []learning.Item{{Kind: learning.QuizKind, Title: "Kinematics quiz", Quiz: &learning.Quiz{MaxAttempts: 3, Questions: []learning.Question{
				{Kind: learning.SingleChoice, Prompt: "The slope of a velocity-time graph is", Options: choices("displacement", "acceleration", "jerk", "speed"), Correct: []string{"b"}},
				{Kind: learning.MultipleChoice, Prompt: "Which of these are vector quantities?", Points: 2, Options: choices("velocity", "speed", "displacement", "distance"), Correct: []string{"a", "c"}},
				{Kind: learning.Numeric, Prompt: "A ball is dropped from rest. Its speed after 2 s, in m/s (g = 9.8 m/s²)?", Points: 2, Answer: num(19.6), Tolerance: 0.1},
			}}}}},
		}},
		{"Laws of motion", true, []learning.NewLesson{
			{Title: "Newton's laws", Items: []learning.Item{video("The three laws", 38), doc("Free-body diagrams")}},
			{Title: "Friction", Items: []learning.Item{video("Static and kinetic friction", 27)}},
			{Title: "Laws of motion quiz", Items: []learning.Item{{Kind: learning.QuizKind, Title: "Laws of motion quiz", Quiz: &learning.Quiz{MaxAttempts: 2, Questions: []learning.Question{
				{Kind: learning.SingleChoice, Prompt: "The SI unit of force is", Options: choices("joule", "newton", "pascal"), Correct: []string{"b"}},
				{Kind: learning.MultipleChoice, Prompt: "Friction depends on", Points: 2, Options: choices("the normal force", "the surfaces in contact", "the contact area", "the colour"), Correct: []string{"a", "b"}},
				{Kind: learning.Numeric, Prompt: "Net force on 2 kg accelerating at 3 m/s², in N?", Answer: num(6), Tolerance: 0},
			}}}}},
		}},
		{"Work and energy", true, []learning.NewLesson{
			{Title: "The work-energy theorem", Items: []learning.Item{video("Work and kinetic energy", 35), doc("Worked examples")}},
			{Title: "Power", Items: []learning.Item{video("Power and efficiency", 22), link("Energy skate park", "https://phet.colorado.edu/en/simulations/energy-skate-park")}},
		}},
		{"Rotational motion", false, []learning.NewLesson{
			{Title: "Torque", Items: []learning.Item{video("Torque and angular momentum", 40)}},
		}},
	}
}

func slug(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, byte(r))
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	return string(b)
}

// seedLearning gives the JEE course its content and its learners a history: the students enrolled in its
// batches today are at different stages (some never started, some stopped weeks ago, some half way, some
// finished with quiz attempts), with their interactions spread over the last three weeks. The history is
// written directly, as the API would have recorded it on those days, in one insert per collection. All of
// it is one transaction: on the local stack every commit rewrites the database file. tctx is the owner's
// tenant context.
func seedLearning(tctx context.Context, a *app.App, svcs *all.Services) error {
	db := store.Database(tctx)
	course, err := academic.FindCourseByCode(tctx, db, "JEE-2027")
	if err != nil {
		return fmt.Errorf("seed learning: %w", err)
	}
	var h *demoHistory
	var learners int
	err = store.Tx(tctx, db, func(tc context.Context) error {
		lessons, err := seedContent(tc, svcs.Learning, course.ID)
		if err != nil {
			return err
		}
		t := tenant.FromContext(tc)
		now := a.Clock.Now().UTC().Truncate(time.Millisecond)
		today := t.Today(now)
		es, err := students.CourseEnrolmentsOn(tc, db, course.ID, today)
		if err != nil {
			return fmt.Errorf("seed learning: %w", err)
		}
		learners = len(es)
		h = &demoHistory{loc: t.Location(), lessons: lessons, courseID: course.ID}
		for k, e := range es {
			h.learner(k, e, now)
		}
		if err := learning.ImportHistory(tc, db, h.History); err != nil {
			return fmt.Errorf("seed learning: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.Logger.Info("seeded learning content and learner history", slog.Int("lessons", len(h.lessons)), slog.Int("learners", learners),
		slog.Int("interactions", len(h.Interactions)), slog.Int("quiz_attempts", len(h.Attempts)))
	return nil
}

// seedContent creates the course's modules and lessons through the learning service and returns the
// published lessons in course order.
func seedContent(tc context.Context, svc *learning.Service, courseID string) ([]*learning.Lesson, error) {
	published := learning.Published
	var lessons []*learning.Lesson
	for _, spec := range demoCourseContent() {
		mod, err := svc.CreateModule(tc, courseID, learning.NewModule{Title: spec.title})
		if err != nil {
			return nil, fmt.Errorf("seed module %s: %w", spec.title, err)
		}
		for _, nl := range spec.lessons {
			l, err := svc.CreateLesson(tc, mod.ID, nl)
			if err != nil {
				return nil, fmt.Errorf("seed lesson %s: %w", nl.Title, err)
			}
			if spec.publish {
				if l, err = svc.UpdateLesson(tc, l.ID, learning.LessonChange{Status: &published}); err != nil {
					return nil, fmt.Errorf("seed lesson %s: %w", nl.Title, err)
				}
				lessons = append(lessons, l)
			}
		}
		if spec.publish {
			if _, err := svc.UpdateModule(tc, mod.ID, learning.ModuleChange{Status: &published}); err != nil {
				return nil, fmt.Errorf("seed module %s: %w", spec.title, err)
			}
		}
	}
	return lessons, nil
}

// demoHistory builds the learners' documents.
type demoHistory struct {
	loc      *time.Location
	lessons  []*learning.Lesson
	courseID string
	learning.History
}

// learner writes the history of the k-th learner: stage k%5 says how far they got (0 never started, 1
// looked at the first lesson about three weeks ago and stopped, 2 and 3 part way, 4 finished), starting up
// to three weeks ago and studying a lesson every day or two.
func (h *demoHistory) learner(k int, e students.Enrolment, now time.Time) {
	stage := k % 5
	reach := []int{0, 1, 3, 6, len(h.lessons)}[stage]
	if reach == 0 {
		return
	}
	day := now.AddDate(0, 0, -learningDays+k%3).Truncate(24 * time.Hour).Add(time.Duration(9+k%10) * time.Hour)
	var done []string
	var last time.Time
	n := 0
	record := func(l *learning.Lesson, itemID string, kind learning.InteractionKind, seconds int64, at time.Time, attemptID string) {
		n++
		cid := fmt.Sprintf("seed-%s-%03d", e.ID, n)
		h.Interactions = append(h.Interactions, learning.Interaction{ID: e.StudentID + ":" + cid, InteractionID: cid, StudentID: e.StudentID,
			CourseID: h.courseID, BatchID: e.BatchID, LessonID: l.ID, ItemID: itemID, Kind: kind, Seconds: seconds, AttemptID: attemptID,
			At: at, Day: at.In(h.loc).Format(time.DateOnly)})
		last = at
	}
	for i, l := range h.lessons[:reach] {
		at := day
		if !at.Before(now) {
			break
		}
		for _, it := range l.Items {
			switch it.Kind {
			case learning.QuizKind:
				for try := range demoHash(e.StudentID, l.ID)%uint32(it.Quiz.MaxAttempts) + 1 {
					at = at.Add(5 * time.Minute)
					h.attempt(e, l, it, int64(try+1), at)
					record(l, it.ID, learning.QuizAttempted, 0, at, h.Attempts[len(h.Attempts)-1].ID)
				}
			default:
				seconds := it.DurationSeconds
				if seconds == 0 {
					seconds = 300
				}
				// Most watch most of it; some skim.
				seconds = seconds * int64(40+demoHash(e.StudentID, it.ID)%61) / 100
				record(l, it.ID, learning.Viewed, seconds, at, "")
				at = at.Add(time.Duration(seconds) * time.Second)
			}
		}
		// The last lesson a learner part way reached is viewed, not completed.
		if i < reach-1 || stage == 4 {
			record(l, "", learning.Completed, 0, at.Add(time.Minute), "")
			done = append(done, l.ID)
		}
		day = day.AddDate(0, 0, 1+int(demoHash(e.StudentID, l.ID)%2))
	}
	if n == 0 {
		return
	}
	total := int64(len(h.lessons))
	h.Progress = append(h.Progress, learning.Progress{ID: e.StudentID + ":" + h.courseID, StudentID: e.StudentID, CourseID: h.courseID,
		BatchID: e.BatchID, LessonsCompleted: int64(len(done)), LessonsTotal: total,
		Percent: math.Round(float64(len(done))*10000/float64(total)) / 100, LastActivityAt: last, CompletedLessons: append([]string{}, done...), UpdatedAt: last})
}

// attempt grades a made-up submission: better on later tries, varying by learner.
func (h *demoHistory) attempt(e students.Enrolment, l *learning.Lesson, it learning.Item, try int64, at time.Time) {
	var answers []learning.SubmittedAnswer
	for _, q := range it.Quiz.Questions {
		right := demoHash(e.StudentID, q.ID)%100 < uint32(50+20*try)
		a := learning.SubmittedAnswer{QuestionID: q.ID}
		switch q.Kind {
		case learning.Numeric:
			v := *q.Answer
			if !right {
				v = v*2 + 1
			}
			a.Value = &v
		default:
			a.Chosen = q.Correct
			if !right {
				a.Chosen = []string{q.Options[len(q.Options)-1].ID}
			}
		}
		answers = append(answers, a)
	}
	score, maxScore, graded, err := learning.Grade(it.Quiz, answers)
	if err != nil {
		panic(fmt.Sprintf("seed learning: grading its own answers: %v", err)) // the seed's own answers always fit
	}
	h.Attempts = append(h.Attempts, learning.Attempt{ID: id.New(), StudentID: e.StudentID, CourseID: h.courseID, BatchID: e.BatchID,
		LessonID: l.ID, QuizID: it.ID, Attempt: try, Score: score, MaxScore: maxScore, SubmittedAt: at,
		Day: at.In(h.loc).Format(time.DateOnly), Answers: graded})
}

func demoHash(parts ...string) uint32 {
	f := fnv.New32a()
	for _, p := range parts {
		_, _ = f.Write([]byte(p))
	}
	return f.Sum32()
}
