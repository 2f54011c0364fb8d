package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// CohortMonth is how many of a cohort's students had an active enrolment on the last day of one month
// (on the report's last day for its final month), and their share of the cohort.
type CohortMonth struct {
	Month  string  `json:"month" format:"month"`
	Offset int     `json:"offset"`
	Active int64   `json:"active"`
	Share  float64 `json:"share"`
}

// Cohort is the students whose first enrolment started in one month, and their retention in every month
// from it to the report's last month.
type Cohort struct {
	Month    string        `json:"month" format:"month"`
	Students int64         `json:"students"`
	Months   []CohortMonth `json:"months"`
}

// CohortReport is cohort retention by first-enrolment month.
type CohortReport struct {
	From    string   `json:"from" format:"date"`
	To      string   `json:"to" format:"date"`
	Cohorts []Cohort `json:"cohorts"`
}

// Every enrolment that started by the report's last day: a student's first enrolment may be before the
// range (then the student is in no cohort of the report), and retention is computed from all of them.
const cohortSQL = `SELECT student_id, branch_id, from_date, to_date
FROM enrolments
WHERE from_date <= @to`

// CohortRetention returns the caller's tenant's students grouped by the month of their first enrolment
// (cohorts whose month is within r), with the share of each cohort holding an active enrolment (from <=
// day < to) at the end of each following month up to r.To. Only enrolments in the caller's branches (and
// in branch, when set) count, so a branch admin's cohorts are their branches' students. Errors: Invalid
// for a malformed branch, Unavailable when no warehouse is configured.
func (s *Service) CohortRetention(ctx context.Context, r Range, branch string) (*CohortReport, error) {
	if branch != "" && !id.Valid(branch) {
		return nil, apperr.Field("branch", apperr.FieldFormat, "must be a branch id")
	}
	rows, err := s.query(ctx, newQuery(ctx, cohortSQL, warehouse.Enrolments).With("to", warehouse.Day{Time: r.To}))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	type span struct{ from, to time.Time } // to is zero while open
	byStudent := map[string][]span{}
	for _, row := range rows {
		if br := str(row[1]); (branch != "" && br != branch) || !p.CanSeeBranch(br) {
			continue
		}
		from, ok := row[2].(time.Time)
		if !ok {
			return nil, fmt.Errorf("cohort report: from is %T", row[2])
		}
		sp := span{from: from}
		if row[3] != nil {
			if sp.to, ok = row[3].(time.Time); !ok {
				return nil, fmt.Errorf("cohort report: to is %T", row[3])
			}
		}
		byStudent[str(row[0])] = append(byStudent[str(row[0])], sp)
	}
	first, last := Month.Start(r.From), Month.Start(r.To)
	cohorts := map[time.Time]*Cohort{}
	for _, spans := range byStudent {
		start := spans[0].from
		for _, sp := range spans[1:] {
			if sp.from.Before(start) {
				start = sp.from
			}
		}
		cm := Month.Start(start)
		if cm.Before(first) || cm.After(last) {
			continue
		}
		c := cohorts[cm]
		if c == nil {
			c = &Cohort{Month: cm.Format("2006-01")}
			for m, i := cm, 0; !m.After(last); m, i = m.AddDate(0, 1, 0), i+1 {
				c.Months = append(c.Months, CohortMonth{Month: m.Format("2006-01"), Offset: i})
			}
			cohorts[cm] = c
		}
		c.Students++
		for i := range c.Months {
			day := cm.AddDate(0, i+1, -1) // the month's last day
			if day.After(r.To) {
				day = r.To
			}
			for _, sp := range spans {
				if !sp.from.After(day) && (sp.to.IsZero() || day.Before(sp.to)) {
					c.Months[i].Active++
					break
				}
			}
		}
	}
	out := &CohortReport{From: r.From.Format(time.DateOnly), To: r.To.Format(time.DateOnly), Cohorts: []Cohort{}}
	for _, c := range cohorts {
		for i := range c.Months {
			if r := rate.Of(c.Months[i].Active, c.Students); r != nil {
				c.Months[i].Share = *r
			}
		}
		out.Cohorts = append(out.Cohorts, *c)
	}
	sort.Slice(out.Cohorts, func(i, j int) bool { return out.Cohorts[i].Month < out.Cohorts[j].Month })
	return out, nil
}
