package fees

import (
	"net/http"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rbac"
)

// IdempotencyHeader carries the client's key for a payment: retries reuse it.
const IdempotencyHeader = httpapi.IdempotencyKeyHeader

// Routes is the fees area's route table.
func (s *Service) Routes() []httpapi.Route {
	studentQuery := []httpapi.QueryParam{{Name: "student", Description: "the student's id", Required: true}}
	return []httpapi.Route{
		{Method: "POST", Path: "/plans", Permission: rbac.FeePlansWrite, Summary: "Create a fee plan",
			Request: NewPlan{}, Response: Plan{}, Status: http.StatusCreated, Handler: s.handleCreatePlan},
		{Method: "GET", Path: "/plans", Permission: rbac.FeePlansRead, Summary: "List fee plans",
			Response: httpapi.Page[Plan]{}, Query: httpapi.PageQuery, Handler: s.handleListPlans},
		{Method: "GET", Path: "/plans/{id}", Permission: rbac.FeePlansRead, Summary: "Read a fee plan",
			Response: Plan{}, Handler: s.handleGetPlan},
		{Method: "POST", Path: "/assignments", Permission: rbac.FeesAssign, Summary: "Assign a plan to an enrolment and materialise its instalments",
			Request: NewAssignment{}, Response: AssignmentView{}, Status: http.StatusCreated, Handler: s.handleAssign},
		{Method: "GET", Path: "/assignments", Permission: rbac.FeesRead, Summary: "A student's fee assignments",
			Response: httpapi.Page[Assignment]{}, Query: append(append([]httpapi.QueryParam{}, studentQuery...), httpapi.PageQuery...), Handler: s.handleAssignmentsOf},
		{Method: "GET", Path: "/assignments/{id}", Permission: rbac.FeesRead, Summary: "Read an assignment with its instalments",
			Response: AssignmentView{}, Handler: s.handleGetAssignment},
		{Method: "POST", Path: "/assignments/{id}/recalculate", Permission: rbac.FeesAssign,
			Summary: "Follow a batch transfer (optionally re-pricing with the new batch's plan) and recalculate the open instalments",
			Request: Recalculation{}, Response: AssignmentView{}, Handler: s.handleRecalculate},
		{Method: "POST", Path: "/assignments/{id}/concessions", Permission: rbac.ConcessionsApprove, Summary: "Grant a concession; the caller approves it",
			Request: NewConcession{}, Response: AssignmentView{}, Status: http.StatusCreated, Handler: s.handleGrantConcession},
		{Method: "POST", Path: "/assignments/{id}/concessions/{concession}/revoke", Permission: rbac.ConcessionsApprove, Summary: "Revoke a concession",
			Response: AssignmentView{}, Handler: s.handleRevokeConcession},
		{Method: "POST", Path: "/payments", Permission: rbac.PaymentsWrite,
			Summary: "Record a payment (Idempotency-Key header required; a retry answers 200 with the original receipt)",
			Request: NewPayment{}, Response: Payment{}, Status: http.StatusCreated, IdempotencyKey: true, Handler: s.handlePay},
		{Method: "GET", Path: "/payments", Permission: rbac.FeesRead, Summary: "A student's payments",
			Response: httpapi.Page[Payment]{}, Query: append(append([]httpapi.QueryParam{}, studentQuery...), httpapi.PageQuery...), Handler: s.handlePaymentsOf},
		{Method: "GET", Path: "/payments/{id}", Permission: rbac.FeesRead, Summary: "Read a payment and its receipt",
			Response: Payment{}, Handler: s.handleGetPayment},
		{Method: "POST", Path: "/refunds", Permission: rbac.RefundsWrite, Summary: "Refund part or all of a payment",
			Request: NewRefund{}, Response: Refund{}, Status: http.StatusCreated, Handler: s.handleRefund},
		{Method: "POST", Path: "/waivers", Permission: rbac.RefundsWrite, Summary: "Waive part or all of an instalment",
			Request: NewWaiver{}, Response: Waiver{}, Status: http.StatusCreated, Handler: s.handleWaive},
		{Method: "GET", Path: "/dues/students/{id}", Permission: rbac.FeesRead, Summary: "What a student owes, with ageing and credit",
			Response: StudentDues{}, Handler: s.handleStudentDues},
		{Method: "GET", Path: "/dues", Permission: rbac.FeesRead, Summary: "Outstanding of a batch, a branch or every visible branch, with ageing",
			Response: DuesSummary{}, Handler: s.handleDues,
			Query: []httpapi.QueryParam{{Name: "batch", Description: "a batch id"}, {Name: "branch", Description: "a branch id"}}},
	}
}

// Area returns the fees area's HTTP handler, served with opts. Handlers only decode (httpapi.DecodeOnly):
// every service method validates its own input, so a request is checked once and a Go caller gets what an
// HTTP caller gets.
func (s *Service) Area(opts httpapi.Options) *httpapi.Area {
	return httpapi.NewArea("fees", s.Routes(), opts)
}

func (s *Service) handleCreatePlan(w http.ResponseWriter, r *http.Request) error {
	var in NewPlan
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	p, err := s.CreatePlan(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, p, err)
}

func (s *Service) handleListPlans(w http.ResponseWriter, r *http.Request) error {
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.ListPlans(r.Context(), pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := s.GetPlan(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleAssign(w http.ResponseWriter, r *http.Request) error {
	var in NewAssignment
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	v, err := s.Assign(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, v, err)
}

func studentParam(r *http.Request) (string, error) {
	st := r.URL.Query().Get("student")
	if !id.Valid(st) {
		return "", apperr.Field("student", apperr.FieldFormat, "must be a student id")
	}
	return st, nil
}

func (s *Service) handleAssignmentsOf(w http.ResponseWriter, r *http.Request) error {
	st, err := studentParam(r)
	if err := httpapi.CheckQuery(r, err); err != nil {
		return err
	}
	return httpapi.ListPage(w, r, func() ([]Assignment, error) { return s.AssignmentsOf(r.Context(), st) },
		func(a Assignment) string { return a.ID })
}

func (s *Service) handleGetAssignment(w http.ResponseWriter, r *http.Request) error {
	v, err := s.GetAssignment(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, v, err)
}

func (s *Service) handleRecalculate(w http.ResponseWriter, r *http.Request) error {
	var in Recalculation
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	v, err := s.Recalculate(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusOK, v, err)
}

func (s *Service) handleGrantConcession(w http.ResponseWriter, r *http.Request) error {
	var in NewConcession
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	v, err := s.GrantConcession(r.Context(), r.PathValue("id"), in)
	return httpapi.Reply(w, http.StatusCreated, v, err)
}

func (s *Service) handleRevokeConcession(w http.ResponseWriter, r *http.Request) error {
	v, err := s.RevokeConcession(r.Context(), r.PathValue("id"), r.PathValue("concession"))
	return httpapi.Reply(w, http.StatusOK, v, err)
}

func (s *Service) handlePay(w http.ResponseWriter, r *http.Request) error {
	var in NewPayment
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	p, replayed, err := s.Pay(r.Context(), r.Header.Get(IdempotencyHeader), in)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	httpapi.JSON(w, status, p)
	return nil
}

func (s *Service) handlePaymentsOf(w http.ResponseWriter, r *http.Request) error {
	st, err := studentParam(r)
	if err := httpapi.CheckQuery(r, err); err != nil {
		return err
	}
	pr, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	p, err := s.PaymentsOf(r.Context(), st, pr)
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleGetPayment(w http.ResponseWriter, r *http.Request) error {
	p, err := s.GetPayment(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, p, err)
}

func (s *Service) handleRefund(w http.ResponseWriter, r *http.Request) error {
	var in NewRefund
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	rf, err := s.RefundPayment(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, rf, err)
}

func (s *Service) handleWaive(w http.ResponseWriter, r *http.Request) error {
	var in NewWaiver
	if err := httpapi.DecodeOnly(r, &in); err != nil {
		return err
	}
	wv, err := s.Waive(r.Context(), in)
	return httpapi.Reply(w, http.StatusCreated, wv, err)
}

func (s *Service) handleStudentDues(w http.ResponseWriter, r *http.Request) error {
	d, err := s.DuesOfStudent(r.Context(), r.PathValue("id"))
	return httpapi.Reply(w, http.StatusOK, d, err)
}

func (s *Service) handleDues(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d, err := s.Dues(r.Context(), q.Get("batch"), q.Get("branch"))
	return httpapi.Reply(w, http.StatusOK, d, err)
}
