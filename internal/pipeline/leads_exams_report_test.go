package pipeline_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/edugrid/edugrid/internal/apptest"
)

func lead(branch, source, stage, reason string, created time.Time, stages ...string) map[string]any {
	var hist []map[string]any
	for i, st := range stages {
		hist = append(hist, map[string]any{"stage": st, "at": map[string]any{"$date": created.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)}})
	}
	return map[string]any{"branch_id": branch, "source": source, "stage": stage, "lost_reason": reason, "counsellor_id": "", "course_id": "",
		"created_at": map[string]any{"$date": created.Format(time.RFC3339)}, "student_id": "", "stages": hist}
}

type funnel struct {
	Source  string `json:"source"`
	Leads   int64  `json:"leads"`
	Reached []struct {
		Stage string `json:"stage"`
		Leads int64  `json:"leads"`
	} `json:"reached"`
	Open, Won, Lost int64
	Conversion      *float64 `json:"conversion"`
	LostReasons     []struct {
		Reason string `json:"reason"`
		Leads  int64  `json:"leads"`
	} `json:"lost_reasons"`
}

func reachedCounts(f funnel) []int64 {
	var out []int64
	for _, r := range f.Reached {
		out = append(out, r.Leads)
	}
	return out
}

func TestLeadFunnelOnDuckDB(t *testing.T) {
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	acme := env.Login("acme", "owner@acme.test").AccessToken
	a, b := createBranch(t, env, acme, "MAIN"), createBranch(t, env, acme, "EAST")
	// The tenant's zone is Asia/Kolkata (UTC+05:30): 2026-06-01 00:00 there is 2026-05-31 18:30 UTC.
	in := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	d := &docEvents{t: t}
	d.put("acme", "leads", "l1", lead(a, "website", "won", "", in, "new", "contacted", "demo_scheduled", "demo_attended", "won"))
	d.put("acme", "leads", "l2", lead(a, "website", "lost", "price", in, "new", "contacted", "negotiation", "lost")) // skipped the demo
	d.put("acme", "leads", "l3", lead(a, "website", "contacted", "", in, "new", "contacted"))
	// l4 moved on: its second version replaces its stage rows.
	d.put("acme", "leads", "l4", lead(b, "referral", "new", "", in, "new"))
	d.put("acme", "leads", "l4", lead(b, "referral", "demo_scheduled", "", in, "new", "contacted", "demo_scheduled"))
	d.put("acme", "leads", "l5", lead(b, "referral", "lost", "distance", in, "new", "lost"))
	d.put("acme", "leads", "l6", lead(b, "walk_in", "lost", "price", time.Date(2026, 5, 31, 18, 30, 0, 0, time.UTC), "new", "lost")) // June 1st locally
	d.put("acme", "leads", "l7", lead(a, "walk_in", "new", "", time.Date(2026, 5, 31, 18, 29, 0, 0, time.UTC), "new"))               // May 31st locally
	d.put("acme", "leads", "l8", lead(a, "walk_in", "new", "", in, "new"))
	d.del("acme", "leads", "l8")
	d.put("rival", "leads", "r1", lead(a, "website", "won", "", in, "new", "won"))
	env.Warehouse.Set(d.ingestInto(t))

	get := func(path, token string) (funnel, []funnel) {
		t.Helper()
		rec := env.Do("GET", path, token, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		rep := apptest.Decode[struct {
			Stages  []string `json:"stages"`
			Total   funnel   `json:"total"`
			Sources []funnel `json:"sources"`
		}](t, rec)
		if !reflect.DeepEqual(rep.Stages, []string{"new", "contacted", "demo_scheduled", "demo_attended", "negotiation", "won"}) {
			t.Fatalf("stages = %v", rep.Stages)
		}
		return rep.Total, rep.Sources
	}
	total, sources := get("/analytics/leads/funnel?from=2026-06-01&to=2026-06-30", acme)
	// Reaching a stage means entering it or a later one: l2 skipped the demo but got to negotiation.
	if total.Leads != 6 || !reflect.DeepEqual(reachedCounts(total), []int64{6, 4, 3, 2, 2, 1}) || total.Open != 2 || total.Won != 1 || total.Lost != 3 ||
		total.Conversion == nil || *total.Conversion != 0.1667 { // 1 of 6, to four places (shared/rate)
		t.Errorf("total = %+v", total)
	}
	if len(total.LostReasons) != 2 || total.LostReasons[0].Reason != "price" || total.LostReasons[0].Leads != 2 || total.LostReasons[1].Reason != "distance" {
		t.Errorf("lost reasons = %+v", total.LostReasons)
	}
	if len(sources) != 3 || sources[0].Source != "website" || sources[1].Source != "referral" || sources[2].Source != "walk_in" {
		t.Fatalf("sources = %+v", sources)
	}
	if w := sources[0]; w.Leads != 3 || !reflect.DeepEqual(reachedCounts(w), []int64{3, 3, 2, 2, 2, 1}) || w.Won != 1 || w.Lost != 1 || w.Open != 1 {
		t.Errorf("website = %+v", w)
	}
	if r := sources[1]; r.Leads != 2 || !reflect.DeepEqual(reachedCounts(r), []int64{2, 1, 1, 0, 0, 0}) || *r.Conversion != 0 {
		t.Errorf("referral = %+v", r)
	}

	total, _ = get("/analytics/leads/funnel?from=2026-06-01&to=2026-06-30&branch="+b, acme)
	if total.Leads != 3 || !reflect.DeepEqual(reachedCounts(total), []int64{3, 1, 1, 0, 0, 0}) {
		t.Errorf("branch b total = %+v", total)
	}
	createStaff(t, env, acme, "ba@acme.test", "branch_admin", []string{a})
	if total, _ = get("/analytics/leads/funnel?from=2026-05-01&to=2026-06-30", env.Login("acme", "ba@acme.test").AccessToken); total.Leads != 4 {
		t.Errorf("branch a admin counts %d leads, want l1, l2, l3, l7", total.Leads)
	}
	if total, _ = get("/analytics/leads/funnel?from=2026-06-01&to=2026-06-30", env.Login("rival", "owner@rival.test").AccessToken); total.Leads != 1 || total.Won != 1 {
		t.Errorf("rival total = %+v", total)
	}
	apptest.MustProblem(t, env.Do("GET", "/analytics/leads/funnel?branch=x", acme, nil), 400, "invalid")
}

func result(test, batch, branch, subject, date, student, status string, marks, max float64) map[string]any {
	doc := map[string]any{"test_id": test, "batch_id": batch, "branch_id": branch, "course_id": "c", "subject": subject, "date": date,
		"student_id": student, "status": status, "max_marks": max}
	if status == "present" {
		doc["marks"] = marks
	}
	return doc
}

type testScores struct {
	TestID       string   `json:"test_id"`
	Name         string   `json:"name"`
	Present      int64    `json:"present"`
	Absent       int64    `json:"absent"`
	Exempt       int64    `json:"exempt"`
	MeanPercent  *float64 `json:"mean_percent"`
	MinPercent   *float64 `json:"min_percent"`
	MaxPercent   *float64 `json:"max_percent"`
	Distribution []int64  `json:"distribution"`
}

func TestScoreDistributionOnDuckDB(t *testing.T) {
	env := apptest.New(t)
	env.Provision("acme")
	env.Provision("rival")
	acme := env.Login("acme", "owner@acme.test").AccessToken
	a, b := createBranch(t, env, acme, "MAIN"), createBranch(t, env, acme, "EAST")
	const t1, t2, t3 = "aaaaaaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaaaaaa2", "aaaaaaaaaaaaaaaaaaaaaaa3"
	d := &docEvents{t: t}
	d.put("acme", "exam_tests", t1, map[string]any{"batch_id": "B1", "branch_id": a, "course_id": "c", "subject": "maths", "name": "Algebra", "date": "2026-06-05", "max_marks": 50.0, "weight": 1.0})
	d.put("acme", "exam_tests", t2, map[string]any{"batch_id": "B2", "branch_id": b, "course_id": "c", "subject": "physics", "name": "Optics", "date": "2026-06-06", "max_marks": 31.0, "weight": 1.0})
	// 45/50 = 90 % (band 90-100), 44.99/50 = 89.98 % (80-90), 50/50 = 100 %, 0/50 = 0 %, one absent, one
	// exempt; s5's 10 became 25 in an edit (50 %).
	for _, r := range []struct {
		student, status string
		marks           float64
	}{{"s1", "present", 45}, {"s2", "present", 44.99}, {"s3", "present", 50}, {"s4", "present", 0}, {"s5", "present", 10}, {"s6", "absent", 0}, {"s7", "exempt", 0}} {
		d.put("acme", "exam_results", t1+":"+r.student, result(t1, "B1", a, "maths", "2026-06-05", r.student, r.status, r.marks, 50))
	}
	d.put("acme", "exam_results", t1+":s5", result(t1, "B1", a, "maths", "2026-06-05", "s5", "present", 25, 50))
	// 27.9/31 = 90 % exactly in decimal, not in binary floating point.
	d.put("acme", "exam_results", t2+":s8", result(t2, "B2", b, "physics", "2026-06-06", "s8", "present", 27.9, 31))
	// Outside the range, and the rival's.
	d.put("acme", "exam_tests", t3, map[string]any{"batch_id": "B1", "branch_id": a, "subject": "maths", "name": "Old", "date": "2026-04-01", "max_marks": 10.0, "weight": 1.0})
	d.put("acme", "exam_results", t3+":s1", result(t3, "B1", a, "maths", "2026-04-01", "s1", "present", 1, 10))
	d.put("rival", "exam_results", t1+":x", result(t1, "B1", a, "maths", "2026-06-05", "x", "present", 1, 50))
	env.Warehouse.Set(d.ingestInto(t))

	get := func(path, token string) (testScores, []testScores) {
		t.Helper()
		rec := env.Do("GET", path, token, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		rep := apptest.Decode[struct {
			Buckets []string     `json:"buckets"`
			Overall testScores   `json:"overall"`
			Tests   []testScores `json:"tests"`
		}](t, rec)
		if len(rep.Buckets) != 10 || rep.Buckets[9] != "90-100" {
			t.Fatalf("buckets = %v", rep.Buckets)
		}
		return rep.Overall, rep.Tests
	}
	f := func(v float64) *float64 { return &v }
	wantT1 := testScores{TestID: t1, Name: "Algebra", Present: 5, Absent: 1, Exempt: 1, MeanPercent: f(float64(9000+8998+10000+0+5000) / 5 / 100),
		MinPercent: f(0), MaxPercent: f(100), Distribution: []int64{1, 0, 0, 0, 0, 1, 0, 0, 1, 2}}
	wantT2 := testScores{TestID: t2, Name: "Optics", Present: 1, MeanPercent: f(90), MinPercent: f(90), MaxPercent: f(90), Distribution: []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}
	overall, tests := get("/analytics/exams/scores?from=2026-06-01&to=2026-06-30", acme)
	if !reflect.DeepEqual(tests, []testScores{wantT1, wantT2}) {
		for i := range tests {
			t.Logf("test %d: mean %v min %v max %v", i, *tests[i].MeanPercent, *tests[i].MinPercent, *tests[i].MaxPercent)
		}
		t.Errorf("tests = %+v\nwant %+v", tests, []testScores{wantT1, wantT2})
	}
	if overall.Present != 6 || overall.Absent != 1 || !reflect.DeepEqual(overall.Distribution, []int64{1, 0, 0, 0, 0, 1, 0, 0, 1, 3}) {
		t.Errorf("overall = %+v", overall)
	}
	if _, tests = get("/analytics/exams/scores?from=2026-06-01&to=2026-06-30&subject=physics", acme); len(tests) != 1 || tests[0].TestID != t2 {
		t.Errorf("physics = %+v", tests)
	}
	if _, tests = get("/analytics/exams/scores?from=2026-01-01&to=2026-06-30&test="+t3, acme); len(tests) != 1 || tests[0].Present != 1 || *tests[0].MeanPercent != 10 {
		t.Errorf("old test = %+v", tests)
	}
	createStaff(t, env, acme, "ba@acme.test", "branch_admin", []string{b})
	if _, tests = get("/analytics/exams/scores?from=2026-06-01&to=2026-06-30", env.Login("acme", "ba@acme.test").AccessToken); len(tests) != 1 || tests[0].TestID != t2 {
		t.Errorf("branch b admin sees %+v", tests)
	}
	if overall, _ = get("/analytics/exams/scores?from=2026-06-01&to=2026-06-30", env.Login("rival", "owner@rival.test").AccessToken); overall.Present != 1 || *overall.MaxPercent != 2 {
		t.Errorf("rival overall = %+v", overall)
	}
	for _, q := range []string{"test=x", "batch=1", "branch=zz", "from=2026-13-01"} {
		apptest.MustProblem(t, env.Do("GET", "/analytics/exams/scores?"+q, acme, nil), 400, "invalid")
	}
}
