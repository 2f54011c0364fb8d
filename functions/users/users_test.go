package users_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
)

// Local mirrors of the API's JSON: field names here are the contract the frontend codes against.
type branch struct {
	ID      string `json:"id"`
	Code    string `json:"code"`
	Name    string `json:"name"`
	Address string `json:"address"`
	Phone   string `json:"phone"`
	Active  bool   `json:"active"`
}

type staff struct {
	ID       string   `json:"id"`
	PRN      string   `json:"prn"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Branches []string `json:"branches"`
	Status   string   `json:"status"`
}

type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type auditEntry struct {
	Seq    int64  `json:"seq"`
	Action string `json:"action"`
	Actor  struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	} `json:"actor"`
	Target struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"target"`
	Details json.RawMessage `json:"details"`
}

// auditReport decodes GET /users/audit/verify.
type auditReport struct {
	Entries int64 `json:"entries"`
	OK      bool  `json:"ok"`
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// missingID has the form of an id but names nothing, so a 404 for it comes from a lookup, not the format.
const missingID = "0123456789abcdef01234567"

// do is Env.Do for what it cannot express: a content type of the caller's choice and extra headers.
func do(env *apptest.Env, method, path, token, contentType string, body io.Reader, headers map[string]string) *httptest.ResponseRecorder {
	env.T.Helper()
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	env.Handler.ServeHTTP(rec, req)
	return rec
}

func createBranch(t *testing.T, env *apptest.Env, token, code string) branch {
	t.Helper()
	rec := env.Do("POST", "/users/branches", token, map[string]string{"code": code, "name": "Branch " + code})
	apptest.MustStatus(t, rec, http.StatusCreated)
	return apptest.Decode[branch](t, rec)
}

func staffBody(email, role string, branches ...string) map[string]any {
	if branches == nil {
		branches = []string{}
	}
	return map[string]any{"email": email, "name": "Staff " + email, "role": role, "branches": branches, "password": apptest.Password}
}

func createStaff(t *testing.T, env *apptest.Env, token, email, role string, branches ...string) staff {
	t.Helper()
	rec := env.Do("POST", "/users/staff", token, staffBody(email, role, branches...))
	apptest.MustStatus(t, rec, http.StatusCreated)
	return apptest.Decode[staff](t, rec)
}

func getJSON[T any](t *testing.T, env *apptest.Env, path, token string) T {
	t.Helper()
	rec := env.Do("GET", path, token, nil)
	apptest.MustStatus(t, rec, http.StatusOK)
	return apptest.Decode[T](t, rec)
}

// auditOf reads an audit history that fits one page.
func auditOf(t *testing.T, env *apptest.Env, path, token string) []auditEntry {
	t.Helper()
	return apptest.Items[auditEntry](t, env, "GET", path, token, nil, http.StatusOK)
}

func branchIDs(t *testing.T, env *apptest.Env, token string) []string {
	t.Helper()
	var ids []string
	for _, b := range getJSON[page[branch]](t, env, "/users/branches", token).Items {
		ids = append(ids, b.ID)
	}
	slices.Sort(ids)
	return ids
}

func staffIDs(t *testing.T, env *apptest.Env, path, token string) []string {
	t.Helper()
	var ids []string
	for _, s := range getJSON[page[staff]](t, env, path, token).Items {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

// org is a tenant with two branches, a branch admin and a teacher for each, signed in.
type org struct {
	ten                    apptest.Tenant
	owner                  string
	a, b                   branch
	adminA, teachA, teachB staff
	adminAToken            string
	teachAToken            string
}

func newOrg(t *testing.T, env *apptest.Env, slug string) org {
	t.Helper()
	o := org{ten: env.Provision(slug)}
	o.owner = env.Login(slug, o.ten.OwnerEmail).AccessToken
	o.a = createBranch(t, env, o.owner, "NORTH")
	o.b = createBranch(t, env, o.owner, "SOUTH")
	o.adminA = createStaff(t, env, o.owner, "admin.north@"+slug+".test", "branch_admin", o.a.ID)
	o.teachA = createStaff(t, env, o.owner, "teacher.north@"+slug+".test", "teacher", o.a.ID)
	o.teachB = createStaff(t, env, o.owner, "teacher.south@"+slug+".test", "teacher", o.b.ID)
	o.adminAToken = env.Login(slug, o.adminA.Email).AccessToken
	o.teachAToken = env.Login(slug, o.teachA.Email).AccessToken
	return o
}

func TestBranches(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	owner := env.Login("alpha", ten.OwnerEmail).AccessToken

	rec := env.Do("POST", "/users/branches", owner, map[string]string{"code": "NORTH-1", "name": "  North Campus ", "address": "1 North Road", "phone": "+91 80 1234"})
	apptest.MustStatus(t, rec, http.StatusCreated)
	north := apptest.Decode[branch](t, rec)
	if !idPattern.MatchString(north.ID) || north.Code != "NORTH-1" || north.Name != "North Campus" || !north.Active || north.Address != "1 North Road" {
		t.Errorf("created = %+v", north)
	}
	south := createBranch(t, env, owner, "SOUTH")

	apptest.MustProblem(t, env.Do("POST", "/users/branches", owner, map[string]string{"code": "NORTH-1", "name": "Again"}), http.StatusConflict, "conflict")

	for _, code := range []string{"", "N", "north", "-NORTH", "NO RTH", "NORTH_1", "ABCDEFGHIJKLMNOPQ"} {
		p := apptest.MustProblem(t, env.Do("POST", "/users/branches", owner, map[string]string{"code": code, "name": "X"}), http.StatusBadRequest, "invalid")
		if _, ok := p.Fields["code"]; !ok {
			t.Errorf("code %q: errors %v, want code named", code, p.Errors)
		}
	}
	p := apptest.MustProblem(t, env.Do("POST", "/users/branches", owner, map[string]string{"code": "EAST", "name": "   "}), http.StatusBadRequest, "invalid")
	if _, ok := p.Fields["name"]; !ok {
		t.Errorf("blank name: errors %v", p.Errors)
	}
	// Every bad field of one request at once, each with its code.
	p = apptest.MustProblem(t, env.Do("POST", "/users/branches", owner, map[string]string{"code": "x y", "name": "", "address": strings.Repeat("a", 501), "phone": strings.Repeat("9", 33)}), http.StatusBadRequest, "invalid")
	for field, code := range map[string]string{"code": "format", "name": "required", "address": "too_long", "phone": "too_long"} {
		if p.FieldCode(field) != code {
			t.Errorf("errors %+v, want %s %s", p.Errors, field, code)
		}
	}
	if len(p.Errors) != 4 {
		t.Errorf("errors %+v, want the four bad fields", p.Errors)
	}
	if got := branchIDs(t, env, owner); !slices.Equal(got, sorted(north.ID, south.ID)) {
		t.Errorf("branches = %v, want only the two created", got)
	}

	if got := getJSON[branch](t, env, "/users/branches/"+north.ID, owner); got != north {
		t.Errorf("get = %+v, want %+v", got, north)
	}
	for _, id := range []string{missingID, "not-an-id", strings.ToUpper(north.ID)} {
		apptest.MustProblem(t, env.Do("GET", "/users/branches/"+id, owner, nil), http.StatusNotFound, "not_found")
	}

	rec = env.Do("PATCH", "/users/branches/"+north.ID, owner, map[string]any{"name": "North Campus (old)", "active": false})
	apptest.MustStatus(t, rec, http.StatusOK)
	patched := apptest.Decode[branch](t, rec)
	want := north
	want.Name, want.Active = "North Campus (old)", false
	if patched != want {
		t.Errorf("patched = %+v, want %+v (absent fields kept)", patched, want)
	}
	if got := getJSON[branch](t, env, "/users/branches/"+north.ID, owner); got != want {
		t.Errorf("re-read = %+v, want %+v", got, want)
	}
	if got := getJSON[branch](t, env, "/users/branches/"+south.ID, owner); got != south {
		t.Errorf("the other branch changed: %+v", got)
	}
	apptest.MustProblem(t, env.Do("PATCH", "/users/branches/"+missingID, owner, map[string]string{"name": "X"}), http.StatusNotFound, "not_found")
	// The code is a branch's stable key: it is not in the change type at all.
	p = apptest.MustProblem(t, env.Do("PATCH", "/users/branches/"+north.ID, owner, map[string]string{"code": "WEST"}), http.StatusBadRequest, "invalid")
	if _, ok := p.Fields["code"]; !ok {
		t.Errorf("patch code: errors %v", p.Errors)
	}
	apptest.MustProblem(t, env.Do("PATCH", "/users/branches/"+north.ID, owner, map[string]string{"name": ""}), http.StatusBadRequest, "invalid")

	t.Run("pagination", func(t *testing.T) {
		first := getJSON[page[branch]](t, env, "/users/branches?limit=1", owner)
		if len(first.Items) != 1 || first.NextCursor == "" {
			t.Fatalf("first page = %+v", first)
		}
		second := getJSON[page[branch]](t, env, "/users/branches?limit=1&cursor="+first.NextCursor, owner)
		if len(second.Items) != 1 || second.NextCursor != "" || second.Items[0].ID == first.Items[0].ID {
			t.Errorf("second page = %+v after %+v", second, first)
		}
	})
}

func TestStaffCreationPermissions(t *testing.T) {
	env := apptest.New(t)
	o := newOrg(t, env, "alpha")

	t.Run("owner creates a teacher", func(t *testing.T) {
		rec := env.Do("POST", "/users/staff", o.owner, staffBody("New.Teacher@Alpha.test", "teacher", o.a.ID))
		apptest.MustStatus(t, rec, http.StatusCreated)
		if strings.Contains(rec.Body.String(), "password") || strings.Contains(rec.Body.String(), "argon2") {
			t.Fatalf("answer leaks the password or its hash: %s", rec.Body)
		}
		s := apptest.Decode[staff](t, rec)
		if !idPattern.MatchString(s.ID) || s.Role != "teacher" || s.Email != "new.teacher@alpha.test" || s.Status != "active" || !slices.Equal(s.Branches, []string{o.a.ID}) {
			t.Errorf("staff = %+v", s)
		}
		// TTTT R YY SSSSSS C: the tenant's number, role code 3 for teachers, the year 2026.
		if !regexp.MustCompile(`^\d{14}$`).MatchString(s.PRN) || s.PRN[:4] != fmt.Sprintf("%04d", o.ten.Number) || s.PRN[4] != '3' || s.PRN[5:7] != "26" {
			t.Errorf("PRN %q: want 14 digits, tenant %04d, role digit 3 at position 5, year 26", s.PRN, o.ten.Number)
		}
		if s.PRN == o.teachA.PRN || s.PRN == o.teachB.PRN {
			t.Errorf("PRN %q issued twice", s.PRN)
		}
		// The person can sign in with the PRN they were given.
		apptest.MustStatus(t, env.Do("POST", "/auth/login", "", map[string]string{"prn": s.PRN, "password": apptest.Password}), http.StatusOK)
	})

	before := staffIDs(t, env, "/users/staff?limit=200", o.owner)
	refused := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
		field  string
	}{
		{"branch that does not exist", o.owner, staffBody("x1@alpha.test", "teacher", missingID), 400, "invalid", "branches"},
		{"branch id that is not an id", o.owner, staffBody("x2@alpha.test", "teacher", "north"), 400, "invalid", "branches"},
		{"student role", o.owner, staffBody("x3@alpha.test", "student"), 400, "invalid", "role"},
		{"guardian role", o.owner, staffBody("x4@alpha.test", "guardian"), 400, "invalid", "role"},
		{"platform admin role", o.owner, staffBody("x5@alpha.test", "platform_admin"), 400, "invalid", "role"},
		{"teacher without a branch", o.owner, staffBody("x6@alpha.test", "teacher"), 400, "invalid", "branches"},
		{"branch listed twice", o.owner, staffBody("x7@alpha.test", "teacher", o.a.ID, o.a.ID), 400, "invalid", "branches"},
		{"taken email", o.owner, staffBody(o.teachA.Email, "teacher", o.a.ID), 409, "conflict", ""},
		{"weak password", o.owner, func() map[string]any {
			b := staffBody("x8@alpha.test", "accountant")
			b["password"] = "short"
			return b
		}(), 400, "invalid", "password"},
		{"branch admin: teacher in another branch", o.adminAToken, staffBody("x9@alpha.test", "teacher", o.b.ID), 403, "forbidden", ""},
		{"branch admin: teacher in own and another branch", o.adminAToken, staffBody("x10@alpha.test", "teacher", o.a.ID, o.b.ID), 403, "forbidden", ""},
		{"branch admin: accountant", o.adminAToken, staffBody("x11@alpha.test", "accountant"), 403, "forbidden", ""},
		{"branch admin: accountant scoped to own branch", o.adminAToken, staffBody("x12@alpha.test", "accountant", o.a.ID), 403, "forbidden", ""},
		{"branch admin: owner", o.adminAToken, staffBody("x13@alpha.test", "owner"), 403, "forbidden", ""},
		{"teacher lacks the permission", o.teachAToken, staffBody("x14@alpha.test", "teacher", o.a.ID), 403, "forbidden", ""},
		{"no token", "", staffBody("x15@alpha.test", "teacher", o.a.ID), 401, "unauthenticated", ""},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			p := apptest.MustProblem(t, env.Do("POST", "/users/staff", tc.token, tc.body), tc.status, tc.code)
			if tc.field != "" {
				if _, ok := p.Fields[tc.field]; !ok {
					t.Errorf("errors = %v, want field %q named", p.Errors, tc.field)
				}
			}
		})
	}
	if after := staffIDs(t, env, "/users/staff?limit=200", o.owner); !slices.Equal(after, before) {
		t.Errorf("refused requests created accounts: %v -> %v", before, after)
	}

	t.Run("branch admin within their branch", func(t *testing.T) {
		s := createStaff(t, env, o.adminAToken, "by.admin@alpha.test", "teacher", o.a.ID)
		if s.Role != "teacher" || s.PRN[4] != '3' {
			t.Errorf("staff = %+v", s)
		}
		s = createStaff(t, env, o.adminAToken, "co.admin@alpha.test", "branch_admin", o.a.ID)
		if s.PRN[4] != '2' {
			t.Errorf("branch admin PRN %q, want role digit 2", s.PRN)
		}
	})
	t.Run("owner creates every staff role", func(t *testing.T) {
		for role, digit := range map[string]byte{"owner": '1', "accountant": '4', "counsellor": '5'} {
			if s := createStaff(t, env, o.owner, "new."+role+"@alpha.test", role); s.PRN[4] != digit {
				t.Errorf("%s PRN %q, want role digit %c", role, s.PRN, digit)
			}
		}
	})
}

// Branch-scoped staff see their branches and the people who share one; anything else reads as not found,
// so its existence does not leak.
func TestBranchScope(t *testing.T) {
	env := apptest.New(t)
	o := newOrg(t, env, "alpha")

	t.Run("teacher", func(t *testing.T) {
		apptest.MustProblem(t, env.Do("GET", "/users/branches/"+o.b.ID, o.teachAToken, nil), http.StatusNotFound, "not_found")
		if got := getJSON[branch](t, env, "/users/branches/"+o.a.ID, o.teachAToken); got.ID != o.a.ID {
			t.Errorf("own branch = %+v", got)
		}
		if got := branchIDs(t, env, o.teachAToken); !slices.Equal(got, []string{o.a.ID}) {
			t.Errorf("teacher lists %v, want only %s", got, o.a.ID)
		}
		apptest.MustProblem(t, env.Do("PATCH", "/users/branches/"+o.a.ID, o.teachAToken, map[string]string{"name": "Mine"}), http.StatusForbidden, "forbidden")
		apptest.MustProblem(t, env.Do("POST", "/users/branches", o.teachAToken, map[string]string{"code": "EAST", "name": "East"}), http.StatusForbidden, "forbidden")
		apptest.MustProblem(t, env.Do("GET", "/users/staff", o.teachAToken, nil), http.StatusForbidden, "forbidden")
	})

	t.Run("branch admin", func(t *testing.T) {
		apptest.MustProblem(t, env.Do("GET", "/users/staff/"+o.teachB.ID, o.adminAToken, nil), http.StatusNotFound, "not_found")
		apptest.MustProblem(t, env.Do("PATCH", "/users/staff/"+o.teachB.ID, o.adminAToken, map[string]string{"name": "Renamed"}), http.StatusNotFound, "not_found")
		apptest.MustProblem(t, env.Do("GET", "/users/staff/"+o.ten.OwnerID, o.adminAToken, nil), http.StatusNotFound, "not_found")
		apptest.MustProblem(t, env.Do("GET", "/users/branches/"+o.b.ID, o.adminAToken, nil), http.StatusNotFound, "not_found")
		if got := getJSON[staff](t, env, "/users/staff/"+o.teachA.ID, o.adminAToken); got.ID != o.teachA.ID {
			t.Errorf("own branch's teacher = %+v", got)
		}
		if got := staffIDs(t, env, "/users/staff", o.adminAToken); !slices.Equal(got, sorted(o.adminA.ID, o.teachA.ID)) {
			t.Errorf("branch admin lists %v, want the two staff of branch A", got)
		}
		// Filtering by a branch out of scope finds nobody rather than widening the scope.
		if got := staffIDs(t, env, "/users/staff?branch="+o.b.ID, o.adminAToken); len(got) != 0 {
			t.Errorf("?branch=B shows %v", got)
		}
		// Moving one's own teacher into a branch out of scope is refused, and changes nothing.
		apptest.MustProblem(t, env.Do("PATCH", "/users/staff/"+o.teachA.ID, o.adminAToken, map[string]any{"branches": []string{o.b.ID}}), http.StatusForbidden, "forbidden")
		if got := getJSON[staff](t, env, "/users/staff/"+o.teachA.ID, o.owner); !slices.Equal(got.Branches, []string{o.a.ID}) {
			t.Errorf("teacher's branches = %v", got.Branches)
		}
	})

	t.Run("owner sees everything", func(t *testing.T) {
		if got := branchIDs(t, env, o.owner); !slices.Equal(got, sorted(o.a.ID, o.b.ID)) {
			t.Errorf("owner lists branches %v", got)
		}
		if got := staffIDs(t, env, "/users/staff", o.owner); !slices.Equal(got, sorted(o.ten.OwnerID, o.adminA.ID, o.teachA.ID, o.teachB.ID)) {
			t.Errorf("owner lists staff %v", got)
		}
		if got := staffIDs(t, env, "/users/staff?role=teacher", o.owner); !slices.Equal(got, sorted(o.teachA.ID, o.teachB.ID)) {
			t.Errorf("?role=teacher lists %v", got)
		}
		if got := staffIDs(t, env, "/users/staff?branch="+o.b.ID, o.owner); !slices.Equal(got, []string{o.teachB.ID}) {
			t.Errorf("?branch=B lists %v", got)
		}
		apptest.MustProblem(t, env.Do("GET", "/users/staff?role=student", o.owner, nil), http.StatusBadRequest, "invalid")
	})
}

func TestTenantIsolation(t *testing.T) {
	env := apptest.New(t)
	alpha := newOrg(t, env, "alpha")
	bravo := newOrg(t, env, "bravo") // same branch codes: uniqueness is per institution
	theirs := []struct{ kind, id string }{
		{"branches", bravo.a.ID}, {"branches", bravo.b.ID},
		{"staff", bravo.teachA.ID}, {"staff", bravo.adminA.ID}, {"staff", bravo.ten.OwnerID},
	}
	for _, x := range theirs {
		path := "/users/" + x.kind + "/" + x.id
		apptest.MustProblem(t, env.Do("GET", path, alpha.owner, nil), http.StatusNotFound, "not_found")
		apptest.MustProblem(t, env.Do("PATCH", path, alpha.owner, map[string]string{"name": "Taken over"}), http.StatusNotFound, "not_found")
	}
	if got := branchIDs(t, env, alpha.owner); !slices.Equal(got, sorted(alpha.a.ID, alpha.b.ID)) {
		t.Errorf("alpha lists branches %v", got)
	}
	if got := staffIDs(t, env, "/users/staff", alpha.owner); !slices.Equal(got, sorted(alpha.ten.OwnerID, alpha.adminA.ID, alpha.teachA.ID, alpha.teachB.ID)) {
		t.Errorf("alpha lists staff %v", got)
	}
	// Nothing in bravo changed.
	if got := getJSON[branch](t, env, "/users/branches/"+bravo.a.ID, bravo.owner); got != bravo.a {
		t.Errorf("bravo's branch = %+v, want %+v", got, bravo.a)
	}
	if got := getJSON[staff](t, env, "/users/staff/"+bravo.teachA.ID, bravo.owner); got.Name != bravo.teachA.Name {
		t.Errorf("bravo's teacher = %+v", got)
	}
	// Alpha cannot give its staff a branch of bravo's either.
	apptest.MustProblem(t, env.Do("POST", "/users/staff", alpha.owner, staffBody("spy@alpha.test", "teacher", bravo.a.ID)), http.StatusBadRequest, "invalid")
	// Nor read bravo's audit history.
	if got := auditOf(t, env, "/users/audit?kind=branch&id="+bravo.a.ID, alpha.owner); len(got) != 0 {
		t.Errorf("alpha reads bravo's audit entries: %+v", got)
	}

	// The tenant comes from the token and nowhere else.
	hints := []struct {
		name    string
		query   string
		headers map[string]string
	}{
		{"X-Tenant header", "", map[string]string{"X-Tenant": "bravo"}},
		{"X-Tenant-Id header", "", map[string]string{"X-Tenant-Id": "bravo", "X-Forwarded-Host": "bravo.edugrid.test"}},
		{"tenant query", "?tenant=bravo", nil},
		{"tenant and db query", "?tenant=bravo&db=edu_bravo", nil},
	}
	for _, h := range hints {
		t.Run(h.name, func(t *testing.T) {
			rec := do(env, "GET", "/users/branches"+h.query, alpha.owner, "", nil, h.headers)
			apptest.MustStatus(t, rec, http.StatusOK)
			var ids []string
			for _, b := range apptest.Decode[page[branch]](t, rec).Items {
				ids = append(ids, b.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, sorted(alpha.a.ID, alpha.b.ID)) {
				t.Errorf("lists %v, want alpha's branches", ids)
			}
			q := "?tenant=bravo"
			if h.query == "" {
				q = ""
			}
			rec = do(env, "GET", "/users/branches/"+bravo.a.ID+q, alpha.owner, "", nil, h.headers)
			apptest.MustProblem(t, rec, http.StatusNotFound, "not_found")
			rec = do(env, "GET", "/users/staff/"+bravo.teachA.ID+q, alpha.owner, "", nil, h.headers)
			apptest.MustProblem(t, rec, http.StatusNotFound, "not_found")
		})
	}
}

// Bodies land only in typed structs, whole, and within bounds; nothing a client sends becomes a query.
func TestStrictInput(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	owner := env.Login("alpha", ten.OwnerEmail).AccessToken
	a := createBranch(t, env, owner, "NORTH")
	teacher := createStaff(t, env, owner, "teacher@alpha.test", "teacher", a.ID)
	count := func() int { return len(branchIDs(t, env, owner)) }

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        string
		field       string
	}{
		{"operator instead of name", "POST", "/users/branches", "application/json", `{"code":"EAST","name":{"$ne":null}}`, 400, "invalid", "name"},
		{"operator instead of code", "POST", "/users/branches", "application/json", `{"code":{"$gt":""},"name":"East"}`, 400, "invalid", "code"},
		{"unknown field", "POST", "/users/branches", "application/json", `{"code":"EAST","name":"East","$where":"1"}`, 400, "invalid", "$where"},
		{"trailing JSON", "POST", "/users/branches", "application/json", `{"code":"EAST","name":"East"} {"code":"WEST","name":"West"}`, 400, "invalid", ""},
		{"trailing garbage", "POST", "/users/branches", "application/json", `{"code":"EAST","name":"East"}x`, 400, "invalid", ""},
		{"array", "POST", "/users/branches", "application/json", `[{"code":"EAST","name":"East"}]`, 400, "invalid", ""},
		{"empty body", "POST", "/users/branches", "application/json", ``, 400, "invalid", ""},
		{"text/plain", "POST", "/users/branches", "text/plain", `{"code":"EAST","name":"East"}`, 415, "unsupported_media_type", ""},
		{"form", "POST", "/users/branches", "application/x-www-form-urlencoded", `code=EAST&name=East`, 415, "unsupported_media_type", ""},
		{"over 1 MiB", "POST", "/users/branches", "application/json", `{"code":"EAST","name":"East","address":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "payload_too_large", ""},
		{"operator in a branch change", "PATCH", "/users/branches/" + a.ID, "application/json", `{"name":{"$set":{"active":false}}}`, 400, "invalid", "name"},
		{"operator instead of role", "PATCH", "/users/staff/" + teacher.ID, "application/json", `{"role":{"$ne":null}}`, 400, "invalid", "role"},
		{"operator in branches", "PATCH", "/users/staff/" + teacher.ID, "application/json", `{"branches":{"$exists":true}}`, 400, "invalid", "branches"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count()
			rec := do(env, tc.method, tc.path, owner, tc.contentType, strings.NewReader(tc.body), nil)
			p := apptest.MustProblem(t, rec, tc.status, tc.code)
			if tc.field != "" {
				if _, ok := p.Fields[tc.field]; !ok {
					t.Errorf("errors = %v, want field %q named", p.Errors, tc.field)
				}
			}
			if after := count(); after != before {
				t.Errorf("branches %d -> %d: a refused request wrote", before, after)
			}
		})
	}
	// Refused changes changed nothing.
	if got := getJSON[branch](t, env, "/users/branches/"+a.ID, owner); got != a {
		t.Errorf("branch = %+v, want %+v", got, a)
	}
	if got := getJSON[staff](t, env, "/users/staff/"+teacher.ID, owner); got.Role != "teacher" || !slices.Equal(got.Branches, []string{a.ID}) {
		t.Errorf("teacher = %+v", got)
	}
	// A charset parameter and the +json suffix are still JSON.
	rec := do(env, "POST", "/users/branches", owner, "application/json; charset=utf-8", strings.NewReader(`{"code":"EAST","name":"East"}`), nil)
	apptest.MustStatus(t, rec, http.StatusCreated)
}

func TestStaffChangeEndsSessions(t *testing.T) {
	env := apptest.New(t)
	o := newOrg(t, env, "alpha")
	teacherLogin := func() apptest.TokenPair { t.Helper(); return env.Login("alpha", o.teachA.Email) }
	me := func(tok string) map[string]any { t.Helper(); return getJSON[map[string]any](t, env, "/auth/me", tok) }
	patch := func(id string, body any) *httptest.ResponseRecorder {
		t.Helper()
		return env.Do("PATCH", "/users/staff/"+id, o.owner, body)
	}

	old := teacherLogin()
	apptest.MustStatus(t, env.Do("GET", "/users/branches", old.AccessToken, nil), http.StatusOK) // warm the account state cache

	// A name or phone change keeps the person's scope, so it keeps their sessions.
	rec := patch(o.teachA.ID, map[string]string{"name": "Renamed Teacher", "phone": "+91 1"})
	apptest.MustStatus(t, rec, http.StatusOK)
	if got := apptest.Decode[staff](t, rec); got.Name != "Renamed Teacher" || got.Role != "teacher" {
		t.Errorf("patched = %+v", got)
	}
	apptest.MustStatus(t, env.Do("GET", "/users/branches", old.AccessToken, nil), http.StatusOK)

	// A role change ends them at once on this instance: the old token still says "teacher".
	rec = patch(o.teachA.ID, map[string]string{"role": "branch_admin"})
	apptest.MustStatus(t, rec, http.StatusOK)
	if got := apptest.Decode[staff](t, rec); got.Role != "branch_admin" {
		t.Errorf("patched = %+v", got)
	}
	apptest.MustProblem(t, env.Do("GET", "/users/branches", old.AccessToken, nil), http.StatusUnauthorized, "unauthenticated")
	apptest.MustProblem(t, env.Do("POST", "/auth/refresh", "", map[string]string{"refresh_token": old.RefreshToken}), http.StatusUnauthorized, "unauthenticated")
	promoted := teacherLogin()
	if got := me(promoted.AccessToken); got["role"] != "branch_admin" {
		t.Errorf("me after promotion = %v", got)
	}
	apptest.MustStatus(t, env.Do("GET", "/users/staff", promoted.AccessToken, nil), http.StatusOK) // the new role's permission

	// So does a change of branches: the new scope must be in the next token.
	rec = patch(o.teachA.ID, map[string]any{"branches": []string{o.a.ID, o.b.ID}})
	apptest.MustStatus(t, rec, http.StatusOK)
	apptest.MustProblem(t, env.Do("GET", "/users/branches", promoted.AccessToken, nil), http.StatusUnauthorized, "unauthenticated")
	wider := teacherLogin()
	if got := branchIDs(t, env, wider.AccessToken); !slices.Equal(got, sorted(o.a.ID, o.b.ID)) {
		t.Errorf("after the branch change the person sees %v", got)
	}

	// And disabling: the person can neither use old tokens nor sign in, until enabled again.
	apptest.MustStatus(t, patch(o.teachA.ID, map[string]string{"status": "disabled"}), http.StatusOK)
	apptest.MustProblem(t, env.Do("GET", "/users/branches", wider.AccessToken, nil), http.StatusUnauthorized, "unauthenticated")
	apptest.MustProblem(t, env.Do("POST", "/auth/login", "", map[string]string{"tenant": "alpha", "email": o.teachA.Email, "password": apptest.Password}),
		http.StatusUnauthorized, "unauthenticated")
	apptest.MustStatus(t, patch(o.teachA.ID, map[string]string{"status": "active"}), http.StatusOK)
	teacherLogin()

	apptest.MustProblem(t, patch(o.teachA.ID, map[string]string{"status": "on_leave"}), http.StatusBadRequest, "invalid")
	apptest.MustProblem(t, patch(o.teachA.ID, map[string]string{"role": "student"}), http.StatusBadRequest, "invalid")
	apptest.MustProblem(t, patch(o.teachA.ID, map[string]any{"branches": []string{missingID}}), http.StatusBadRequest, "invalid")

	t.Run("own role", func(t *testing.T) {
		// An owner demoting themselves could leave the institution without an owner.
		for _, body := range []any{map[string]string{"role": "teacher"}, map[string]string{"status": "disabled"}, map[string]any{"branches": []string{o.a.ID}}} {
			apptest.MustProblem(t, patch(o.ten.OwnerID, body), http.StatusForbidden, "forbidden")
		}
		if got := me(o.owner); got["role"] != "owner" {
			t.Errorf("owner's me = %v", got)
		}
		apptest.MustStatus(t, patch(o.ten.OwnerID, map[string]string{"name": "The Owner"}), http.StatusOK)
		apptest.MustStatus(t, env.Do("GET", "/users/branches", o.owner, nil), http.StatusOK) // and stays signed in
	})
	t.Run("branch admin may not promote beyond their grant", func(t *testing.T) {
		apptest.MustProblem(t, env.Do("PATCH", "/users/staff/"+o.adminA.ID, o.adminAToken, map[string]string{"role": "teacher"}), http.StatusForbidden, "forbidden")
		t2 := createStaff(t, env, o.owner, "t2@alpha.test", "teacher", o.a.ID)
		apptest.MustProblem(t, env.Do("PATCH", "/users/staff/"+t2.ID, o.adminAToken, map[string]string{"role": "accountant"}), http.StatusForbidden, "forbidden")
		rec := env.Do("PATCH", "/users/staff/"+t2.ID, o.adminAToken, map[string]string{"role": "branch_admin"})
		apptest.MustStatus(t, rec, http.StatusOK)
	})
}

func TestStaffPagination(t *testing.T) {
	env := apptest.New(t)
	ten := env.Provision("alpha")
	owner := env.Login("alpha", ten.OwnerEmail).AccessToken
	a := createBranch(t, env, owner, "NORTH")
	want := []string{ten.OwnerID}
	for i := range 6 {
		role, branches := "teacher", []string{a.ID}
		if i%3 == 0 {
			role, branches = "accountant", nil
		}
		want = append(want, createStaff(t, env, owner, fmt.Sprintf("staff%d@alpha.test", i), role, branches...).ID)
	}

	var seen []string
	cursor, pages := "", 0
	for {
		path := "/users/staff?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		p := getJSON[page[staff]](t, env, path, owner)
		if len(p.Items) > 2 {
			t.Fatalf("page of %d with limit=2", len(p.Items))
		}
		for _, s := range p.Items {
			if slices.Contains(seen, s.ID) {
				t.Fatalf("%s listed twice", s.ID)
			}
			seen = append(seen, s.ID)
		}
		pages++
		if p.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatalf("no end of pages; seen %v", seen)
		}
		cursor = p.NextCursor
	}
	// Oldest first: ids sort by creation.
	if !slices.Equal(seen, want) {
		t.Errorf("walked %v, want %v", seen, want)
	}
	if pages != 4 {
		t.Errorf("%d pages for 7 staff at limit=2, want 4", pages)
	}
	for _, q := range []string{"limit=0", "limit=two", "cursor=bogus"} {
		apptest.MustProblem(t, env.Do("GET", "/users/staff?"+q, owner, nil), http.StatusBadRequest, "invalid")
	}
}

func TestStaffAudit(t *testing.T) {
	env := apptest.New(t)
	o := newOrg(t, env, "alpha")
	apptest.MustStatus(t, env.Do("PATCH", "/users/staff/"+o.teachA.ID, o.owner, map[string]string{"name": "Renamed"}), http.StatusOK)

	entries := auditOf(t, env, "/users/audit?kind=user&id="+o.teachA.ID, o.owner)
	if len(entries) != 2 {
		t.Fatalf("entries = %+v, want created and updated", entries)
	}
	created := entries[0]
	if created.Action != "users.staff.created" || created.Actor.ID != o.ten.OwnerID || created.Actor.Role != "owner" ||
		created.Target.Kind != "user" || created.Target.ID != o.teachA.ID || !strings.Contains(string(created.Details), o.teachA.PRN) {
		t.Errorf("created entry = %+v", created)
	}
	if entries[1].Action != "users.staff.updated" || entries[1].Seq <= created.Seq {
		t.Errorf("updated entry = %+v", entries[1])
	}
	// Paging continues after a sequence number.
	if rest := auditOf(t, env, fmt.Sprintf("/users/audit?kind=user&id=%s&after=%d", o.teachA.ID, created.Seq), o.owner); len(rest) != 1 || rest[0].Seq != entries[1].Seq {
		t.Errorf("after %d: %+v", created.Seq, rest)
	}
	if got := auditOf(t, env, "/users/audit?kind=branch&id="+o.a.ID, o.owner); len(got) != 1 || got[0].Action != "users.branch.created" {
		t.Errorf("branch audit = %+v", got)
	}

	rep := getJSON[auditReport](t, env, "/users/audit/verify", o.owner)
	// provisioning, two branches, three staff, one change
	if !rep.OK || rep.Entries != 7 {
		t.Errorf("verify = %+v, want ok with 7 entries", rep)
	}

	// Details are the recorded object, not its JSON in a string.
	if len(created.Details) == 0 || created.Details[0] != '{' {
		t.Errorf("details = %s, want a JSON object", created.Details)
	}
	// Pages of one entry, by cursor.
	first := apptest.Call[apptest.Page[auditEntry]](t, env, "GET", "/users/audit?limit=1&kind=user&id="+o.teachA.ID, o.owner, nil, http.StatusOK)
	if len(first.Items) != 1 || first.Items[0].Seq != created.Seq || first.NextCursor == "" {
		t.Fatalf("first page = %+v", first)
	}
	second := apptest.Call[apptest.Page[auditEntry]](t, env, "GET", "/users/audit?limit=1&kind=user&id="+o.teachA.ID+"&cursor="+first.NextCursor, o.owner, nil, http.StatusOK)
	if len(second.Items) != 1 || second.Items[0].Seq != entries[1].Seq || second.NextCursor != "" {
		t.Fatalf("second page = %+v", second)
	}

	tests := []struct {
		query  string
		fields map[string]string // field -> code
	}{
		{"", map[string]string{"kind": "required", "id": "required"}},
		{"?kind=user", map[string]string{"id": "required"}},
		{"?id=" + o.teachA.ID, map[string]string{"kind": "required"}},
		{"?kind=invoice&id=" + o.teachA.ID, map[string]string{"kind": "not_allowed"}},
		{"?kind=invoice&after=x", map[string]string{"kind": "not_allowed", "id": "required", "after": "format"}},
		{"?kind=user&id=" + o.teachA.ID + "&after=-1", map[string]string{"after": "format"}},
		{"?kind=user&id=" + o.teachA.ID + "&after=x", map[string]string{"after": "format"}},
		{"?kind=user&id=" + o.teachA.ID + "&after=5x", map[string]string{"after": "format"}},
		{"?kind=user&id=" + o.teachA.ID + "&limit=0", map[string]string{"limit": "out_of_range"}},
		{"?kind=user&id=" + o.teachA.ID + "&limit=201", map[string]string{"limit": "out_of_range"}},
		{"?kind=user&id=" + o.teachA.ID + "&cursor=djE6eA", map[string]string{"cursor": "format"}}, // "v1:x"
	}
	for _, tt := range tests {
		p := apptest.MustProblem(t, env.Do("GET", "/users/audit"+tt.query, o.owner, nil), http.StatusBadRequest, "invalid")
		if len(p.Errors) != len(tt.fields) {
			t.Errorf("%q: errors %+v, want %v", tt.query, p.Errors, tt.fields)
		}
		for f, code := range tt.fields {
			if p.FieldCode(f) != code {
				t.Errorf("%q: errors %+v, want %s %s", tt.query, p.Errors, f, code)
			}
		}
	}
	for name, tok := range map[string]string{"teacher": o.teachAToken, "branch admin": o.adminAToken} {
		for _, path := range []string{"/users/audit?kind=user&id=" + o.teachA.ID, "/users/audit/verify"} {
			if rec := env.Do("GET", path, tok, nil); rec.Code != http.StatusForbidden {
				t.Errorf("%s GET %s: %d, want 403", name, path, rec.Code)
			}
		}
	}
}
