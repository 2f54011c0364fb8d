package prnum

import (
	"testing"

	"github.com/edugrid/edugrid/shared/apperr"
)

// FuzzNewParse formats arbitrary parts and reads them back: New either refuses them with an Invalid error
// or yields a PRN that Parse accepts in both printed forms and that carries exactly the parts it was built
// from. Together with FuzzParse (anything Parse accepts re-formats to itself) this pins Parse and New as
// inverses. Run it longer with: go test ./shared/prnum -run '^$' -fuzz '^FuzzNewParse$' -fuzztime 1m
func FuzzNewParse(f *testing.F) {
	f.Add(1, 9, 2026, 1)
	f.Add(9999, 1, 99, 999999)
	f.Add(42, 3, 0, 500000)
	f.Add(0, 9, 2026, 1)
	f.Add(1, 6, 2026, 1)
	f.Add(1, 9, 100, 1)
	f.Add(1, 9, 2026, 0)
	f.Add(10000, 9, 2026, 1000000)
	f.Add(-1, -9, -2026, -1)
	f.Fuzz(func(t *testing.T, tenant, role, year, seq int) {
		p, err := New(tenant, Role(role), year, seq)
		if err != nil {
			if e := apperr.As(err); e == nil || e.Code != apperr.Invalid || len(e.Fields) != 1 {
				t.Fatalf("New(%d, %d, %d, %d) error %v is not an Invalid *apperr.Error naming one field", tenant, role, year, seq, err)
			}
			return
		}
		if tenant < 1 || tenant > maxTenant || !Role(role).Valid() || seq < 1 || seq > maxSeq {
			t.Fatalf("New(%d, %d, %d, %d) accepted out-of-range parts as %q", tenant, role, year, seq, p)
		}
		for _, s := range []string{p.String(), p.Display()} {
			got, err := Parse(s)
			if err != nil || got != p {
				t.Fatalf("New(%d, %d, %d, %d) = %q, but Parse(%q) = %q, %v", tenant, role, year, seq, p, s, got, err)
			}
		}
		if p.Tenant() != tenant || int(p.Role()) != role || p.Year() != year%100 || p.Seq() != seq {
			t.Fatalf("New(%d, %d, %d, %d) = %q with parts %d/%d/%d/%d", tenant, role, year, seq, p, p.Tenant(), p.Role(), p.Year(), p.Seq())
		}
	})
}
