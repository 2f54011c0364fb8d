package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Shares of a virtual user's requests after its sign-in, in per mille: a staff member mostly reads, now
// and then records something (a teacher corrects a session's marks, an accountant records a payment),
// and rarely refreshes the sign-in.
const (
	writePerMille   = 150
	refreshPerMille = 10
)

// replayPerMille of payments are sent a second time with the same Idempotency-Key and body, as a client
// retrying after a lost answer does; the stack must answer the original receipt.
const replayPerMille = 50

// budget bounds the run by count and time; each request takes one ticket.
type budget struct {
	left     atomic.Int64
	deadline time.Time
}

func (b *budget) take() bool {
	if time.Now().After(b.deadline) {
		return false
	}
	return b.left.Add(-1) >= 0
}

// user is one virtual user: a teacher or an accountant of one institution, signed in once.
type user struct {
	n       int
	inst    *institution
	teacher int // index of the teacher account; -1 for the accountant
	c       *client
	rng     *rand.Rand
	rec     *local
	tok     tokens
	pays    int
	last    *payment
	from    string
	to      string
	pass    string
	every   time.Duration // open loop: one request per every, on a fixed schedule; 0 for back to back
	first   time.Time     // open loop: the first request's slot
	slot    time.Time     // open loop: the scheduled time of the request about to be sent
}

type payment struct {
	key  string
	body map[string]any
}

// run signs in, then sends requests until the budget is spent or ctx ends.
func (u *user) run(ctx context.Context, b *budget) {
	email := u.inst.accountant
	if u.teacher >= 0 {
		email = u.inst.teachers[u.teacher]
	}
	if !b.take() {
		return
	}
	if !u.timed(ctx, kindLogin, "POST", "/auth/login", "", map[string]string{"tenant": u.inst.slug, "email": email, "password": u.pass}, nil, http.StatusOK, &u.tok) {
		return // without a token nothing else would succeed
	}
	next := u.first
	for ctx.Err() == nil && b.take() {
		if u.every > 0 {
			if d := time.Until(next); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			u.slot, next = next, next.Add(u.every)
		}
		switch p := u.rng.IntN(1000); {
		case p < refreshPerMille:
			var next tokens
			if u.timed(ctx, kindRefresh, "POST", "/auth/refresh", "", map[string]string{"refresh_token": u.tok.RefreshToken}, nil, http.StatusOK, &next) {
				u.tok = next
			}
		case p < refreshPerMille+writePerMille:
			if u.teacher >= 0 {
				u.mark(ctx)
			} else {
				u.pay(ctx)
			}
		default:
			u.read(ctx)
		}
	}
}

// read sends one of the reads the role's screens make.
func (u *user) read(ctx context.Context) {
	inst := u.inst
	b := inst.batches[u.rng.IntN(len(inst.batches))]
	if u.teacher >= 0 {
		b = inst.batches[u.teacher]
	}
	student := b.students[u.rng.IntN(len(b.students))]
	var path string
	if u.teacher >= 0 {
		switch u.rng.IntN(5) {
		case 0:
			path = "/students/?batch=" + b.id + "&limit=50"
		case 1:
			path = "/academic/batches/" + b.id + "/sessions?limit=20&from=" + u.from
		case 2:
			path = "/attendance/batches/" + b.id + "/summary?from=" + u.from + "&to=" + u.to
		case 3:
			path = "/attendance/students/" + student + "/summary?from=" + u.from + "&to=" + u.to
		default:
			path = "/attendance/sessions/" + b.sessions[u.rng.IntN(len(b.sessions))] + "/marks"
		}
	} else {
		switch u.rng.IntN(4) {
		case 0:
			path = "/fees/dues/students/" + student
		case 1:
			path = "/fees/dues?batch=" + b.id
		case 2:
			path = "/fees/payments?student=" + student
		default:
			path = "/students/?limit=50"
		}
	}
	u.timed(ctx, kindRead, "GET", path, u.tok.AccessToken, nil, nil, http.StatusOK, nil)
}

// mark corrects a past session of the teacher's batch: one student in ten such corrections is late.
func (u *user) mark(ctx context.Context) {
	b := u.inst.batches[u.teacher]
	late := -1
	if u.rng.IntN(10) == 0 {
		late = u.rng.IntN(len(b.students))
	}
	ses := b.sessions[u.rng.IntN(len(b.sessions))]
	u.timed(ctx, kindMark, "PUT", "/attendance/sessions/"+ses+"/marks", u.tok.AccessToken, marking(b.students, late), nil, http.StatusOK, nil)
}

// pay records a payment with a fresh Idempotency-Key, or now and then sends the last one again.
func (u *user) pay(ctx context.Context) {
	if u.last != nil && u.rng.IntN(1000) < replayPerMille {
		u.timed(ctx, kindPay, "POST", "/fees/payments", u.tok.AccessToken, u.last.body, map[string]string{"Idempotency-Key": u.last.key}, http.StatusOK, nil)
		return
	}
	u.pays++
	p := &payment{
		key: fmt.Sprintf("load-%s-%d-%d", u.inst.slug, u.n, u.pays),
		body: map[string]any{"student_id": u.inst.students[u.rng.IntN(len(u.inst.students))], "amount": 500_00 + u.rng.IntN(100)*100,
			"method": "cash"},
	}
	if u.timed(ctx, kindPay, "POST", "/fees/payments", u.tok.AccessToken, p.body, map[string]string{"Idempotency-Key": p.key}, http.StatusCreated, nil) {
		u.last = p
	}
}

// timed sends one request, records its latency under kind, and reports whether it got status want. In
// the open loop the latency runs from the request's scheduled slot, which may have passed.
func (u *user) timed(ctx context.Context, kind, method, path, token string, body any, header map[string]string, want int, out any) bool {
	start := time.Now()
	if !u.slot.IsZero() {
		start, u.slot = u.slot, time.Time{}
	}
	a, err := u.c.do(ctx, method, path, token, body, header)
	d := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return false // the run ended mid-request: not the stack's failure
		}
		u.rec.fail(kind, "transport", err.Error(), d)
		return false
	}
	if a.status != want {
		u.rec.fail(kind, strconv.Itoa(a.status), method+" "+path+": "+string(bytes.TrimSpace(a.body)), d)
		return false
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			u.rec.fail(kind, "undecodable", err.Error(), d)
			return false
		}
	}
	u.rec.ok(kind, d)
	return true
}
