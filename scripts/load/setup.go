package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// institution is one provisioned tenant, as the virtual users see it.
type institution struct {
	slug       string
	teachers   []string // sign-in emails
	accountant string
	batches    []*batch
	students   []string // ids
}

// batch is one batch with its students and the sessions up to yesterday (all marked once in setup).
type batch struct {
	id       string
	teacher  int // index into institution.teachers
	students []string
	sessions []string
}

// setupOptions sizes each institution.
type setupOptions struct {
	tenants, teachers, students int
	password                    string
	adminEmail, adminPassword   string
	runID                       string
	// parallel is how many institutions are set up at once.
	parallel int
}

// provision creates the institutions through the API, as an operator and each owner would: the platform
// admin provisions the tenant; its owner adds a branch, teachers and an accountant, a course, a batch per
// teacher (weekday sessions from the first of last month for six months), students enrolled in them, a fee
// plan assigned to every enrolment, and marks every session up to yesterday once.
func provision(ctx context.Context, c *client, o setupOptions, progress func(done int)) ([]*institution, error) {
	var admin tokens
	if err := c.must(ctx, "POST", "/auth/login", "", map[string]string{"tenant": "platform", "email": o.adminEmail, "password": o.adminPassword}, http.StatusOK, &admin); err != nil {
		return nil, fmt.Errorf("sign in as the platform admin: %w", err)
	}
	out := make([]*institution, o.tenants)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.parallel, 1))
	var mu sync.Mutex
	done := 0
	for i := range o.tenants {
		g.Go(func() error {
			inst, err := provisionOne(gctx, c, admin.AccessToken, o, i)
			if err != nil {
				return err
			}
			out[i] = inst
			mu.Lock()
			defer mu.Unlock()
			done++
			if progress != nil {
				progress(done)
			}
			return nil
		})
	}
	return out, g.Wait()
}

func provisionOne(ctx context.Context, c *client, adminToken string, o setupOptions, i int) (*institution, error) {
	slug := fmt.Sprintf("load-%s-%02d", o.runID, i)
	inst := &institution{slug: slug}
	owner := "owner@" + slug + ".test"
	if err := c.must(ctx, "POST", "/platform/tenants", adminToken, map[string]any{"slug": slug, "name": "Load Institute " + slug,
		"owner": map[string]string{"name": "Owner " + slug, "email": owner, "password": o.password}}, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	var tok tokens
	if err := c.must(ctx, "POST", "/auth/login", "", map[string]string{"tenant": slug, "email": owner, "password": o.password}, http.StatusOK, &tok); err != nil {
		return nil, err
	}
	t := tok.AccessToken
	var branch idOnly
	if err := c.must(ctx, "POST", "/users/branches", t, map[string]string{"code": "MAIN", "name": "Main Campus"}, http.StatusCreated, &branch); err != nil {
		return nil, err
	}
	var teacherIDs []string
	for k := range o.teachers {
		email := fmt.Sprintf("teacher%d@%s.test", k, slug)
		var u idOnly
		if err := c.must(ctx, "POST", "/users/staff", t, map[string]any{"email": email, "name": fmt.Sprintf("Teacher %d", k), "role": "teacher",
			"branches": []string{branch.ID}, "password": o.password}, http.StatusCreated, &u); err != nil {
			return nil, err
		}
		inst.teachers = append(inst.teachers, email)
		teacherIDs = append(teacherIDs, u.ID)
	}
	inst.accountant = "accounts@" + slug + ".test"
	if err := c.must(ctx, "POST", "/users/staff", t, map[string]any{"email": inst.accountant, "name": "Accountant", "role": "accountant",
		"password": o.password}, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	var course idOnly
	if err := c.must(ctx, "POST", "/academic/courses", t, map[string]any{"code": "JEE-2027", "name": "JEE 2027",
		"subjects": []string{"Physics", "Chemistry", "Mathematics"}}, http.StatusCreated, &course); err != nil {
		return nil, err
	}
	today := time.Now().UTC()
	start := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0)
	end := start.AddDate(0, 6, -1)
	var slots []map[string]any
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday"} {
		slots = append(slots, map[string]any{"weekday": d, "start": "07:30", "duration_minutes": 90})
	}
	perBatch := (o.students + o.teachers - 1) / o.teachers
	for k := range o.teachers {
		var b idOnly
		if err := c.must(ctx, "POST", "/academic/batches", t, map[string]any{"course_id": course.ID, "branch_id": branch.ID,
			"name": fmt.Sprintf("Morning %d", k), "teachers": []string{teacherIDs[k]}, "capacity": perBatch,
			"start_date": start.Format(time.DateOnly), "end_date": end.Format(time.DateOnly), "schedule": slots}, http.StatusCreated, &b); err != nil {
			return nil, err
		}
		inst.batches = append(inst.batches, &batch{id: b.ID, teacher: k})
	}
	var plan idOnly
	if err := c.must(ctx, "POST", "/fees/plans", t, map[string]any{"name": "Term fee", "total": 45_000_00,
		"schedule": map[string]any{"kind": "count", "count": 3, "interval_months": 1}}, http.StatusCreated, &plan); err != nil {
		return nil, err
	}
	for k := range o.students {
		var st idOnly
		if err := c.must(ctx, "POST", "/students/", t, map[string]any{"name": fmt.Sprintf("Student %03d", k),
			"date_of_birth": fmt.Sprintf("%d-%02d-%02d", 2008+k%4, 1+k%12, 1+k%28), "phone": fmt.Sprintf("+9198%08d", i*10000+k),
			"branch_id": branch.ID, "password": o.password}, http.StatusCreated, &st); err != nil {
			return nil, err
		}
		b := inst.batches[k%len(inst.batches)]
		var e idOnly
		if err := c.must(ctx, "POST", "/students/enrolments", t, map[string]any{"student_id": st.ID, "batch_id": b.id,
			"from": start.Format(time.DateOnly)}, http.StatusCreated, &e); err != nil {
			return nil, err
		}
		if err := c.must(ctx, "POST", "/fees/assignments", t, map[string]any{"enrolment_id": e.ID, "plan_id": plan.ID}, http.StatusCreated, nil); err != nil {
			return nil, err
		}
		inst.students = append(inst.students, st.ID)
		b.students = append(b.students, st.ID)
	}
	// Sessions up to yesterday (UTC), so every tenant time zone has reached them, each marked once: the
	// load's markings are then corrections, as most markings after the first are.
	yesterday := today.AddDate(0, 0, -1).Format(time.DateOnly)
	for _, b := range inst.batches {
		cursor := ""
		for {
			var p page[struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}]
			path := "/academic/batches/" + b.id + "/sessions?limit=200&to=" + yesterday
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			if err := c.must(ctx, "GET", path, t, nil, http.StatusOK, &p); err != nil {
				return nil, err
			}
			for _, s := range p.Items {
				if s.Status == "scheduled" {
					b.sessions = append(b.sessions, s.ID)
				}
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		for _, s := range b.sessions {
			if err := c.must(ctx, "PUT", "/attendance/sessions/"+s+"/marks", t, marking(b.students, -1), http.StatusOK, nil); err != nil {
				return nil, err
			}
		}
	}
	return inst, nil
}

// marking marks every student present but the late-th (none when late is out of range).
func marking(students []string, late int) map[string]any {
	marks := make([]map[string]string, len(students))
	for k, s := range students {
		status := "present"
		if k == late {
			status = "late"
		}
		marks[k] = map[string]string{"student_id": s, "status": status}
	}
	return map[string]any{"marks": marks}
}
