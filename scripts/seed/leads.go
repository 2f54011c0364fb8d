package seed

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/all"
	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/leads"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/store"
)

// demoFunnel is how many demo leads end in each stage: a funnel that narrows from enquiry to admission.
var demoFunnel = []struct {
	stage leads.Stage
	count int
}{
	{leads.StageNew, 7}, {leads.StageContacted, 6}, {leads.StageDemoScheduled, 5}, {leads.StageDemoAttended, 4},
	{leads.StageNegotiation, 3}, {leads.StageWon, 4}, {leads.StageLost, 4},
}

// demoPaths is the way each stage is reached from new.
var demoPaths = map[leads.Stage][]leads.Stage{
	leads.StageNew:           {},
	leads.StageContacted:     {leads.StageContacted},
	leads.StageDemoScheduled: {leads.StageContacted, leads.StageDemoScheduled},
	leads.StageDemoAttended:  {leads.StageContacted, leads.StageDemoScheduled, leads.StageDemoAttended},
	leads.StageNegotiation:   {leads.StageContacted, leads.StageDemoScheduled, leads.StageDemoAttended, leads.StageNegotiation},
	leads.StageWon:           {leads.StageContacted, leads.StageDemoScheduled, leads.StageDemoAttended, leads.StageWon},
	leads.StageLost:          {leads.StageContacted, leads.StageLost},
}

var lostReasons = []string{"joined another institute", "fees too high", "timings do not suit", "moved to another city"}

// seedLeads gives the demo institution a funnel of 33 leads from every source at every stage, most of
// them assigned to the demo counsellor, with notes, follow-ups (some overdue) and two won leads converted
// into enrolled, billed students. It runs after seedFees, so a plan exists to bill the converted students
// with. tctx is the owner's request-like context.
func seedLeads(tctx context.Context, a *app.App, password string, main, north *users.Branch) error {
	db := store.Database(tctx)
	counsellor, err := account.ByEmail(tctx, db, "counsellor@demo.test")
	if err != nil {
		return fmt.Errorf("seed leads: counsellor: %w", err)
	}
	course, err := academic.FindCourseByCode(tctx, db, "JEE-2027")
	if err != nil {
		return fmt.Errorf("seed leads: %w", err)
	}
	batches, err := academic.FindBatches(tctx, db)
	if err != nil {
		return fmt.Errorf("seed leads: %w", err)
	}
	i := slices.IndexFunc(batches, func(b academic.Batch) bool { return b.BranchID == main.ID && b.CourseID == course.ID })
	if i < 0 {
		return fmt.Errorf("seed leads: no %s batch in branch %s", course.Code, main.ID)
	}
	batch := batches[i]
	// Converted leads become students, whose accounts take the seeded learners' light hashing (students.go).
	learners := *a
	learners.Passwords = demoLearnerPasswords
	svcs := all.Build(&learners, all.Options{})
	svc := svcs.Leads
	plans, err := svcs.Fees.ListPlans(tctx, httpapi.PageRequest{Limit: httpapi.MaxLimit})
	if err != nil {
		return fmt.Errorf("seed leads: %w", err)
	}
	p := slices.IndexFunc(plans.Items, func(pl fees.Plan) bool { return pl.Active })
	if p < 0 {
		return fmt.Errorf("seed leads: no active fee plan")
	}
	plan := plans.Items[p]
	now := a.Clock.Now().UTC().Truncate(time.Millisecond)
	var followUps []leads.FollowUp
	converted := 0
	// One transaction for the whole funnel: on the local stack every commit rewrites the database file.
	seeded := 0
	err = store.Tx(tctx, db, func(tc context.Context) error {
		followUps, converted = followUps[:0], 0 // the driver may run this function again
		i := 0
		for _, f := range demoFunnel {
			for range f.count {
				branch, counsellorID := main, counsellor.ID
				if i%3 == 2 {
					branch = north
				}
				if f.stage == leads.StageNew && i%2 == 0 {
					counsellorID = "" // the unassigned pool
				}
				in := leads.NewLead{
					Name:   firstNames[(i+7)%len(firstNames)] + " " + lastNames[(i+3)%len(lastNames)],
					Phone:  fmt.Sprintf("+9199%08d", 30000000+i),
					Source: leads.Sources[i%len(leads.Sources)], BranchID: branch.ID, CounsellorID: counsellorID,
				}
				if i%4 == 0 {
					in.Email = fmt.Sprintf("enquiry%02d@example.com", i)
				}
				if i%2 == 0 {
					in.CourseID = course.ID
				}
				l, err := svc.CreateLead(tc, in)
				if err != nil {
					return fmt.Errorf("seed lead %d: %w", i, err)
				}
				for _, st := range demoPaths[f.stage] {
					c := leads.StageChange{Stage: st}
					if st == leads.StageLost {
						c.LostReason = lostReasons[i%len(lostReasons)]
					}
					if l, err = svc.ChangeStage(tc, l.ID, c); err != nil {
						return fmt.Errorf("seed lead %d to %s: %w", i, st, err)
					}
				}
				if i%3 == 0 {
					if _, err := svc.AddNote(tc, l.ID, leads.NewNote{Note: "Asked about weekend batches and the scholarship test."}); err != nil {
						return fmt.Errorf("seed note: %w", err)
					}
				}
				// Follow-ups of the open leads, a third of them already overdue. The past ones are written
				// directly: the API only schedules follow-ups in the future.
				if f.stage != leads.StageWon && f.stage != leads.StageLost && l.CounsellorID != "" {
					due := now.Add(time.Duration(i%5+1) * 24 * time.Hour)
					if i%3 == 0 {
						due = now.Add(-time.Duration(i%4+1) * 6 * time.Hour)
					}
					followUps = append(followUps, leads.FollowUp{ID: id.New(), LeadID: l.ID, BranchID: l.BranchID, CounsellorID: l.CounsellorID,
						DueAt: due, Note: "Call back about the demo class", CreatedBy: counsellor.ID, CreatedAt: now})
				}
				if f.stage == leads.StageWon && branch == main && converted < 2 {
					_, _, err := svc.Convert(tc, l.ID, fmt.Sprintf("seed-conversion-%02d", i), leads.ConvertLead{
						DateOfBirth: fmt.Sprintf("2009-%02d-15", 1+i%12), Password: password, BatchID: batch.ID, PlanID: plan.ID,
					})
					if err != nil {
						return fmt.Errorf("seed conversion of lead %d: %w", i, err)
					}
					converted++
				}
				i++
			}
		}
		if err := leads.ImportFollowUps(tc, db, followUps); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		seeded = i
		return nil
	})
	if err != nil {
		return err
	}
	a.Logger.Info("seeded the admissions funnel", slog.Int("leads", seeded), slog.Int("follow_ups", len(followUps)), slog.Int("converted", converted))
	return nil
}
