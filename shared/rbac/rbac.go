// Package rbac says who may do what.
//
// Roles sit at three levels: the platform (super admin, who runs edugrid itself), the tenant (owner,
// accountant, counsellor: every branch of one institution) and the branch (branch admin, teacher: only the
// branches listed in their scope). Students and guardians see only their own records.
//
// Every route declares one Permission in its area's route table; the HTTP layer refuses a caller whose role
// lacks it before the handler runs. Object-level checks ("is this batch in one of your branches?") are the
// area's job, through Principal.CanSeeBranch, and an object the caller may not see is reported as not found,
// never as forbidden, so its existence does not leak.
package rbac

import (
	"context"
	"slices"
)

// Role is a user's role. Stored in tokens and user documents; never rename one.
type Role string

// The roles.
const (
	PlatformAdmin Role = "platform_admin"
	Owner         Role = "owner"
	BranchAdmin   Role = "branch_admin"
	Teacher       Role = "teacher"
	Accountant    Role = "accountant"
	Counsellor    Role = "counsellor"
	Guardian      Role = "guardian"
	Student       Role = "student"
)

// roles lists every role: the institution's, its owner first, then the platform admin.
var roles = []Role{Owner, BranchAdmin, Teacher, Accountant, Counsellor, Guardian, Student, PlatformAdmin}

// Values lists every role, as the API document's enum of a role field (httpapi.Enum). Valid accepts
// exactly these.
func (Role) Values() []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// Level is where a role's authority applies.
type Level int

// The levels.
const (
	LevelNone     Level = iota
	LevelPlatform       // the whole deployment
	LevelTenant         // every branch of one tenant
	LevelBranch         // the branches in the principal's scope
	LevelSelf           // the principal's own records (students, guardians)
)

// Level returns the role's level; LevelNone for an unknown role.
func (r Role) Level() Level {
	switch r {
	case PlatformAdmin:
		return LevelPlatform
	case Owner, Accountant, Counsellor:
		return LevelTenant
	case BranchAdmin, Teacher:
		return LevelBranch
	case Guardian, Student:
		return LevelSelf
	}
	return LevelNone
}

// Valid reports whether r is a known role: one of Values.
func (r Role) Valid() bool { return slices.Contains(roles, r) }

// Staff reports whether r is a tenant staff role (one a user can be given in the users area).
func (r Role) Staff() bool { l := r.Level(); return l == LevelTenant || l == LevelBranch }

// Permission names an action a route performs.
type Permission string

// Permissions of the foundation areas. Later areas add theirs here, next to the grants table.
const (
	// Public routes need no token at all (login, branding, JWKS).
	Public Permission = "public"
	// Self routes need any valid token of the caller's own tenant (or platform) and act on the caller.
	Self Permission = "self"

	PlatformTenants Permission = "platform.tenants" // provision and manage tenants

	BranchesRead  Permission = "branches.read"
	BranchesWrite Permission = "branches.write"
	StaffRead     Permission = "staff.read"
	StaffWrite    Permission = "staff.write"
	AuditRead     Permission = "audit.read"

	// academic: courses, batches and their sessions.
	CoursesRead   Permission = "courses.read"
	CoursesWrite  Permission = "courses.write"
	BatchesRead   Permission = "batches.read"
	BatchesWrite  Permission = "batches.write"
	SessionsWrite Permission = "sessions.write" // extra sessions and cancellations

	// students: students, guardians and enrolments.
	StudentsRead    Permission = "students.read"
	StudentsWrite   Permission = "students.write"
	EnrolmentsWrite Permission = "enrolments.write"

	// attendance: marks, summaries and absentee lists.
	AttendanceWrite        Permission = "attendance.write"         // mark sessions
	AttendanceRead         Permission = "attendance.read"          // staff reports: session marks, batch summaries, absentees
	AttendanceStudentsRead Permission = "attendance.students.read" // one student's marks and summary (students and guardians too)

	// fees: plans, assignments, concessions, payments, refunds, waivers and dues.
	FeesRead           Permission = "fees.read"           // dues, assignments, payments (students and guardians: their own; not teachers)
	FeePlansRead       Permission = "feeplans.read"       // the institution's fee plans (staff; students and guardians see their own assignments)
	FeePlansWrite      Permission = "feeplans.write"      // create fee plans
	FeesAssign         Permission = "fees.assign"         // assign plans to enrolments, recalculate after transfers
	ConcessionsApprove Permission = "concessions.approve" // grant and revoke concessions; the caller is the approver
	PaymentsWrite      Permission = "payments.write"      // record payments
	RefundsWrite       Permission = "refunds.write"       // refunds and waivers

	// exams: tests, results, grading scales and report cards.
	ExamsWrite      Permission = "exams.write"      // create tests, enter and edit their results
	ExamsRead       Permission = "exams.read"       // staff reads: tests, a whole test's results, batch rankings
	GradingWrite    Permission = "grading.write"    // set the institution's grading scale
	ReportCardsRead Permission = "reportcards.read" // one student's report card, the grading scale (students and guardians: their own)

	// learning: course content, learner interactions, quizzes and progress.
	LearningContentWrite Permission = "learning.content.write" // author modules, lessons and quizzes; read drafts and answers
	LearningStudy        Permission = "learning.study"         // study the caller's own courses: read published content, record interactions, attempt quizzes
	LearningProgressRead Permission = "learning.progress.read" // learners' progress (guardians: their children's; students: their own)

	// analytics: reports from the warehouse (branch admins: their branches' rows).
	AnalyticsRead Permission = "analytics.read"

	// leads: the admissions funnel. Counsellors see the leads assigned to them and the unassigned ones.
	LeadsRead    Permission = "leads.read"    // leads, their activity history, overdue follow-ups
	LeadsWrite   Permission = "leads.write"   // create leads, move stages, notes, follow-ups
	LeadsAssign  Permission = "leads.assign"  // give a lead to a counsellor, or take it back
	LeadsConvert Permission = "leads.convert" // turn a won lead into an enrolled, billed student

	// notifications: the delivery log, templates, other people's preferences (everyone sets their own).
	NotificationsRead  Permission = "notifications.read"  // the delivery log, templates and their previews
	NotificationsWrite Permission = "notifications.write" // save templates, resend, set another person's preferences

	// payments: online fee payments through the institution's payment gateway accounts.
	GatewaysWrite        Permission = "gateways.write"        // set and rotate gateway accounts (keys, webhook secrets)
	GatewaysRead         Permission = "gateways.read"         // gateway accounts (never their secrets), the review list, the settlement view
	PaymentRequestsWrite Permission = "paymentrequests.write" // create and cancel payment requests (students and guardians: for their own dues)
	PaymentRequestsSend  Permission = "paymentrequests.send"  // send a payment request to the student and guardians through notifications
	PaymentReviewsWrite  Permission = "paymentreviews.write"  // resolve a gateway payment held for review (record it, or dismiss it)
)

// grants is the whole role -> permission table, read-only after init.
var grants = map[Role][]Permission{
	PlatformAdmin: {PlatformTenants},
	Owner:         {BranchesRead, BranchesWrite, StaffRead, StaffWrite, AuditRead, CoursesRead, CoursesWrite, BatchesRead, BatchesWrite, SessionsWrite, StudentsRead, StudentsWrite, EnrolmentsWrite, AttendanceWrite, AttendanceRead, AttendanceStudentsRead, FeesRead, FeePlansRead, FeePlansWrite, FeesAssign, ConcessionsApprove, PaymentsWrite, RefundsWrite, AnalyticsRead, ExamsWrite, ExamsRead, GradingWrite, ReportCardsRead, LeadsRead, LeadsWrite, LeadsAssign, LeadsConvert, LearningContentWrite, LearningProgressRead, NotificationsRead, NotificationsWrite, GatewaysWrite, GatewaysRead, PaymentRequestsWrite, PaymentRequestsSend, PaymentReviewsWrite},
	BranchAdmin:   {BranchesRead, StaffRead, StaffWrite, CoursesRead, CoursesWrite, BatchesRead, BatchesWrite, SessionsWrite, StudentsRead, StudentsWrite, EnrolmentsWrite, AttendanceWrite, AttendanceRead, AttendanceStudentsRead, FeesRead, FeePlansRead, FeesAssign, PaymentsWrite, AnalyticsRead, ExamsWrite, ExamsRead, ReportCardsRead, LeadsRead, LeadsWrite, LeadsAssign, LeadsConvert, LearningContentWrite, LearningProgressRead, PaymentRequestsWrite, PaymentRequestsSend},
	Accountant:    {BranchesRead, StaffRead, CoursesRead, BatchesRead, StudentsRead, AttendanceRead, AttendanceStudentsRead, FeesRead, FeePlansRead, FeePlansWrite, FeesAssign, ConcessionsApprove, PaymentsWrite, RefundsWrite, NotificationsRead, GatewaysRead, PaymentRequestsWrite, PaymentRequestsSend, PaymentReviewsWrite},
	Counsellor:    {BranchesRead, CoursesRead, BatchesRead, StudentsRead, StudentsWrite, EnrolmentsWrite, AttendanceRead, AttendanceStudentsRead, FeesRead, FeePlansRead, FeesAssign, ExamsRead, ReportCardsRead, LeadsRead, LeadsWrite, LeadsConvert, LearningProgressRead},
	Teacher:       {BranchesRead, CoursesRead, BatchesRead, SessionsWrite, StudentsRead, AttendanceWrite, AttendanceRead, AttendanceStudentsRead, ExamsWrite, ExamsRead, ReportCardsRead, LearningContentWrite, LearningProgressRead},
	Guardian:      {StudentsRead, AttendanceStudentsRead, FeesRead, ReportCardsRead, LearningProgressRead, PaymentRequestsWrite},
	Student:       {StudentsRead, AttendanceStudentsRead, FeesRead, ReportCardsRead, LearningStudy, LearningProgressRead, PaymentRequestsWrite},
}

// Allowed reports whether role r holds permission p. Public and Self are held by every valid role.
func Allowed(r Role, p Permission) bool {
	if !r.Valid() {
		return false
	}
	if p == Public || p == Self {
		return true
	}
	return slices.Contains(grants[r], p)
}

// Permissions returns every permission some role holds, for documentation and tests.
func Permissions() []Permission {
	var out []Permission
	for _, ps := range grants {
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Principal is the authenticated caller of a request, as the token and the tenant middleware established.
type Principal struct {
	// Subject is the user id (a platform admin id for platform admins).
	Subject string
	// Tenant is the tenant slug; "" for platform admins.
	Tenant string
	Role   Role
	// Branches scopes branch-level roles; tenant-level roles see every branch whatever it holds.
	Branches []string
	// PRN is the caller's registration number, when they have one.
	PRN string
}

// CanSeeBranch reports whether the principal may see objects of branch id: tenant-level roles see all,
// branch-level roles only those in scope, everyone else none.
func (p Principal) CanSeeBranch(id string) bool {
	switch p.Role.Level() {
	case LevelTenant:
		return true
	case LevelBranch:
		return slices.Contains(p.Branches, id)
	}
	return false
}

// CanGrant reports whether the principal may give another user role r with branch scope branches: owners
// give any staff role; branch admins give teacher and branch admin roles only within their own branches.
func (p Principal) CanGrant(r Role, branches []string) bool {
	if !r.Staff() {
		return false
	}
	switch p.Role {
	case Owner:
		return true
	case BranchAdmin:
		if r != Teacher && r != BranchAdmin || len(branches) == 0 {
			return false
		}
		for _, b := range branches {
			if !slices.Contains(p.Branches, b) {
				return false
			}
		}
		return true
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. Only the tenant middleware calls it (and tests standing in for it).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Must returns the principal in ctx and panics when there is none: only authenticated routes call it, and
// the panic is recovered into a 500 without internals.
func Must(ctx context.Context) Principal {
	p, ok := FromContext(ctx)
	if !ok {
		panic("rbac.Must: no principal in context (route is public)")
	}
	return p
}
