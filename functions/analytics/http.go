package analytics

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// Routes is the analytics area's route table.
func (s *Service) Routes() []httpapi.Route {
	routes := []httpapi.Route{
		{Method: "GET", Path: "/reports", Permission: rbac.AnalyticsRead, Summary: "The report catalogue: what is available and what waits for its area",
			Response: httpapi.Page[Report]{}, Query: httpapi.PageQuery, Handler: s.handleCatalogue},
		{Method: "GET", Path: "/attendance/batches", Permission: rbac.AnalyticsRead, Summary: "Attendance rate by batch per day, week or month",
			Response: AttendanceReport{}, Handler: s.handleAttendance, Query: []httpapi.QueryParam{
				windowParam,
				windowFromParam,
				toParam,
				branchParam,
				batchParam,
			}},
		{Method: "GET", Path: "/fees/collection", Permission: rbac.AnalyticsRead, Summary: "Fees due against fees collected per branch and day, week or month",
			Response: FeeCollectionReport{}, Handler: s.handleFeeCollection, Query: []httpapi.QueryParam{
				windowParam,
				windowFromParam,
				toParam,
				branchParam,
			}},
		{Method: "GET", Path: "/fees/ageing", Permission: rbac.AnalyticsRead, Summary: "Outstanding dues per branch by days overdue",
			Response: AgeingReport{}, Handler: s.handleAgeing, Query: []httpapi.QueryParam{
				{Name: "as_of", Description: "the day ages are counted to, YYYY-MM-DD (default: today in the institution's time zone)", Format: httpapi.FormatDate},
				branchParam,
			}},
		{Method: "GET", Path: "/students/cohorts", Permission: rbac.AnalyticsRead, Summary: "Share of each first-enrolment month's students still enrolled in every following month",
			Response: CohortReport{}, Handler: s.handleCohorts, Query: []httpapi.QueryParam{
				{Name: "from", Description: "first day, YYYY-MM-DD; cohorts start in its month (default: 12 months before to)", Format: httpapi.FormatDate},
				toParam,
				{Name: "branch", Description: "only this branch id's enrolments"},
			}},
		{Method: "GET", Path: "/staff", Permission: rbac.AnalyticsRead, Summary: "Active staff per role, overall and per branch",
			Response: StaffReport{}, Handler: s.handleStaff},
	}
	routes = append(routes, []httpapi.Route{
		{Method: "GET", Path: "/students/at-risk", Permission: rbac.AnalyticsRead, Summary: "Students with low attendance and overdue fees",
			Response: AtRiskReport{}, Handler: s.handleAtRisk, Query: []httpapi.QueryParam{
				{Name: "from", Description: "first day whose attendance counts, YYYY-MM-DD (default: 30 days before to)", Format: httpapi.FormatDate},
				{Name: "to", Description: "last day, YYYY-MM-DD (default: today in the institution's time zone); instalments due before it are overdue", Format: httpapi.FormatDate},
				{Name: "max_rate", Description: "attendance rate in percent below which attendance is low (default 75)", Type: 0, Minimum: 1, Maximum: 100},
				{Name: "min_sessions", Description: "marks a student needs in the range to be judged (default 3)", Type: 0, Minimum: 1, Maximum: 10000},
				branchParam,
			}},
		{Method: "GET", Path: "/leads/funnel", Permission: rbac.AnalyticsRead, Summary: "Conversion of the leads created in a range, by source and stage",
			Response: LeadFunnelReport{}, Handler: s.handleLeadFunnel, Query: []httpapi.QueryParam{
				{Name: "from", Description: "first day leads were created, YYYY-MM-DD (default: 90 days before to)", Format: httpapi.FormatDate},
				toParam,
				branchParam,
			}},
		{Method: "GET", Path: "/exams/scores", Permission: rbac.AnalyticsRead, Summary: "Score distribution of tests, per test and overall",
			Response: ScoreReport{}, Handler: s.handleScores, Query: []httpapi.QueryParam{
				{Name: "from", Description: "first test day, YYYY-MM-DD (default: 90 days before to)", Format: httpapi.FormatDate},
				{Name: "to", Description: "last test day, YYYY-MM-DD (default: today in the institution's time zone)", Format: httpapi.FormatDate},
				{Name: "test", Description: "only this test id"},
				batchParam,
				branchParam,
				{Name: "subject", Description: "only this subject"},
			}},
	}...)
	routes = append(routes, s.learningRoutes()...)
	return routes
}

// Query parameters several reports take, documented once.
var (
	windowParam     = httpapi.QueryParam{Name: "window", Description: "day, week (default; ISO weeks) or month", Type: Window("")}
	windowFromParam = httpapi.QueryParam{Name: "from", Description: "first day, YYYY-MM-DD (default: 30 days, 12 weeks or 12 months before to)", Format: httpapi.FormatDate}
	toParam         = httpapi.QueryParam{Name: "to", Description: "last day, YYYY-MM-DD (default: today in the institution's time zone)", Format: httpapi.FormatDate}
	branchParam     = httpapi.QueryParam{Name: "branch", Description: "only this branch id"}
	batchParam      = httpapi.QueryParam{Name: "batch", Description: "only this batch id"}
)

// Area returns the analytics area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("analytics", s.Routes(), opts)
}

func (s *Service) handleCatalogue(w http.ResponseWriter, r *http.Request) error {
	// Served in the catalogue's own order: the key is each report's position in it.
	position := make(map[string]string, len(Catalogue))
	for i, rep := range Catalogue {
		position[rep.Name] = fmt.Sprintf("%04d", i)
	}
	return httpapi.ListPage(w, r, func() ([]Report, error) { return slices.Clone(Catalogue), nil },
		func(rep Report) string { return position[rep.Name] })
}

func (s *Service) handleAttendance(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	win, rng, err := ParseRange(q.Get("window"), q.Get("from"), q.Get("to"), s.today(r.Context()))
	if err != nil {
		return err
	}
	rep, err := s.AttendanceByBatch(r.Context(), AttendanceFilter{Window: win, Range: rng, Branch: q.Get("branch"), Batch: q.Get("batch")})
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

func (s *Service) handleFeeCollection(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	win, rng, err := ParseRange(q.Get("window"), q.Get("from"), q.Get("to"), s.today(r.Context()))
	if err != nil {
		return err
	}
	rep, err := s.FeeCollection(r.Context(), FeeCollectionFilter{Window: win, Range: rng, Branch: q.Get("branch")})
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

func (s *Service) handleAgeing(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	asOf := s.today(r.Context())
	if v := q.Get("as_of"); v != "" {
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return apperr.Field("as_of", apperr.FieldFormat, "must be a day YYYY-MM-DD")
		}
		asOf = t
	}
	rep, err := s.DuesAgeing(r.Context(), asOf, q.Get("branch"))
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

func (s *Service) handleCohorts(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	_, rng, err := ParseRange(string(Month), q.Get("from"), q.Get("to"), s.today(r.Context()))
	if err != nil {
		return err
	}
	rep, err := s.CohortRetention(r.Context(), rng, q.Get("branch"))
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

func (s *Service) handleStaff(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.StaffByRole(r.Context())
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

func (s *Service) handleAtRisk(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	_, rng, err := ParseRange(string(Day), q.Get("from"), q.Get("to"), s.today(r.Context()))
	if err != nil {
		return err
	}
	f := AtRiskFilter{Range: rng, Branch: q.Get("branch")}
	if f.MaxRate, err = intParam("max_rate", q.Get("max_rate"), DefaultAtRiskRate); err != nil {
		return err
	}
	if f.MinSessions, err = intParam("min_sessions", q.Get("min_sessions"), DefaultAtRiskMinSessions); err != nil {
		return err
	}
	rep, err := s.AtRisk(r.Context(), f)
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

// quarterRange reads from and to with a default of 90 days ending today.
func (s *Service) quarterRange(r *http.Request) (Range, error) {
	q := r.URL.Query()
	from := q.Get("from")
	if from == "" {
		to := s.today(r.Context())
		if v := q.Get("to"); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return Range{}, apperr.Field("to", apperr.FieldFormat, "must be a day YYYY-MM-DD")
			}
			to = t
		}
		from = to.AddDate(0, 0, -89).Format(time.DateOnly)
	}
	_, rng, err := ParseRange(string(Day), from, q.Get("to"), s.today(r.Context()))
	return rng, err
}

func (s *Service) handleLeadFunnel(w http.ResponseWriter, r *http.Request) error {
	rng, err := s.quarterRange(r)
	if err != nil {
		return err
	}
	rep, err := s.LeadFunnel(r.Context(), rng, r.URL.Query().Get("branch"))
	return httpapi.Reply(w, http.StatusOK, rep, err)
}

func (s *Service) handleScores(w http.ResponseWriter, r *http.Request) error {
	rng, err := s.quarterRange(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rep, err := s.ScoreDistribution(r.Context(), ScoreFilter{Range: rng, Test: q.Get("test"), Batch: q.Get("batch"), Branch: q.Get("branch"), Subject: q.Get("subject")})
	return httpapi.Reply(w, http.StatusOK, rep, err)
}
