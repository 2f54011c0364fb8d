package analytics_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/shared/warehouse"
)

type feeBranch struct {
	BranchID    string `json:"branch_id"`
	Due         int64  `json:"due"`
	Collected   int64  `json:"collected"`
	Outstanding int64  `json:"outstanding"`
}

type feeReport struct {
	Branches []feeBranch `json:"branches"`
}

// The stub answers both fee queries with the same rows (branch, day, amount, count), so collection shows
// due == collected; the numbers themselves are tested on DuckDB in internal/pipeline.
func TestFeeReportsBranchAdminAndTenant(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("POST", "/users/branches", f.owner, map[string]string{"code": "MAIN", "name": "Main"})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create branch: %d %s", rec.Code, rec.Body)
	}
	br := apptest.Decode[struct {
		ID string `json:"id"`
	}](t, rec)
	rec = f.env.Do("POST", "/users/staff", f.owner, map[string]any{"email": "ba@acme.test", "name": "BA", "role": "branch_admin", "branches": []string{br.ID}, "password": apptest.Password})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create branch admin: %d %s", rec.Code, rec.Body)
	}
	f.wh.rows = map[string][]warehouse.Row{
		"acme": {
			{br.ID, day("2026-05-10"), int64(500), int64(1)},
			{branchB, day("2026-05-12"), int64(700), int64(2)},
		},
		"rival": {{br.ID, day("2026-05-10"), int64(999999), int64(1)}},
	}
	ba := f.env.Login("acme", "ba@acme.test").AccessToken
	for _, path := range []string{"/analytics/fees/collection?window=month&from=2026-05-01&to=2026-05-31", "/analytics/fees/ageing?as_of=2026-06-01"} {
		rec = f.env.Do("GET", path, f.owner, nil)
		if rep := apptest.Decode[feeReport](t, rec); rec.Code != 200 || len(rep.Branches) != 2 || strings.Contains(rec.Body.String(), "999999") {
			t.Fatalf("owner %s: %d %s", path, rec.Code, rec.Body)
		}
		q := f.wh.last(t)
		if p := q.Params(); q.Tenant() != "acme" || p[0].Name != "tenant" || p[0].Value != "acme" {
			t.Fatalf("%s: query bound to %q with %+v", path, q.Tenant(), p)
		}
		rec = f.env.Do("GET", path, ba, nil)
		rep := apptest.Decode[feeReport](t, rec)
		if rec.Code != 200 || len(rep.Branches) != 1 || rep.Branches[0].BranchID != br.ID {
			t.Fatalf("branch admin %s: %d %s", path, rec.Code, rec.Body)
		}
		if b := rep.Branches[0]; b.Due+b.Collected+b.Outstanding == 0 {
			t.Fatalf("branch admin %s: nothing counted: %s", path, rec.Body)
		}
	}
}

func TestFeeReportRefusals(t *testing.T) {
	f := setup(t)
	rec := f.env.Do("POST", "/users/staff", f.owner, map[string]any{"email": "t@acme.test", "name": "T", "role": "accountant", "branches": []string{}, "password": apptest.Password})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create accountant: %d %s", rec.Code, rec.Body)
	}
	accountant := f.env.Login("acme", "t@acme.test").AccessToken
	for _, path := range []string{"/analytics/fees/collection", "/analytics/fees/ageing"} {
		apptest.MustProblem(t, f.env.Do("GET", path, accountant, nil), 403, "forbidden")
		apptest.MustProblem(t, f.env.Do("GET", path, "", nil), 401, "unauthenticated")
	}
	before := len(f.wh.queries)
	for _, q := range []string{"collection?window=year", "collection?from=2026-13-01", "collection?branch=x", "ageing?as_of=tomorrow", "ageing?branch=x"} {
		apptest.MustProblem(t, f.env.Do("GET", "/analytics/fees/"+q, f.owner, nil), 400, "invalid")
	}
	if len(f.wh.queries) != before {
		t.Fatal("a refused request queried the warehouse")
	}
}
