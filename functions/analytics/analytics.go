// Package analytics is the reports area: numbers about one institution computed in the warehouse
// (shared/warehouse), never in the transactional database. Change events carry every write of a tenant
// database to the warehouse within seconds (triggers/relay, triggers/ingest), so reports are fresh without
// loading the tenant databases.
//
// Every report reads only the caller's tenant: the tenant comes from the request context and is bound
// into the query by warehouse.NewQuery, which cannot build a query without it. Branch admins see only
// their branches' rows; owners see all.
//
// Permissions: analytics.read (owners, branch admins). The list of reports, with the ones that wait for
// their areas, is GET /analytics/reports.
package analytics

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// Service computes reports. Construct with New.
type Service struct {
	deps Deps
}

// Deps is what the analytics area needs.
type Deps struct {
	Clock clock.Clock
	// Warehouse returns the warehouse reports read, or nil while there is none (the area then answers 503).
	// The analytics function's wiring opens BigQuery once per instance; the local stack and tests attach
	// DuckDB.
	Warehouse func() warehouse.Warehouse
}

// New returns the analytics service over d.
func New(d Deps) *Service { return &Service{deps: d} }

// Report describes one report of the catalogue.
type Report struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	// Path is the route serving it; empty while it waits.
	Path string `json:"path,omitempty"`
	// Status is "available", or "waiting" for the area whose data it needs.
	Status   string `json:"status" example:"available"`
	WaitsFor string `json:"waits_for,omitempty" example:"attendance"`
}

// Catalogue is every report the issue asks for, in the order a dashboard shows them.
var Catalogue = []Report{
	{Name: "attendance_rate_by_batch", Summary: "Attendance rate of each batch per day, week or month", Path: "/analytics/attendance/batches", Status: "available"},
	{Name: "staff_by_role", Summary: "Active staff per role, overall and per branch", Path: "/analytics/staff", Status: "available"},
	{Name: "fee_collection_vs_dues", Summary: "Fees collected against fees due, per day, week or month", Path: "/analytics/fees/collection", Status: "available"},
	{Name: "dues_ageing", Summary: "Outstanding instalments by age bucket", Path: "/analytics/fees/ageing", Status: "available"},
	{Name: "lead_funnel", Summary: "Lead conversion by source and stage", Path: "/analytics/leads/funnel", Status: "available"},
	{Name: "cohort_retention", Summary: "Students still enrolled by enrolment month", Path: "/analytics/students/cohorts", Status: "available"},
	{Name: "test_score_distribution", Summary: "Score distribution of tests, per test and overall", Path: "/analytics/exams/scores", Status: "available"},
	{Name: "at_risk_students", Summary: "Students with low attendance and overdue fees", Path: "/analytics/students/at-risk", Status: "available"},
	{Name: "active_learners", Summary: "Daily, weekly or monthly active learners per course and batch", Path: "/analytics/learning/active", Status: "available"},
	{Name: "lesson_completion_funnel", Summary: "Learners completing each lesson of a course, in order", Path: "/analytics/learning/courses/{course}/funnel", Status: "available"},
	{Name: "learner_time_spent", Summary: "Time each learner spent on content over a window", Path: "/analytics/learning/time-spent", Status: "available"},
	{Name: "quiz_item_analysis", Summary: "Difficulty, discrimination and most chosen wrong answer of each quiz question", Path: "/analytics/learning/quizzes/{quiz}/items", Status: "available"},
	{Name: "inactive_learners", Summary: "Enrolled learners with no activity for N days", Path: "/analytics/learning/inactive", Status: "available"},
}

// warehouse returns the instance's warehouse, or Unavailable when none is configured.
func (s *Service) warehouse() (warehouse.Warehouse, error) {
	var w warehouse.Warehouse
	if s.deps.Warehouse != nil {
		w = s.deps.Warehouse()
	}
	if w == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "analytics is not configured on this instance")
	}
	return w, nil
}

// query runs a report query for the caller's tenant.
func (s *Service) query(ctx context.Context, q *warehouse.Query) ([]warehouse.Row, error) {
	wh, err := s.warehouse()
	if err != nil {
		return nil, err
	}
	rows, err := wh.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("report query for %s: %w", q.Tenant(), err)
	}
	return rows, nil
}

// newQuery binds a report's SQL to the caller's tenant.
func newQuery(ctx context.Context, sql string, tables ...*warehouse.Table) *warehouse.Query {
	return warehouse.MustQuery(tenant.FromContext(ctx).Slug, sql, tables...)
}

// Window is the period a report groups by.
type Window string

// The windows.
const (
	Day   Window = "day"
	Week  Window = "week" // ISO weeks, starting on Monday
	Month Window = "month"
)

// windows lists every report window; the API document shows them as the enum of a report window field.
var windows = []Window{Day, Week, Month}

// Values implements httpapi.Enum.
func (Window) Values() []string { return httpapi.EnumValues(windows) }

// Valid reports whether v is one of Values.
func (v Window) Valid() bool { return slices.Contains(windows, v) }

// Start returns the first day of the window holding day.
func (w Window) Start(day time.Time) time.Time {
	switch w {
	case Week:
		offset := (int(day.Weekday()) + 6) % 7 // days since Monday
		return day.AddDate(0, 0, -offset)
	case Month:
		return time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

// Range is an inclusive range of calendar days, at midnight UTC.
type Range struct {
	From, To time.Time
}

// maxDays bounds a report's range, so one request cannot scan years of daily rows.
var maxDays = map[Window]int{Day: 366, Week: 3 * 366, Month: 3 * 366}

// ParseRange reads a window and an inclusive day range; the defaults end today in the tenant's time zone
// and cover 30 days, 12 weeks or 12 months. Errors are Invalid and name the field.
func ParseRange(window, from, to string, today time.Time) (Window, Range, error) {
	w := Window(window)
	if window == "" {
		w = Week
	}
	if !w.Valid() {
		return "", Range{}, apperr.Field("window", apperr.FieldNotAllowed, "must be day, week or month")
	}
	r := Range{To: today}
	if to != "" {
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return "", Range{}, apperr.Field("to", apperr.FieldFormat, "must be a day YYYY-MM-DD")
		}
		r.To = t
	}
	switch {
	case from != "":
		f, err := time.Parse(time.DateOnly, from)
		if err != nil {
			return "", Range{}, apperr.Field("from", apperr.FieldFormat, "must be a day YYYY-MM-DD")
		}
		r.From = f
	case w == Day:
		r.From = r.To.AddDate(0, 0, -29)
	case w == Week:
		r.From = w.Start(r.To).AddDate(0, 0, -7*11)
	default:
		r.From = w.Start(r.To).AddDate(0, -11, 0)
	}
	if r.From.After(r.To) {
		return "", Range{}, apperr.Field("from", apperr.FieldOutOfRange, "must not be after to")
	}
	if days := int(r.To.Sub(r.From).Hours()/24) + 1; days > maxDays[w] {
		return "", Range{}, apperr.Field("from", apperr.FieldOutOfRange, fmt.Sprintf("the range may cover at most %d days for window %s", maxDays[w], w))
	}
	return w, r, nil
}

// today is the caller's tenant's current calendar day.
func (s *Service) today(ctx context.Context) time.Time {
	y, m, d := s.deps.Clock.Now().In(tenant.FromContext(ctx).Location()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// visible filters rows by branch for branch-scoped callers; branchOf returns a row's branch ids.
func visible[T any](p rbac.Principal, rows []T, branchOf func(T) []string) []T {
	if p.Role.Level() == rbac.LevelTenant {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		if slices.ContainsFunc(branchOf(r), p.CanSeeBranch) {
			out = append(out, r)
		}
	}
	return out
}
