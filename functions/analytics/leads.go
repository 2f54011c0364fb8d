package analytics

import (
	"context"
	"sort"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/rate"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// FunnelStages are the stages of the admissions funnel in order; a lead has reached a stage when it
// entered that stage or a later one (leads may skip stages, and a lost lead keeps how far it got).
var FunnelStages = []string{"new", "contacted", "demo_scheduled", "demo_attended", "negotiation", "won"}

// StageCount is how many leads reached one stage, and their share of the leads created.
type StageCount struct {
	Stage string  `json:"stage" example:"contacted"`
	Leads int64   `json:"leads"`
	Share float64 `json:"share"`
}

// ReasonCount is how many leads were lost for one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Leads  int64  `json:"leads"`
}

// SourceFunnel is the funnel of the leads of one source ("" for all sources together). Open leads are
// neither won nor lost; Conversion is won / created, null without leads.
type SourceFunnel struct {
	Source      string        `json:"source" example:"walk_in"`
	Leads       int64         `json:"leads"`
	Reached     []StageCount  `json:"reached"`
	Open        int64         `json:"open"`
	Won         int64         `json:"won"`
	Lost        int64         `json:"lost"`
	Conversion  *float64      `json:"conversion"`
	LostReasons []ReasonCount `json:"lost_reasons"`
}

// LeadFunnelReport is the conversion of the leads created in a range, by source.
type LeadFunnelReport struct {
	From    string         `json:"from" format:"date"`
	To      string         `json:"to" format:"date"`
	Stages  []string       `json:"stages"`
	Total   SourceFunnel   `json:"total"`
	Sources []SourceFunnel `json:"sources"`
}

// How far each lead created in the range got along the funnel, counted by branch and source.
const leadReachSQL = `SELECT f.branch_id, f.source, f.furthest, COUNT(*) AS leads
FROM (SELECT l.id, l.branch_id, l.source,
		MAX(CASE s.stage WHEN 'contacted' THEN 1 WHEN 'demo_scheduled' THEN 2 WHEN 'demo_attended' THEN 3
			WHEN 'negotiation' THEN 4 WHEN 'won' THEN 5 ELSE 0 END) AS furthest
	FROM leads AS l LEFT JOIN lead_stages AS s ON s.parent_id = l.id
	WHERE l.created_at >= @from AND l.created_at < @until
	GROUP BY l.id, l.branch_id, l.source) AS f
GROUP BY f.branch_id, f.source, f.furthest`

// Where the same leads are now.
const leadStateSQL = `SELECT branch_id, source, stage, lost_reason, COUNT(*) AS leads
FROM leads
WHERE created_at >= @from AND created_at < @until
GROUP BY branch_id, source, stage, lost_reason`

// LeadFunnel returns the funnel of the caller's tenant's leads created within r (tenant-local days), per
// source and in total: how many reached each stage, how many are open, won and lost, and why they were
// lost. Branch admins and counsellors count only their branches' leads. Errors: Invalid for a malformed
// branch, Unavailable when no warehouse is configured.
func (s *Service) LeadFunnel(ctx context.Context, r Range, branch string) (*LeadFunnelReport, error) {
	if branch != "" && !id.Valid(branch) {
		return nil, apperr.Field("branch", apperr.FieldFormat, "must be a branch id")
	}
	loc := tenant.FromContext(ctx).Location()
	from := time.Date(r.From.Year(), r.From.Month(), r.From.Day(), 0, 0, 0, 0, loc)
	until := time.Date(r.To.Year(), r.To.Month(), r.To.Day()+1, 0, 0, 0, 0, loc)
	bind := func(q *warehouse.Query) *warehouse.Query {
		return q.With("from", from.UTC()).With("until", until.UTC())
	}
	reach, err := s.query(ctx, bind(newQuery(ctx, leadReachSQL, warehouse.Leads, warehouse.LeadStages)))
	if err != nil {
		return nil, err
	}
	state, err := s.query(ctx, bind(newQuery(ctx, leadStateSQL, warehouse.Leads)))
	if err != nil {
		return nil, err
	}
	p := rbac.Must(ctx)
	keep := func(b string) bool { return (branch == "" || b == branch) && p.CanSeeBranch(b) }

	total := &SourceFunnel{}
	bySource := map[string]*SourceFunnel{}
	funnel := func(src string) *SourceFunnel {
		f := bySource[src]
		if f == nil {
			f = &SourceFunnel{Source: src}
			bySource[src] = f
		}
		return f
	}
	reached := map[*SourceFunnel][]int64{}
	for _, row := range reach {
		if !keep(str(row[0])) {
			continue
		}
		furthest, n := int(num(row[2])), num(row[3])
		for _, f := range []*SourceFunnel{total, funnel(str(row[1]))} {
			if reached[f] == nil {
				reached[f] = make([]int64, len(FunnelStages))
			}
			f.Leads += n
			for i := 0; i <= furthest && i < len(FunnelStages); i++ {
				reached[f][i] += n
			}
		}
	}
	reasons := map[*SourceFunnel]map[string]int64{}
	for _, row := range state {
		if !keep(str(row[0])) {
			continue
		}
		stage, n := str(row[2]), num(row[4])
		for _, f := range []*SourceFunnel{total, funnel(str(row[1]))} {
			switch stage {
			case "won":
				f.Won += n
			case "lost":
				f.Lost += n
				if reasons[f] == nil {
					reasons[f] = map[string]int64{}
				}
				reasons[f][str(row[3])] += n
			default:
				f.Open += n
			}
		}
	}
	finish := func(f *SourceFunnel) SourceFunnel {
		counts := reached[f]
		if counts == nil {
			counts = make([]int64, len(FunnelStages))
		}
		f.Reached = make([]StageCount, len(FunnelStages))
		for i, st := range FunnelStages {
			f.Reached[i] = StageCount{Stage: st, Leads: counts[i]}
			if r := rate.Of(counts[i], f.Leads); r != nil {
				f.Reached[i].Share = *r
			}
		}
		f.Conversion = rate.Of(f.Won, f.Leads)
		f.LostReasons = []ReasonCount{}
		for reason, n := range reasons[f] {
			f.LostReasons = append(f.LostReasons, ReasonCount{Reason: reason, Leads: n})
		}
		sort.Slice(f.LostReasons, func(i, j int) bool {
			if f.LostReasons[i].Leads != f.LostReasons[j].Leads {
				return f.LostReasons[i].Leads > f.LostReasons[j].Leads
			}
			return f.LostReasons[i].Reason < f.LostReasons[j].Reason
		})
		return *f
	}
	out := &LeadFunnelReport{From: r.From.Format(time.DateOnly), To: r.To.Format(time.DateOnly), Stages: FunnelStages,
		Total: finish(total), Sources: []SourceFunnel{}}
	for _, f := range bySource {
		out.Sources = append(out.Sources, finish(f))
	}
	sort.Slice(out.Sources, func(i, j int) bool {
		if out.Sources[i].Leads != out.Sources[j].Leads {
			return out.Sources[i].Leads > out.Sources[j].Leads
		}
		return out.Sources[i].Source < out.Sources[j].Source
	})
	return out, nil
}
