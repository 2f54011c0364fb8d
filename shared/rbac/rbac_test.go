package rbac_test

import (
	"context"
	"slices"
	"testing"

	"github.com/edugrid/edugrid/shared/rbac"
)

var roles = []rbac.Role{rbac.PlatformAdmin, rbac.Owner, rbac.BranchAdmin, rbac.Teacher, rbac.Accountant, rbac.Counsellor, rbac.Guardian, rbac.Student}

// The expected grants, written out independently of the package's table: a change to who may do what
// must change this test too.
var wantGrants = map[rbac.Role][]rbac.Permission{
	rbac.PlatformAdmin: {rbac.PlatformTenants},
	rbac.Owner:         {rbac.BranchesRead, rbac.BranchesWrite, rbac.StaffRead, rbac.StaffWrite, rbac.AuditRead, rbac.CoursesRead, rbac.CoursesWrite, rbac.BatchesRead, rbac.BatchesWrite, rbac.SessionsWrite, rbac.StudentsRead, rbac.StudentsWrite, rbac.EnrolmentsWrite, rbac.AttendanceWrite, rbac.AttendanceRead, rbac.AttendanceStudentsRead, rbac.FeesRead, rbac.FeePlansRead, rbac.FeePlansWrite, rbac.FeesAssign, rbac.ConcessionsApprove, rbac.PaymentsWrite, rbac.RefundsWrite, rbac.AnalyticsRead, rbac.ExamsWrite, rbac.ExamsRead, rbac.GradingWrite, rbac.ReportCardsRead, rbac.LeadsRead, rbac.LeadsWrite, rbac.LeadsAssign, rbac.LeadsConvert, rbac.LearningContentWrite, rbac.LearningProgressRead, rbac.NotificationsRead, rbac.NotificationsWrite, rbac.GatewaysWrite, rbac.GatewaysRead, rbac.PaymentRequestsWrite, rbac.PaymentRequestsSend, rbac.PaymentReviewsWrite},
	rbac.BranchAdmin:   {rbac.BranchesRead, rbac.StaffRead, rbac.StaffWrite, rbac.CoursesRead, rbac.CoursesWrite, rbac.BatchesRead, rbac.BatchesWrite, rbac.SessionsWrite, rbac.StudentsRead, rbac.StudentsWrite, rbac.EnrolmentsWrite, rbac.AttendanceWrite, rbac.AttendanceRead, rbac.AttendanceStudentsRead, rbac.FeesRead, rbac.FeePlansRead, rbac.FeesAssign, rbac.PaymentsWrite, rbac.AnalyticsRead, rbac.ExamsWrite, rbac.ExamsRead, rbac.ReportCardsRead, rbac.LeadsRead, rbac.LeadsWrite, rbac.LeadsAssign, rbac.LeadsConvert, rbac.LearningContentWrite, rbac.LearningProgressRead, rbac.PaymentRequestsWrite, rbac.PaymentRequestsSend},
	rbac.Accountant:    {rbac.BranchesRead, rbac.StaffRead, rbac.CoursesRead, rbac.BatchesRead, rbac.StudentsRead, rbac.AttendanceRead, rbac.AttendanceStudentsRead, rbac.FeesRead, rbac.FeePlansRead, rbac.FeePlansWrite, rbac.FeesAssign, rbac.ConcessionsApprove, rbac.PaymentsWrite, rbac.RefundsWrite, rbac.NotificationsRead, rbac.GatewaysRead, rbac.PaymentRequestsWrite, rbac.PaymentRequestsSend, rbac.PaymentReviewsWrite},
	rbac.Counsellor:    {rbac.BranchesRead, rbac.CoursesRead, rbac.BatchesRead, rbac.StudentsRead, rbac.StudentsWrite, rbac.EnrolmentsWrite, rbac.AttendanceRead, rbac.AttendanceStudentsRead, rbac.FeesRead, rbac.FeePlansRead, rbac.FeesAssign, rbac.ExamsRead, rbac.ReportCardsRead, rbac.LeadsRead, rbac.LeadsWrite, rbac.LeadsConvert, rbac.LearningProgressRead},
	rbac.Teacher:       {rbac.BranchesRead, rbac.CoursesRead, rbac.BatchesRead, rbac.SessionsWrite, rbac.StudentsRead, rbac.AttendanceWrite, rbac.AttendanceRead, rbac.AttendanceStudentsRead, rbac.ExamsWrite, rbac.ExamsRead, rbac.ReportCardsRead, rbac.LearningContentWrite, rbac.LearningProgressRead},
	rbac.Guardian:      {rbac.StudentsRead, rbac.AttendanceStudentsRead, rbac.FeesRead, rbac.ReportCardsRead, rbac.LearningProgressRead, rbac.PaymentRequestsWrite},
	rbac.Student:       {rbac.StudentsRead, rbac.AttendanceStudentsRead, rbac.FeesRead, rbac.ReportCardsRead, rbac.LearningStudy, rbac.LearningProgressRead, rbac.PaymentRequestsWrite},
}

var guarded = []rbac.Permission{rbac.PlatformTenants, rbac.BranchesRead, rbac.BranchesWrite, rbac.StaffRead, rbac.StaffWrite, rbac.AuditRead,
	rbac.CoursesRead, rbac.CoursesWrite, rbac.BatchesRead, rbac.BatchesWrite, rbac.SessionsWrite, rbac.StudentsRead, rbac.StudentsWrite, rbac.EnrolmentsWrite,
	rbac.AttendanceWrite, rbac.AttendanceRead, rbac.AttendanceStudentsRead,
	rbac.FeesRead, rbac.FeePlansRead, rbac.FeePlansWrite, rbac.FeesAssign, rbac.ConcessionsApprove, rbac.PaymentsWrite, rbac.RefundsWrite,
	rbac.AnalyticsRead,
	rbac.LearningContentWrite, rbac.LearningStudy, rbac.LearningProgressRead,
	rbac.ExamsWrite, rbac.ExamsRead, rbac.GradingWrite, rbac.ReportCardsRead,
	rbac.LeadsRead, rbac.LeadsWrite, rbac.LeadsAssign, rbac.LeadsConvert,
	rbac.NotificationsRead, rbac.NotificationsWrite,
	rbac.GatewaysWrite, rbac.GatewaysRead, rbac.PaymentRequestsWrite, rbac.PaymentRequestsSend, rbac.PaymentReviewsWrite}

func TestAllowed(t *testing.T) {
	for _, r := range roles {
		for _, p := range guarded {
			if got, want := rbac.Allowed(r, p), slices.Contains(wantGrants[r], p); got != want {
				t.Errorf("Allowed(%s, %s) = %v, want %v", r, p, got, want)
			}
		}
		for _, p := range []rbac.Permission{rbac.Public, rbac.Self} {
			if !rbac.Allowed(r, p) {
				t.Errorf("Allowed(%s, %s) = false; every valid role holds it", r, p)
			}
		}
		if rbac.Allowed(r, "branches.delete") {
			t.Errorf("%s holds an undeclared permission", r)
		}
	}
	// A role the code does not know (a typo in a stored document, a forged claim) holds nothing at all.
	for _, r := range []rbac.Role{"", "superuser", "Owner", "owner "} {
		for _, p := range append([]rbac.Permission{rbac.Public, rbac.Self}, guarded...) {
			if rbac.Allowed(r, p) {
				t.Errorf("unknown role %q holds %s", r, p)
			}
		}
	}
}

func TestRoleLevels(t *testing.T) {
	want := map[rbac.Role]rbac.Level{
		rbac.PlatformAdmin: rbac.LevelPlatform,
		rbac.Owner:         rbac.LevelTenant, rbac.Accountant: rbac.LevelTenant, rbac.Counsellor: rbac.LevelTenant,
		rbac.BranchAdmin: rbac.LevelBranch, rbac.Teacher: rbac.LevelBranch,
		rbac.Guardian: rbac.LevelSelf, rbac.Student: rbac.LevelSelf,
		"": rbac.LevelNone, "superuser": rbac.LevelNone,
	}
	for r, l := range want {
		if r.Level() != l {
			t.Errorf("%q.Level() = %d, want %d", r, r.Level(), l)
		}
		if r.Valid() != (l != rbac.LevelNone) {
			t.Errorf("%q.Valid() = %v", r, r.Valid())
		}
		if staff := l == rbac.LevelTenant || l == rbac.LevelBranch; r.Staff() != staff {
			t.Errorf("%q.Staff() = %v, want %v", r, r.Staff(), staff)
		}
	}
}

// The document's enum of roles is the set Valid accepts: every listed role has a level, and every role
// with a level is listed.
func TestRoleValuesAreTheValidRoles(t *testing.T) {
	values := rbac.Role("").Values()
	if len(values) != 8 {
		t.Errorf("Values() = %v, want the 8 roles", values)
	}
	for _, v := range values {
		if r := rbac.Role(v); !r.Valid() || r.Level() == rbac.LevelNone {
			t.Errorf("listed role %q: Valid %v, level %d", v, r.Valid(), r.Level())
		}
	}
}

func TestCanSeeBranch(t *testing.T) {
	tests := []struct {
		p    rbac.Principal
		id   string
		want bool
	}{
		{rbac.Principal{Role: rbac.Owner}, "b1", true},
		{rbac.Principal{Role: rbac.Accountant}, "b9", true},
		{rbac.Principal{Role: rbac.Counsellor, Branches: []string{"b1"}}, "b2", true}, // scope ignored at tenant level
		{rbac.Principal{Role: rbac.Teacher, Branches: []string{"b1", "b2"}}, "b2", true},
		{rbac.Principal{Role: rbac.Teacher, Branches: []string{"b1"}}, "b2", false},
		{rbac.Principal{Role: rbac.Teacher}, "b1", false},
		{rbac.Principal{Role: rbac.Teacher, Branches: []string{"b1"}}, "", false},
		{rbac.Principal{Role: rbac.BranchAdmin, Branches: []string{"b1"}}, "b1", true},
		{rbac.Principal{Role: rbac.BranchAdmin, Branches: []string{"b1"}}, "B1", false},
		{rbac.Principal{Role: rbac.Student, Branches: []string{"b1"}}, "b1", false},
		{rbac.Principal{Role: rbac.Guardian, Branches: []string{"b1"}}, "b1", false},
		{rbac.Principal{Role: rbac.PlatformAdmin}, "b1", false},
		{rbac.Principal{Role: "superuser", Branches: []string{"b1"}}, "b1", false},
	}
	for _, tc := range tests {
		if got := tc.p.CanSeeBranch(tc.id); got != tc.want {
			t.Errorf("%s %v CanSeeBranch(%q) = %v, want %v", tc.p.Role, tc.p.Branches, tc.id, got, tc.want)
		}
	}
}

func TestCanGrant(t *testing.T) {
	owner := rbac.Principal{Role: rbac.Owner}
	branchAdmin := rbac.Principal{Role: rbac.BranchAdmin, Branches: []string{"b1", "b2"}}
	b1 := []string{"b1"}
	tests := []struct {
		name     string
		p        rbac.Principal
		r        rbac.Role
		branches []string
		want     bool
	}{
		{"owner gives owner", owner, rbac.Owner, nil, true},
		{"owner gives accountant", owner, rbac.Accountant, nil, true},
		{"owner gives counsellor", owner, rbac.Counsellor, nil, true},
		{"owner gives branch admin", owner, rbac.BranchAdmin, b1, true},
		{"owner gives teacher", owner, rbac.Teacher, []string{"b7"}, true},
		{"owner gives student", owner, rbac.Student, nil, false},
		{"owner gives guardian", owner, rbac.Guardian, nil, false},
		{"owner gives platform admin", owner, rbac.PlatformAdmin, nil, false},
		{"owner gives unknown role", owner, "superuser", nil, false},
		{"branch admin gives teacher in scope", branchAdmin, rbac.Teacher, b1, true},
		{"branch admin gives branch admin in scope", branchAdmin, rbac.BranchAdmin, []string{"b1", "b2"}, true},
		{"branch admin gives teacher partly out of scope", branchAdmin, rbac.Teacher, []string{"b1", "b3"}, false},
		{"branch admin gives teacher out of scope", branchAdmin, rbac.Teacher, []string{"b3"}, false},
		// No branches would make a branch-level role that sees nothing, or worse, be read as "all".
		{"branch admin gives teacher no branches", branchAdmin, rbac.Teacher, nil, false},
		{"branch admin gives owner", branchAdmin, rbac.Owner, b1, false},
		{"branch admin gives accountant", branchAdmin, rbac.Accountant, b1, false},
		{"branch admin gives counsellor", branchAdmin, rbac.Counsellor, b1, false},
		{"branch admin gives student", branchAdmin, rbac.Student, b1, false},
		{"branch admin gives guardian", branchAdmin, rbac.Guardian, b1, false},
		{"branch admin gives platform admin", branchAdmin, rbac.PlatformAdmin, b1, false},
		{"teacher gives teacher", rbac.Principal{Role: rbac.Teacher, Branches: b1}, rbac.Teacher, b1, false},
		{"accountant gives accountant", rbac.Principal{Role: rbac.Accountant}, rbac.Accountant, nil, false},
		{"counsellor gives teacher", rbac.Principal{Role: rbac.Counsellor}, rbac.Teacher, b1, false},
		{"platform admin gives owner", rbac.Principal{Role: rbac.PlatformAdmin}, rbac.Owner, nil, false},
		{"student gives teacher", rbac.Principal{Role: rbac.Student}, rbac.Teacher, b1, false},
	}
	for _, tc := range tests {
		if got := tc.p.CanGrant(tc.r, tc.branches); got != tc.want {
			t.Errorf("%s: CanGrant = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPermissions(t *testing.T) {
	got := rbac.Permissions()
	if !slices.IsSorted(got) {
		t.Errorf("not sorted: %v", got)
	}
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("duplicates: %v", got)
	}
	want := slices.Clone(guarded)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Permissions() = %v, want %v", got, want)
	}
	// Callers may sort or append to the result; the next caller must not see it.
	got[0] = "tampered"
	if rbac.Permissions()[0] == "tampered" {
		t.Error("Permissions returns shared state")
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := rbac.FromContext(context.Background()); ok {
		t.Error("principal in an empty context")
	}
	p := rbac.Principal{Subject: "u1", Tenant: "acme", Role: rbac.Teacher, Branches: []string{"b1"}}
	ctx := rbac.WithPrincipal(context.Background(), p)
	if got, ok := rbac.FromContext(ctx); !ok || got.Subject != "u1" || got.Role != rbac.Teacher {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
	if got := rbac.Must(ctx); got.Tenant != "acme" {
		t.Errorf("Must = %+v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Must without a principal did not panic")
		}
	}()
	rbac.Must(context.Background())
}
