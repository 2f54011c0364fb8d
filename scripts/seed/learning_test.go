package seed_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/edugrid/edugrid/functions/learning"
	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/scripts/seed"
)

// The demo's JEE course has content with a draft module, and its learners are at different stages, with
// quiz attempts and weeks of interactions, all as the API itself would count them.
func TestDemoSeedsLearning(t *testing.T) {
	env := apptest.New(t)
	if _, created, err := seed.Demo(context.Background(), env.App, apptest.Password); err != nil || !created {
		t.Fatalf("Demo = %v, %v", created, err)
	}
	owner := env.Login(seed.DemoSlug, "owner@demo.test").AccessToken
	get := func(token, path string, v any) {
		t.Helper()
		rec := env.Do("GET", path, token, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		*(v.(*any)) = apptest.Decode[any](t, rec)
	}
	var courses any
	get(owner, "/academic/courses", &courses)
	var jee string
	for _, c := range courses.(map[string]any)["items"].([]any) {
		if c.(map[string]any)["code"] == "JEE-2027" {
			jee = c.(map[string]any)["id"].(string)
		}
	}
	var content learning.CourseContent
	rec := env.Do("GET", "/learning/courses/"+jee+"/content", owner, nil)
	apptest.MustStatus(t, rec, http.StatusOK)
	content = apptest.Decode[learning.CourseContent](t, rec)
	kinds := map[learning.QuestionKind]bool{}
	for _, l := range content.Lessons {
		for _, it := range l.Items {
			if it.Quiz != nil {
				for _, q := range it.Quiz.Questions {
					kinds[q.Kind] = true
				}
			}
		}
	}
	if len(content.Modules) != 4 || len(content.Lessons) != 9 || len(kinds) != 3 {
		t.Fatalf("content: %d modules, %d lessons, question kinds %v", len(content.Modules), len(content.Lessons), kinds)
	}

	ctx := context.Background()
	db := env.TenantDB(seed.DemoSlug)
	history, err := learning.CourseHistory(ctx, db, jee)
	if err != nil {
		t.Fatal(err)
	}
	progress := history.Progress
	stages := map[int64]int{}
	stale := 0
	for _, p := range progress {
		stages[p.LessonsCompleted]++
		if env.Clock.Now().Sub(p.LastActivityAt).Hours() > 14*24 {
			stale++
		}
	}
	if len(stages) < 3 || stages[8] == 0 || stale == 0 {
		t.Errorf("progress by lessons completed %v, %d inactive for two weeks: want several stages, some finished, some inactive", stages, stale)
	}
	if len(history.Attempts) == 0 {
		t.Errorf("no quiz attempts")
	}
	days := map[string]bool{}
	for _, in := range history.Interactions {
		days[in.Day] = true
	}
	if len(days) < 10 {
		t.Errorf("interactions on %d days, want them spread over weeks", len(days))
	}

	// The stored progress is what the API counts too.
	for _, p := range progress[:3] {
		var got any
		get(owner, "/learning/progress/students/"+p.StudentID, &got)
		for _, v := range got.(map[string]any)["items"].([]any) {
			v := v.(map[string]any)
			if v["course_id"] == jee && (v["lessons_completed"] != float64(p.LessonsCompleted) || v["percent"] != p.Percent) {
				t.Errorf("API progress %v, stored %+v", v, p)
			}
		}
	}
	// The demo student studies JEE.
	student := env.Login(seed.DemoSlug, "student@demo.test").AccessToken
	var mine any
	get(student, "/learning/learn/courses", &mine)
	if !slices.ContainsFunc(mine.(map[string]any)["items"].([]any), func(c any) bool { return c.(map[string]any)["course_id"] == jee }) {
		t.Errorf("the demo student's courses %v lack JEE", mine)
	}
}
