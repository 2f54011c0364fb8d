// Package seed fills a fresh edugrid with a demo institution, so the local stack has something to show and
// its tests something to sign in to. Seeding is idempotent: it does nothing for a tenant that exists.
package seed

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// DemoSlug is the demo tenant's slug.
const DemoSlug = "demo"

// Login is one seeded sign-in, printed by the local stack.
type Login struct {
	Role  rbac.Role
	Email string
	PRN   string
}

// Demo provisions the demo tenant with two branches and one staff member of each role, all with
// password. It reports the logins and whether it created anything.
func Demo(ctx context.Context, a *app.App, password string) ([]Login, bool, error) {
	if _, err := a.Registry.Load(ctx, DemoSlug); err == nil {
		logins, err := existingLogins(ctx, a)
		return logins, false, err
	} else if apperr.CodeOf(err) != apperr.NotFound {
		return nil, false, err
	}
	a.Logger.Info("seeding the demo institution", slog.String("tenant", DemoSlug))
	system := rbac.Principal{Subject: "seed", Role: rbac.PlatformAdmin}
	svcs := all.Build(a, all.Options{})
	prov, err := svcs.Platform.Provision(ctx, system, platform.ProvisionRequest{
		Slug: DemoSlug, Name: "Demo Coaching Institute",
		Branding: &tenant.Branding{DisplayName: "Demo Coaching Institute", PrimaryColor: "#1a73e8"},
		Owner:    platform.OwnerInput{Name: "Olivia Owner", Email: "owner@demo.test", Password: password},
	})
	if err != nil {
		return nil, false, fmt.Errorf("seed demo tenant: %w", err)
	}
	t := prov.Tenant
	db, release, err := a.Databases.Open(ctx, &t)
	if err != nil {
		return nil, false, err
	}
	defer release()
	owner := rbac.Principal{Subject: prov.Owner.ID, Tenant: t.Slug, Role: rbac.Owner}
	tctx := store.WithDatabase(tenant.WithTenant(rbac.WithPrincipal(ctx, owner), &t), db)

	svc := svcs.Users
	main, err := svc.CreateBranch(tctx, users.NewBranch{Code: "MAIN", Name: "Main Campus", Address: "1 College Road"})
	if err != nil {
		return nil, false, fmt.Errorf("seed branch: %w", err)
	}
	north, err := svc.CreateBranch(tctx, users.NewBranch{Code: "NORTH", Name: "North Centre", Address: "42 Lake View"})
	if err != nil {
		return nil, false, fmt.Errorf("seed branch: %w", err)
	}
	staff := []users.NewStaff{
		{Email: "admin.main@demo.test", Name: "Arjun Admin", Role: rbac.BranchAdmin, Branches: []string{main.ID}},
		{Email: "teacher.main@demo.test", Name: "Tara Teacher", Role: rbac.Teacher, Branches: []string{main.ID}},
		{Email: "teacher.north@demo.test", Name: "Nikhil Teacher", Role: rbac.Teacher, Branches: []string{north.ID}},
		{Email: "accounts@demo.test", Name: "Asha Accountant", Role: rbac.Accountant},
		{Email: "counsellor@demo.test", Name: "Kabir Counsellor", Role: rbac.Counsellor},
	}
	for _, s := range staff {
		s.Password = password
		if _, err := svc.CreateStaff(tctx, s); err != nil {
			return nil, false, fmt.Errorf("seed staff %s: %w", s.Email, err)
		}
	}
	if err := seedStudents(tctx, a, svcs, password, main, north); err != nil {
		return nil, false, err
	}
	if err := seedAttendance(tctx, a); err != nil {
		return nil, false, err
	}
	if err := seedFees(tctx, svcs); err != nil {
		return nil, false, err
	}
	if err := seedLeads(tctx, a, password, main, north); err != nil {
		return nil, false, err
	}
	if err := seedExams(tctx, a, svcs); err != nil {
		return nil, false, err
	}
	if err := seedLearning(tctx, a, svcs); err != nil {
		return nil, false, err
	}
	logins, err := existingLogins(ctx, a)
	return logins, true, err
}

func existingLogins(ctx context.Context, a *app.App) ([]Login, error) {
	t, err := a.Registry.Load(ctx, DemoSlug)
	if err != nil {
		return nil, err
	}
	db, release, err := a.Databases.Open(ctx, t)
	if err != nil {
		return nil, err
	}
	defer release()
	var out []Login
	for _, email := range []string{"owner@demo.test", "admin.main@demo.test", "teacher.main@demo.test", "teacher.north@demo.test", "accounts@demo.test", "counsellor@demo.test", demoStudentEmail, demoGuardianEmail} {
		u, err := account.ByEmail(ctx, db, email)
		if err != nil {
			continue
		}
		out = append(out, Login{Role: u.Role, Email: u.Email, PRN: u.PRN})
	}
	return out, nil
}
