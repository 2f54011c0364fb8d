package leads_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/leads"
	"github.com/edugrid/edugrid/internal/apptest"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type lead struct {
	ID           string `json:"id"`
	BranchID     string `json:"branch_id"`
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	Email        string `json:"email"`
	PhoneNorm    string `json:"phone_norm"`
	Source       string `json:"source"`
	Stage        string `json:"stage"`
	LostReason   string `json:"lost_reason"`
	CounsellorID string `json:"counsellor_id"`
	CourseID     string `json:"course_id"`
	Open         bool   `json:"open"`
	Stages       []struct {
		Stage string    `json:"stage"`
		At    time.Time `json:"at"`
	} `json:"stages"`
	StudentID   string      `json:"student_id"`
	ConvertedAt *time.Time  `json:"converted_at"`
	Conversion  *conversion `json:"conversion"`
}

type conversion struct {
	LeadID       string `json:"lead_id"`
	StudentID    string `json:"student_id"`
	PRN          string `json:"prn"`
	EnrolmentID  string `json:"enrolment_id"`
	AssignmentID string `json:"assignment_id"`
}

type activity struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	ActorID      string `json:"actor_id"`
	FromStage    string `json:"from_stage"`
	ToStage      string `json:"to_stage"`
	Reason       string `json:"reason"`
	Note         string `json:"note"`
	CounsellorID string `json:"counsellor_id"`
	StudentID    string `json:"student_id"`
}

type followUp struct {
	ID           string    `json:"id"`
	LeadID       string    `json:"lead_id"`
	CounsellorID string    `json:"counsellor_id"`
	DueAt        time.Time `json:"due_at"`
	Done         bool      `json:"done"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type ids struct {
	ID string `json:"id"`
}

// school is a tenant with branches A and B, two counsellors, a branch admin of A, an accountant, a course,
// a batch in A and a fee plan.
type school struct {
	env                        *apptest.Env
	slug                       string
	owner, c1, c2, adminA, acc string
	c1ID, c2ID, adminAID       string
	teacherAID                 string
	branchA, branchB, course   string
	batch, plan                string
	db                         lungo.IDatabase
	phones                     int
}

func newSchool(t testing.TB, slug string) *school {
	t.Helper()
	env := apptest.New(t)
	return newSchoolIn(t, env, slug)
}

func newSchoolIn(t testing.TB, env *apptest.Env, slug string) *school {
	t.Helper()
	s := &school{env: env, slug: slug}
	env.Provision(slug)
	s.owner = env.Login(slug, "owner@"+slug+".test").AccessToken
	s.branchA = apptest.Call[ids](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "AA", "name": "Branch A"}, 201).ID
	s.branchB = apptest.Call[ids](t, env, "POST", "/users/branches", s.owner, map[string]string{"code": "BB", "name": "Branch B"}, 201).ID
	staff := func(name, role string, branches ...string) string {
		if branches == nil {
			branches = []string{}
		}
		return apptest.Call[ids](t, env, "POST", "/users/staff", s.owner, map[string]any{"email": name + "@" + slug + ".test", "name": name, "role": role,
			"branches": branches, "password": apptest.Password}, 201).ID
	}
	s.c1ID, s.c2ID = staff("c1", "counsellor"), staff("c2", "counsellor")
	s.adminAID = staff("admina", "branch_admin", s.branchA)
	s.teacherAID = staff("teachera", "teacher", s.branchA)
	staff("acc", "accountant")
	s.relogin()
	s.course = apptest.Call[ids](t, env, "POST", "/academic/courses", s.owner, map[string]any{"code": "JEE", "name": "JEE"}, 201).ID
	s.batch = s.newBatch(t, s.branchA, 10)
	s.plan = apptest.Call[ids](t, env, "POST", "/fees/plans", s.owner, map[string]any{"name": "JEE fee", "total": 30000,
		"schedule": map[string]any{"kind": "count", "count": 3}}, 201).ID
	s.db = env.TenantDB(slug)
	return s
}

// relogin signs everyone in again, for tests that move the clock past the access tokens' lifetime.
func (s *school) relogin() {
	env, slug := s.env, s.slug
	env.T.Helper()
	env.Clock.Advance(time.Minute) // the login rate limit counts per minute
	login := func(name string) string { return env.Login(slug, name+"@"+slug+".test").AccessToken }
	s.owner, s.c1, s.c2, s.adminA, s.acc = login("owner"), login("c1"), login("c2"), login("admina"), login("acc")
}

func (s *school) newBatch(t testing.TB, branch string, capacity int) string {
	t.Helper()
	return apptest.Call[ids](t, s.env, "POST", "/academic/batches", s.owner, map[string]any{
		"course_id": s.course, "branch_id": branch, "name": "Morning", "teachers": []string{}, "capacity": capacity,
		"start_date": "2026-06-01", "end_date": "2026-12-31", "schedule": []map[string]any{{"weekday": "monday", "start": "09:00", "duration_minutes": 60}},
	}, 201).ID
}

// phone returns a phone number no lead of the school has yet.
func (s *school) phone() string {
	s.phones++
	return fmt.Sprintf("98000%05d", s.phones)
}

// newLead records a lead in branch A with a fresh phone; extra overrides fields.
func (s *school) newLead(t testing.TB, token string, extra map[string]any) lead {
	t.Helper()
	body := map[string]any{"name": "Ravi Kumar", "phone": s.phone(), "source": "walk_in", "branch_id": s.branchA}
	for k, v := range extra {
		body[k] = v
	}
	return apptest.Call[lead](t, s.env, "POST", "/leads/", token, body, 201)
}

func (s *school) move(t testing.TB, token, leadID, stage string, want int) lead {
	t.Helper()
	body := map[string]any{"stage": stage}
	if stage == "lost" {
		body["lost_reason"] = "chose another institute"
	}
	rec := s.env.Do("POST", "/leads/"+leadID+"/stage", token, body)
	apptest.MustStatus(t, rec, want)
	if want != http.StatusOK {
		return lead{}
	}
	return apptest.Decode[lead](t, rec)
}

// pathTo is a way from new to every stage, written out here rather than derived from the package's table.
var pathTo = map[string][]string{
	"new":            {},
	"contacted":      {"contacted"},
	"demo_scheduled": {"contacted", "demo_scheduled"},
	"demo_attended":  {"contacted", "demo_scheduled", "demo_attended"},
	"negotiation":    {"contacted", "negotiation"},
	"won":            {"contacted", "negotiation", "won"},
	"lost":           {"lost"},
}

func (s *school) leadAt(t testing.TB, token, stage string) lead {
	t.Helper()
	l := s.newLead(t, token, nil)
	for _, st := range pathTo[stage] {
		l = s.move(t, token, l.ID, st, http.StatusOK)
	}
	return l
}

func (s *school) count(t testing.TB, coll string, filter bson.M) int64 {
	t.Helper()
	n, err := s.db.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *school) rawLead(t testing.TB, id string) bson.M {
	t.Helper()
	var doc bson.M
	if err := s.db.Collection(leads.LeadsCollection).FindOne(context.Background(), bson.M{"_id": id}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestCreateLeadRefusesBadInputAndWritesNothing(t *testing.T) {
	s := newSchool(t, "funnel")
	missing := "0123456789abcdef01234567"
	good := func(change map[string]any) map[string]any {
		b := map[string]any{"name": "Asha", "phone": "9800000001", "source": "website", "branch_id": s.branchA}
		for k, v := range change {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"no name", good(map[string]any{"name": "  "}), 400, "invalid"},
		{"no contact", good(map[string]any{"phone": nil}), 400, "invalid"},
		{"bad phone", good(map[string]any{"phone": "98-ABC-123"}), 400, "invalid"},
		{"short phone", good(map[string]any{"phone": "12345"}), 400, "invalid"},
		{"bad email", good(map[string]any{"email": "not-an-address"}), 400, "invalid"},
		{"unknown source", good(map[string]any{"source": "billboard"}), 400, "invalid"},
		{"bad branch id", good(map[string]any{"branch_id": "A"}), 400, "invalid"},
		{"missing branch", good(map[string]any{"branch_id": missing}), 400, "invalid"},
		{"missing course", good(map[string]any{"course_id": missing}), 400, "invalid"},
		{"teacher as counsellor", good(map[string]any{"counsellor_id": s.teacherAID}), 400, "invalid"},
		{"unknown field", good(map[string]any{"stage": "won"}), 400, "invalid"},
		{"operator for a string", good(map[string]any{"name": map[string]any{"$ne": ""}}), 400, "invalid"},
		{"not json", "{", 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := apptest.MustProblem(t, s.env.Do("POST", "/leads/", s.owner, tt.body), tt.status, tt.code)
			if p.Detail == "" {
				t.Fatalf("problem without detail: %+v", p)
			}
		})
	}
	// A counsellor may not hand a new lead to someone else; an accountant may not record leads at all.
	apptest.MustProblem(t, s.env.Do("POST", "/leads/", s.c1, good(map[string]any{"counsellor_id": s.c2ID})), 403, "forbidden")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/", s.acc, good(nil)), 403, "forbidden")
	for _, coll := range []string{leads.LeadsCollection, leads.ActivitiesCollection} {
		if n := s.count(t, coll, bson.M{}); n != 0 {
			t.Fatalf("%s holds %d documents after refused requests", coll, n)
		}
	}
	l := s.newLead(t, s.owner, map[string]any{"course_id": s.course, "counsellor_id": s.c1ID, "email": " Asha@Example.COM "})
	if l.Stage != "new" || !l.Open || l.CounsellorID != s.c1ID || l.Email != "asha@example.com" || len(l.Stages) != 1 || l.Stages[0].Stage != "new" {
		t.Fatalf("lead = %+v", l)
	}
}

func TestNormalisePhone(t *testing.T) {
	tests := []struct{ in, currency, want string }{
		{"+91 98765-43210", "INR", "919876543210"},
		{"0091 9876543210", "INR", "919876543210"},
		{"098765 43210", "INR", "919876543210"},
		{"(98765) 43210", "INR", "919876543210"},
		{"919876543210", "INR", "919876543210"},
		{"+1 (415) 555-0100", "INR", "14155550100"},
		{"415.555.0100", "USD", "14155550100"},
		{"4155550100", "XXX", "4155550100"},
	}
	for _, tt := range tests {
		got, err := leads.NormalisePhone("phone", tt.in, tt.currency)
		if err != nil || got != tt.want {
			t.Errorf("NormalisePhone(%q, %s) = %q, %v; want %q", tt.in, tt.currency, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12345", "98765x43210", "9+8765", "1234567890123456"} {
		if _, err := leads.NormalisePhone("phone", bad, "INR"); err == nil {
			t.Errorf("NormalisePhone(%q) accepted", bad)
		}
	}
}

func TestDuplicateOpenLeadsAreRefused(t *testing.T) {
	s := newSchool(t, "dupes")
	first := s.newLead(t, s.owner, map[string]any{"phone": "+91 98765-43210", "email": "ravi@example.com"})
	if first.PhoneNorm != "919876543210" {
		t.Fatalf("phone_norm = %q", first.PhoneNorm)
	}
	for _, body := range []map[string]any{
		{"phone": "098765 43210"},
		{"phone": "9876543210"},
		{"phone": nil, "email": " RAVI@example.com"},
		{"phone": "9811111111", "email": "ravi@example.com"},
	} {
		b := map[string]any{"name": "Ravi", "source": "phone", "branch_id": s.branchB}
		for k, v := range body {
			if v != nil {
				b[k] = v
			}
		}
		p := apptest.MustProblem(t, s.env.Do("POST", "/leads/", s.c2, b), 409, "conflict")
		if p.Fields["existing_lead_id"] != first.ID || !strings.Contains(p.Detail, first.ID) {
			t.Fatalf("duplicate of %v: problem %+v does not name lead %s", body, p, first.ID)
		}
	}
	if n := s.count(t, leads.LeadsCollection, bson.M{}); n != 1 {
		t.Fatalf("%d leads after refused duplicates", n)
	}
	// A lost lead is closed: the same person may enquire again as a new lead...
	s.move(t, s.owner, first.ID, "lost", http.StatusOK)
	again := s.newLead(t, s.owner, map[string]any{"phone": "9876543210"})
	// ...and then the old one cannot be reopened while the new one is open.
	p := apptest.MustProblem(t, s.env.Do("POST", "/leads/"+first.ID+"/stage", s.owner, map[string]any{"stage": "contacted"}), 409, "conflict")
	if p.Fields["existing_lead_id"] != again.ID {
		t.Fatalf("reopen problem %+v does not name %s", p, again.ID)
	}
	if got := apptest.Call[lead](t, s.env, "GET", "/leads/"+first.ID, s.owner, nil, 200); got.Stage != "lost" || got.Open {
		t.Fatalf("refused reopen changed the lead: %+v", got)
	}
	// A correction may not take another open lead's contact, nor leave a lead without one.
	third := s.newLead(t, s.owner, map[string]any{"email": "third@example.com"})
	p = apptest.MustProblem(t, s.env.Do("PATCH", "/leads/"+third.ID, s.owner, map[string]any{"phone": "+91 9876543210"}), 409, "conflict")
	if p.Fields["existing_lead_id"] != again.ID {
		t.Fatalf("update problem %+v does not name %s", p, again.ID)
	}
	apptest.MustProblem(t, s.env.Do("PATCH", "/leads/"+third.ID, s.owner, map[string]any{"phone": "", "email": ""}), 400, "invalid")
	apptest.MustProblem(t, s.env.Do("PATCH", "/leads/"+third.ID, s.owner, map[string]any{"source": "billboard"}), 400, "invalid")
	fixed := apptest.Call[lead](t, s.env, "PATCH", "/leads/"+third.ID, s.owner, map[string]any{"name": "Third Person", "phone": "", "course_id": s.course}, 200)
	if fixed.Name != "Third Person" || fixed.Phone != "" || fixed.PhoneNorm != "" || fixed.Email != "third@example.com" || fixed.CourseID != s.course {
		t.Fatalf("after update %+v", fixed)
	}
	// The phone it gave up is free for another lead.
	s.newLead(t, s.owner, map[string]any{"phone": third.Phone})
	// Another institution's leads are none of this one's business.
	other := newSchoolIn(t, s.env, "others")
	other.newLead(t, other.owner, map[string]any{"phone": "9876543210", "email": "ravi@example.com"})
}

// allowed is the transition table as the issue states it, written out independently of the package.
var allowed = map[string][]string{
	"new":            {"contacted", "lost"},
	"contacted":      {"demo_scheduled", "negotiation", "lost"},
	"demo_scheduled": {"demo_attended", "contacted", "lost"},
	"demo_attended":  {"negotiation", "won", "lost"},
	"negotiation":    {"won", "lost"},
	"won":            {},
	"lost":           {"contacted"},
}

func TestEveryStageTransition(t *testing.T) {
	s := newSchool(t, "stages")
	stages := []string{"new", "contacted", "demo_scheduled", "demo_attended", "negotiation", "won", "lost"}
	for _, from := range stages {
		for _, to := range stages {
			t.Run(from+"_to_"+to, func(t *testing.T) {
				l := s.leadAt(t, s.owner, from)
				before := s.rawLead(t, l.ID)
				if !slices.Contains(allowed[from], to) {
					p := apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l.ID+"/stage", s.owner, stageBody(to)), 409, "conflict")
					if !strings.Contains(p.Detail, from) || !strings.Contains(p.Detail, to) {
						t.Fatalf("problem %q does not name the move", p.Detail)
					}
					if after := s.rawLead(t, l.ID); fmt.Sprint(after) != fmt.Sprint(before) {
						t.Fatalf("refused move changed the lead:\n%v\n%v", before, after)
					}
					return
				}
				s.env.Clock.Advance(time.Minute)
				got := s.move(t, s.owner, l.ID, to, http.StatusOK)
				want := append([]string{"new"}, pathTo[from]...)
				want = append(want, to)
				var have []string
				for _, st := range got.Stages {
					have = append(have, st.Stage)
				}
				if got.Stage != to || !slices.Equal(have, want) || !got.Stages[len(got.Stages)-1].At.Equal(s.env.Clock.Now()) {
					t.Fatalf("after %s -> %s: stage %s, stages %v (want %v)", from, to, got.Stage, have, want)
				}
				if open := to != "won" && to != "lost"; got.Open != open || (to == "lost") != (got.LostReason != "") {
					t.Fatalf("after %s -> %s: open %v, lost_reason %q", from, to, got.Open, got.LostReason)
				}
			})
		}
	}
	l := s.newLead(t, s.owner, nil)
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l.ID+"/stage", s.owner, map[string]any{"stage": "lost"}), 400, "invalid")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l.ID+"/stage", s.owner, map[string]any{"stage": "contacted", "lost_reason": "x"}), 400, "invalid")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l.ID+"/stage", s.owner, map[string]any{"stage": "enrolled"}), 400, "invalid")
	if got := apptest.Call[page[activity]](t, s.env, "GET", "/leads/"+l.ID+"/activities", s.owner, nil, 200); len(got.Items) != 1 || got.Items[0].Kind != "created" {
		t.Fatalf("refused moves left history %+v", got.Items)
	}
}

func stageBody(to string) map[string]any {
	b := map[string]any{"stage": to}
	if to == "lost" {
		b["lost_reason"] = "too far"
	}
	return b
}

func TestWhoSeesWhichLead(t *testing.T) {
	s := newSchool(t, "scope")
	mine := s.newLead(t, s.c1, nil)                                                                  // branch A, assigned to c1 by creating it
	pool := s.newLead(t, s.owner, map[string]any{"branch_id": s.branchB})                            // branch B, unassigned
	theirs := s.newLead(t, s.owner, map[string]any{"counsellor_id": s.c2ID})                         // branch A, c2's
	adminB := s.newLead(t, s.owner, map[string]any{"branch_id": s.branchB, "counsellor_id": s.c2ID}) // branch B, c2's
	if mine.CounsellorID != s.c1ID {
		t.Fatalf("a counsellor's own lead is assigned to %q", mine.CounsellorID)
	}
	visible := map[string][]string{
		"owner":  {mine.ID, pool.ID, theirs.ID, adminB.ID},
		"adminA": {mine.ID, theirs.ID},
		"c1":     {mine.ID, pool.ID},
		"c2":     {pool.ID, theirs.ID, adminB.ID},
	}
	tokens := map[string]string{"owner": s.owner, "adminA": s.adminA, "c1": s.c1, "c2": s.c2}
	all := []string{mine.ID, pool.ID, theirs.ID, adminB.ID}
	for who, want := range visible {
		got := apptest.Call[page[lead]](t, s.env, "GET", "/leads/", tokens[who], nil, 200)
		var have []string
		for _, l := range got.Items {
			have = append(have, l.ID)
		}
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("%s lists %v, want %v", who, have, want)
		}
		for _, id := range all {
			if slices.Contains(want, id) {
				apptest.Call[lead](t, s.env, "GET", "/leads/"+id, tokens[who], nil, 200)
				continue
			}
			// Every route on a lead out of scope answers as if it did not exist.
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/leads/" + id, nil},
				{"GET", "/leads/" + id + "/activities", nil},
				{"PATCH", "/leads/" + id, map[string]any{"name": "Someone"}},
				{"POST", "/leads/" + id + "/stage", map[string]any{"stage": "contacted"}},
				{"POST", "/leads/" + id + "/notes", map[string]any{"note": "called"}},
				{"POST", "/leads/" + id + "/followups", map[string]any{"due_at": s.env.Clock.Now().Add(time.Hour)}},
			} {
				apptest.MustProblem(t, s.env.Do(r.method, r.path, tokens[who], r.body), 404, "not_found")
			}
		}
	}
	// Roles without the permission are refused outright; counsellors cannot assign.
	apptest.MustProblem(t, s.env.Do("GET", "/leads/", s.acc, nil), 403, "forbidden")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+pool.ID+"/assign", s.c1, map[string]any{"counsellor_id": s.c1ID}), 403, "forbidden")
	// Another institution's owner does not see this one's leads, nor can guess them.
	other := newSchoolIn(t, s.env, "elsewhere")
	apptest.MustProblem(t, s.env.Do("GET", "/leads/"+mine.ID, other.owner, nil), 404, "not_found")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+mine.ID+"/stage", other.owner, map[string]any{"stage": "contacted"}), 404, "not_found")
	if got := apptest.Call[page[lead]](t, s.env, "GET", "/leads/", other.owner, nil, 200); len(got.Items) != 0 {
		t.Fatalf("other tenant lists %d leads", len(got.Items))
	}
}

func TestAssignmentAndHistory(t *testing.T) {
	s := newSchool(t, "assign")
	l := s.newLead(t, s.owner, nil)
	// Nobody who cannot work leads of the branch may be given one.
	for _, who := range []string{s.teacherAID, "0123456789abcdef01234567"} {
		apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l.ID+"/assign", s.owner, map[string]any{"counsellor_id": who}), 400, "invalid")
	}
	got := apptest.Call[lead](t, s.env, "POST", "/leads/"+l.ID+"/assign", s.adminA, map[string]any{"counsellor_id": s.c2ID}, 200)
	if got.CounsellorID != s.c2ID {
		t.Fatalf("assigned to %q", got.CounsellorID)
	}
	// c1 saw the unassigned lead; now it is c2's.
	apptest.MustProblem(t, s.env.Do("GET", "/leads/"+l.ID, s.c1, nil), 404, "not_found")
	s.move(t, s.c2, l.ID, "contacted", http.StatusOK)
	apptest.Call[activity](t, s.env, "POST", "/leads/"+l.ID+"/notes", s.c2, map[string]any{"note": "wants weekend batch"}, 201)
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l.ID+"/notes", s.c2, map[string]any{"note": " "}), 400, "invalid")

	first := apptest.Call[page[activity]](t, s.env, "GET", "/leads/"+l.ID+"/activities?limit=2", s.c2, nil, 200)
	if len(first.Items) != 2 || first.NextCursor == "" {
		t.Fatalf("first page %+v", first)
	}
	rest := apptest.Call[page[activity]](t, s.env, "GET", "/leads/"+l.ID+"/activities?limit=2&cursor="+first.NextCursor, s.c2, nil, 200)
	all := append(first.Items, rest.Items...)
	var kinds []string
	for _, a := range all {
		kinds = append(kinds, a.Kind)
	}
	if want := []string{"created", "assigned", "stage_changed", "note"}; !slices.Equal(kinds, want) || rest.NextCursor != "" {
		t.Fatalf("history %v (next %q), want %v", kinds, rest.NextCursor, want)
	}
	if all[1].CounsellorID != s.c2ID || all[1].ActorID != s.adminAID || all[2].FromStage != "new" || all[2].ToStage != "contacted" || all[3].Note != "wants weekend batch" {
		t.Fatalf("history %+v", all)
	}
}

func TestOverdueFollowUps(t *testing.T) {
	s := newSchool(t, "follow")
	now := s.env.Clock.Now()
	l1 := s.newLead(t, s.c1, nil)
	l2 := s.newLead(t, s.c1, nil)
	l3 := s.newLead(t, s.owner, map[string]any{"counsellor_id": s.c2ID, "branch_id": s.branchB})
	schedule := func(token, leadID string, in time.Duration) followUp {
		return apptest.Call[followUp](t, s.env, "POST", "/leads/"+leadID+"/followups", token, map[string]any{"due_at": now.Add(in), "note": "call back"}, 201)
	}
	f1 := schedule(s.c1, l1.ID, time.Hour)
	f2 := schedule(s.c1, l2.ID, 3*time.Hour)
	f3 := schedule(s.owner, l3.ID, 2*time.Hour)
	if f3.CounsellorID != s.c2ID || f1.CounsellorID != s.c1ID {
		t.Fatalf("follow-ups belong to %s and %s", f1.CounsellorID, f3.CounsellorID)
	}
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l1.ID+"/followups", s.c1, map[string]any{"due_at": now.Add(-time.Minute)}), 400, "invalid")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l1.ID+"/followups", s.c1, map[string]any{"note": "no time"}), 400, "invalid")
	if p := apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l1.ID+"/followups", s.c1, map[string]any{"due_at": "tomorrow 10am"}), 400, "invalid"); !strings.Contains(p.Detail, "RFC 3339") {
		t.Errorf("a malformed due_at: detail %q does not say how to write a time", p.Detail)
	}
	if p := apptest.MustProblem(t, s.env.Do("POST", "/leads/"+l1.ID+"/followups", s.c1, map[string]any{"due_at": now.Add(time.Hour), "note": "call\u202eback"}), 400, "invalid"); p.Fields["note"] == "" {
		t.Errorf("a note with a bidi override: errors %v do not name the note", p.Errors)
	}
	if p := apptest.MustProblem(t, s.env.Do("POST", "/leads/followups/"+f1.ID+"/done", s.c1, map[string]any{"outcome": strings.Repeat("x", 2001)}), 400, "invalid"); p.Fields["outcome"] == "" {
		t.Errorf("an outcome too long: errors %v do not name the outcome", p.Errors)
	}

	overdue := func(token, query string) []string {
		t.Helper()
		p := apptest.Call[page[followUp]](t, s.env, "GET", "/leads/followups/overdue"+query, token, nil, 200)
		out := []string{}
		for _, f := range p.Items {
			out = append(out, f.ID)
		}
		return out
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: overdue %v, want %v", what, got, want)
		}
	}
	check("c1 before anything is due", overdue(s.c1, ""), []string{})
	s.env.Clock.Advance(90 * time.Minute)
	s.relogin()
	check("c1 at +1h30", overdue(s.c1, ""), []string{f1.ID})
	check("c2 at +1h30", overdue(s.c2, ""), []string{})
	s.env.Clock.Advance(2 * time.Hour)
	s.relogin()
	check("c1 at +3h30", overdue(s.c1, ""), []string{f1.ID, f2.ID})
	check("c2 at +3h30", overdue(s.c2, ""), []string{f3.ID})
	check("owner, all", overdue(s.owner, ""), []string{f1.ID, f3.ID, f2.ID})
	check("owner, c1's", overdue(s.owner, "?counsellor="+s.c1ID), []string{f1.ID, f2.ID})
	check("branch admin of A", overdue(s.adminA, ""), []string{f1.ID, f2.ID})
	check("owner, paged", overdue(s.owner, "?limit=1"), []string{f1.ID})
	p := apptest.Call[page[followUp]](t, s.env, "GET", "/leads/followups/overdue?limit=2", s.owner, nil, 200)
	check("owner, second page", overdue(s.owner, "?limit=2&cursor="+p.NextCursor), []string{f2.ID})
	apptest.MustProblem(t, s.env.Do("GET", "/leads/followups/overdue?counsellor="+s.c2ID, s.c1, nil), 404, "not_found")

	done := apptest.Call[followUp](t, s.env, "POST", "/leads/followups/"+f1.ID+"/done", s.c1, map[string]any{"outcome": "demo booked"}, 200)
	if !done.Done {
		t.Fatalf("follow-up %+v", done)
	}
	apptest.MustProblem(t, s.env.Do("POST", "/leads/followups/"+f1.ID+"/done", s.c1, map[string]any{}), 409, "conflict")
	apptest.MustProblem(t, s.env.Do("POST", "/leads/followups/"+f3.ID+"/done", s.c1, map[string]any{}), 404, "not_found")
	check("c1 after done", overdue(s.c1, ""), []string{f2.ID})
	// Reassigning a lead moves its open follow-ups to the new counsellor.
	apptest.Call[lead](t, s.env, "POST", "/leads/"+l2.ID+"/assign", s.owner, map[string]any{"counsellor_id": s.c2ID}, 200)
	check("c1 after reassignment", overdue(s.c1, ""), []string{})
	check("c2 after reassignment", overdue(s.c2, ""), []string{f3.ID, f2.ID})
}

// convertRequest posts a conversion to h (the leads area, or the whole Env) with an idempotency key.
func convertRequest(h http.Handler, token, leadID, key string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/leads/"+leadID+"/convert", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func (s *school) convertBody(batch string) string {
	return fmt.Sprintf(`{"date_of_birth":"2010-04-05","password":%q,"batch_id":%q,"from":"2026-06-01","plan_id":%q}`, apptest.Password, batch, s.plan)
}

func TestConvertWonLead(t *testing.T) {
	s := newSchool(t, "convert")
	env := s.env
	l := s.leadAt(t, s.c1, "won")
	body := s.convertBody(s.batch)
	// Only a won lead converts; the key is required.
	open := s.leadAt(t, s.c1, "negotiation")
	apptest.MustProblem(t, convertRequest(env.Handler, s.c1, open.ID, "k-open", body), 409, "conflict")
	apptest.MustProblem(t, convertRequest(env.Handler, s.c1, l.ID, "", body), 400, "invalid")
	apptest.MustProblem(t, convertRequest(env.Handler, s.c1, l.ID, "k1", `{"password":"x"}`), 400, "invalid")
	apptest.MustProblem(t, convertRequest(env.Handler, s.acc, l.ID, "k1", body), 403, "forbidden")

	rec := convertRequest(env.Handler, s.c1, l.ID, "k1", body)
	apptest.MustStatus(t, rec, http.StatusCreated)
	c := apptest.Decode[conversion](t, rec)
	if c.LeadID != l.ID || c.StudentID == "" || c.EnrolmentID == "" || c.AssignmentID == "" || len(c.PRN) != 14 {
		t.Fatalf("conversion %+v", c)
	}
	st := apptest.Call[struct {
		PRN string `json:"prn"`
	}](t, env, "GET", "/students/"+c.StudentID, s.owner, nil, 200)
	if st.PRN != c.PRN {
		t.Fatalf("student PRN %s, conversion says %s", st.PRN, c.PRN)
	}
	a := apptest.Call[struct {
		EnrolmentID string `json:"enrolment_id"`
		Net         int64  `json:"net"`
		Instalments []any  `json:"instalments"`
	}](t, env, "GET", "/fees/assignments/"+c.AssignmentID, s.owner, nil, 200)
	if a.EnrolmentID != c.EnrolmentID || a.Net != 30000 || len(a.Instalments) != 3 {
		t.Fatalf("assignment %+v", a)
	}
	got := apptest.Call[lead](t, env, "GET", "/leads/"+l.ID, s.c1, nil, 200)
	if got.StudentID != c.StudentID || got.ConvertedAt == nil || got.Conversion == nil || *got.Conversion != c {
		t.Fatalf("lead after conversion %+v", got)
	}

	// A retry with the key and body answers the same result; the key with another body, or another key, is 409.
	rec = convertRequest(env.Handler, s.c1, l.ID, "k1", body)
	apptest.MustStatus(t, rec, http.StatusOK)
	if again := apptest.Decode[conversion](t, rec); again != c || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %+v, want %+v", again, c)
	}
	apptest.MustProblem(t, convertRequest(env.Handler, s.c1, l.ID, "k1", strings.Replace(body, "2026-06-01", "2026-06-02", 1)), 409, "conflict")
	p := apptest.MustProblem(t, convertRequest(env.Handler, s.owner, l.ID, "k2", body), 409, "conflict")
	if p.Fields["student_id"] != c.StudentID {
		t.Fatalf("second conversion problem %+v does not name the student", p)
	}
	// A converted lead is done with: no reassignment, no follow-ups, no stage moves.
	apptest.MustProblem(t, env.Do("POST", "/leads/"+l.ID+"/assign", s.owner, map[string]any{"counsellor_id": s.c2ID}), 409, "conflict")
	apptest.MustProblem(t, env.Do("PATCH", "/leads/"+l.ID, s.owner, map[string]any{"name": "Renamed"}), 409, "conflict")
	apptest.MustProblem(t, env.Do("POST", "/leads/"+l.ID+"/followups", s.c1, map[string]any{"due_at": env.Clock.Now().Add(time.Hour)}), 409, "conflict")
	s.move(t, s.c1, l.ID, "lost", http.StatusConflict)
	for coll, want := range map[string]int64{"students": 1, "enrolments": 1, "fee_assignments": 1, "fee_instalments": 3} {
		if n := s.count(t, coll, bson.M{}); n != want {
			t.Errorf("%s holds %d documents, want %d", coll, n, want)
		}
	}
	h := apptest.Call[page[activity]](t, env, "GET", "/leads/"+l.ID+"/activities", s.c1, nil, 200)
	if last := h.Items[len(h.Items)-1]; last.Kind != "converted" || last.StudentID != c.StudentID {
		t.Fatalf("last activity %+v", last)
	}
}

func TestConcurrentConversionsCreateOneStudent(t *testing.T) {
	s := newSchool(t, "race")
	l := s.leadAt(t, s.owner, "won")
	body := s.convertBody(s.batch)
	const n = 20
	var wg sync.WaitGroup
	codes := make([]int, n)
	results := make([]conversion, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "same-key"
			if i%2 == 1 {
				key = fmt.Sprintf("key-%d", i)
			}
			rec := convertRequest(s.env.Handler, s.owner, l.ID, key, body)
			codes[i] = rec.Code
			if rec.Code < 300 {
				results[i] = apptest.Decode[conversion](t, rec)
			}
		}()
	}
	wg.Wait()
	created := 0
	var student string
	for i, code := range codes {
		switch code {
		case http.StatusCreated:
			created++
			fallthrough
		case http.StatusOK:
			if student != "" && results[i].StudentID != student {
				t.Fatalf("two students: %s and %s", student, results[i].StudentID)
			}
			student = results[i].StudentID
		case http.StatusConflict:
		default:
			t.Fatalf("request %d answered %d", i, code)
		}
	}
	if created != 1 {
		t.Fatalf("%d conversions answered 201 (codes %v)", created, codes)
	}
	for coll, want := range map[string]int64{"students": 1, "enrolments": 1, "fee_assignments": 1, "fee_instalments": 3} {
		if got := s.count(t, coll, bson.M{}); got != want {
			t.Errorf("%s holds %d documents, want %d", coll, got, want)
		}
	}
	if got := s.count(t, "batches", bson.M{"_id": s.batch, "enrolled": 1}); got != 1 {
		t.Errorf("the batch does not hold exactly one seat")
	}
}

// snapshot is everything a conversion writes, so a failed one can be shown to have written nothing.
func (s *school) snapshot(t testing.TB, leadID string) string {
	t.Helper()
	var b strings.Builder
	for _, coll := range []string{"students", "users", "enrolments", "batches", "fee_assignments", "fee_instalments",
		"counters", "audit_log", leads.LeadsCollection, leads.ActivitiesCollection} {
		cur, err := s.db.Collection(coll).Find(context.Background(), bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(context.Background(), &docs); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %v\n", coll, docs)
	}
	return b.String()
}

func TestConversionFailingAtAnyStepLeavesNothing(t *testing.T) {
	s := newSchool(t, "atomic")
	l := s.leadAt(t, s.owner, "won")
	body := s.convertBody(s.batch)
	injected := errors.New("injected failure")
	for _, step := range leads.ConversionSteps {
		t.Run(step, func(t *testing.T) {
			before := s.snapshot(t, l.ID)
			h := leads.AreaFailingAt(s.env.Services.Leads, s.env.App.AreaOptions(), func(at string) error {
				if at == step {
					return injected
				}
				return nil
			})
			apptest.MustProblem(t, convertRequest(h, s.owner, l.ID, "k-"+step, body), 500, "internal")
			if after := s.snapshot(t, l.ID); after != before {
				t.Fatalf("failure after %s left writes behind:\nbefore %s\nafter  %s", step, before, after)
			}
		})
	}
	// Failures the other areas report abort everything as well: the enrolment refuses a batch of another
	// branch than the lead's after the student was created, a full batch likewise.
	full := s.newBatch(t, s.branchA, 1)
	other := apptest.Call[ids](t, s.env, "POST", "/students/", s.owner, map[string]any{"name": "Seat Holder", "date_of_birth": "2010-01-01",
		"phone": "9811111111", "branch_id": s.branchA, "password": apptest.Password}, 201)
	apptest.Call[ids](t, s.env, "POST", "/students/enrolments", s.owner, map[string]any{"student_id": other.ID, "batch_id": full}, 201)
	for _, bad := range []struct {
		batch  string
		status int
		code   string
	}{{s.newBatch(t, s.branchB, 10), 400, "invalid"}, {full, 409, "conflict"}} {
		before := s.snapshot(t, l.ID)
		apptest.MustProblem(t, convertRequest(s.env.Handler, s.owner, l.ID, "k-"+bad.batch, s.convertBody(bad.batch)), bad.status, bad.code)
		if after := s.snapshot(t, l.ID); after != before {
			t.Fatalf("a refused enrolment left writes behind:\nbefore %s\nafter  %s", before, after)
		}
	}
	// Nothing was consumed by the failures: the first converted student gets the sequence after the seat
	// holder's.
	rec := convertRequest(s.env.Handler, s.owner, l.ID, "k-ok", body)
	apptest.MustStatus(t, rec, http.StatusCreated)
	if c := apptest.Decode[conversion](t, rec); c.PRN[7:13] != "000002" {
		t.Fatalf("PRN %s: failed conversions consumed sequence numbers", c.PRN)
	}
}

func TestConcurrentDuplicatesCreateOneLead(t *testing.T) {
	s := newSchool(t, "rush")
	const n = 10
	var wg sync.WaitGroup
	codes := make([]int, n)
	problems := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The same person, written differently by each request.
			phone := []string{"+91 98450 12345", "09845012345", "9845012345", "0091-98450-12345"}[i%4]
			rec := s.env.Do("POST", "/leads/", s.owner, map[string]any{"name": "Same Person", "phone": phone, "source": "website", "branch_id": s.branchA})
			codes[i], problems[i] = rec.Code, rec.Body.String()
		}()
	}
	wg.Wait()
	created := 0
	for i, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			if !strings.Contains(problems[i], "existing_lead_id") {
				t.Errorf("conflict without the existing lead: %s", problems[i])
			}
		default:
			t.Errorf("request %d answered %d: %s", i, c, problems[i])
		}
	}
	if created != 1 || s.count(t, leads.LeadsCollection, bson.M{}) != 1 {
		t.Fatalf("%d created, %d stored (codes %v)", created, s.count(t, leads.LeadsCollection, bson.M{}), codes)
	}
}
