package exams

import (
	"net/http"

	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
)

// reportCardBatch is the report card's batch; it was named batch_id before the query parameters were named
// alike, and clients may still send that.
var reportCardBatch = httpapi.QueryParam{Name: "batch", Description: "the batch id", Required: true, Aliases: []string{"batch_id"}}

// Routes is the exams area's route table.
func (s *Service) Routes() []httpapi.Route {
	rangeQuery := []httpapi.QueryParam{
		{Name: "from", Description: "first tenant-local date YYYY-MM-DD; the batch's first day when omitted", Format: httpapi.FormatDate},
		{Name: "to", Description: "last tenant-local date YYYY-MM-DD; the batch's last day when omitted", Format: httpapi.FormatDate},
	}
	return []httpapi.Route{
		{Method: "POST", Path: "/tests", Permission: rbac.ExamsWrite, Summary: "Create a test of a batch in one subject",
			Request: NewTest{}, Response: Test{}, Status: http.StatusCreated, Handler: s.handleCreateTest},
		{Method: "GET", Path: "/tests", Permission: rbac.ExamsRead, Summary: "The tests of the batches the caller may see",
			Response: httpapi.Page[Test]{}, Handler: s.handleListTests,
			Query: append([]httpapi.QueryParam{
				{Name: "batch", Description: "only this batch id"},
				{Name: "subject", Description: "only this subject"},
				{Name: "from", Description: "only tests on or after this tenant-local date YYYY-MM-DD", Format: httpapi.FormatDate},
				{Name: "to", Description: "only tests on or before this tenant-local date YYYY-MM-DD", Format: httpapi.FormatDate},
			}, httpapi.PageQuery...)},
		{Method: "GET", Path: "/tests/{id}", Permission: rbac.ExamsRead, Summary: "A test",
			Response: Test{}, Handler: s.handleGetTest},
		{Method: "PUT", Path: "/tests/{id}/results", Permission: rbac.ExamsWrite,
			Summary: "Enter results of a test, all or nothing; edits are recorded in the audit log",
			Request: ResultEntry{}, Response: EntryOutcome{}, Handler: s.handleEnterResults},
		{Method: "GET", Path: "/tests/{id}/results", Permission: rbac.ExamsRead, Summary: "The results of a test, in PRN order",
			Response: httpapi.Page[StudentResult]{}, Query: httpapi.PageQuery, Handler: s.handleTestResults},
		{Method: "GET", Path: "/students/{id}/tests", Permission: rbac.ReportCardsRead,
			Summary:  "A student's tests, past and ahead, in date order, each with their result (students see their own, guardians their children's)",
			Response: httpapi.Page[StudentTest]{}, Query: httpapi.PageQuery, Handler: s.handleStudentTests},
		{Method: "GET", Path: "/batches/{id}/ranking", Permission: rbac.ExamsRead,
			Summary:  "A batch's students ranked by overall percentage (competition ranking, PRN order among equals)",
			Response: Ranking{}, Query: rangeQuery, Handler: s.handleBatchRanking},
		{Method: "GET", Path: "/students/{id}/report-card", Permission: rbac.ReportCardsRead,
			Summary:  "A student's report card in a batch: per subject and overall, with grade and rank",
			Response: ReportCard{}, Handler: s.handleReportCard,
			Query: append([]httpapi.QueryParam{reportCardBatch}, rangeQuery...)},
		{Method: "GET", Path: "/grading-scale", Permission: rbac.ReportCardsRead, Summary: "The institution's grading scale",
			Response: Scale{}, Handler: s.handleGradingScale},
		{Method: "PUT", Path: "/grading-scale", Permission: rbac.GradingWrite, Summary: "Replace the institution's grading scale (audited)",
			Request: ScaleInput{}, Response: Scale{}, Handler: s.handleSetGradingScale},
	}
}

// Area returns the exams area's HTTP handler, served with opts.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("exams", s.Routes(), opts)
}

func dateRange(r *http.Request) DateRange {
	q := r.URL.Query()
	return DateRange{From: q.Get("from"), To: q.Get("to")}
}

func (s *Service) handleCreateTest(w http.ResponseWriter, r *http.Request) error {
	var in NewTest
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	t, err := s.CreateTest(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, t, err)
}

func (s *Service) handleListTests(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p, err := s.ListTests(r.Context(), TestFilter{Batch: q.Get("batch"), Subject: q.Get("subject"), From: q.Get("from"), To: q.Get("to")}, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetTest(w http.ResponseWriter, r *http.Request) error {
	t, err := s.GetTest(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, t, err)
}

func (s *Service) handleEnterResults(w http.ResponseWriter, r *http.Request) error {
	var in ResultEntry
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	out, err := s.EnterResults(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, out, err)
}

func (s *Service) handleStudentTests(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]StudentTest, error) { return s.StudentTests(r.Context(), r.PathValue("id")) },
		func(st StudentTest) string { return st.Test.Date + "/" + st.Test.ID })
}

func (s *Service) handleTestResults(w http.ResponseWriter, r *http.Request) error {
	return httpapi.ListPage(w, r, func() ([]StudentResult, error) { return s.TestResults(r.Context(), r.PathValue("id")) },
		func(sr StudentResult) string { return sr.StudentPRN + "/" + sr.StudentID })
}

func (s *Service) handleBatchRanking(w http.ResponseWriter, r *http.Request) error {
	rk, err := s.BatchRanking(r.Context(), r.PathValue("id"), dateRange(r))
	return httpapi.Reply(w, http.StatusOK, rk, err)
}

func (s *Service) handleReportCard(w http.ResponseWriter, r *http.Request) error {
	card, err := s.ReportCard(r.Context(), r.PathValue("id"), reportCardBatch.Value(r), dateRange(r))
	return httpapi.Reply(w, http.StatusOK, card, err)
}

func (s *Service) handleGradingScale(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.GradingScale(r.Context())
	return httpapi.Reply(w, http.StatusOK, sc, err)
}

func (s *Service) handleSetGradingScale(w http.ResponseWriter, r *http.Request) error {
	var in ScaleInput
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	sc, err := s.SetGradingScale(r.Context(), in)
	return httpapi.Reply(w, http.StatusOK, sc, err)
}
