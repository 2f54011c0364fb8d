// Package conformance checks that the two warehouse engines agree: BigQuery (production), run against
// the BigQuery emulator (github.com/goccy/bigquery-emulator, which executes GoogleSQL through ZetaSQL and
// implements the Storage Write API), and DuckDB (the local stack and the other end-to-end tests).
//
// The suite (conformance_test.go) creates every warehouse table on both engines, ingests the same change
// events (Events) through triggers/ingest, replays them duplicated and shuffled, and then requires the
// same live rows in every table and the same answer from every available report of the analytics
// catalogue, called through the real HTTP handlers. It runs only when EDUGRID_BIGQUERY_EMULATOR names a
// running emulator; scripts/bqemu.sh builds and starts one, and .ci/run does both.
package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/edugrid/edugrid/shared/events"
)

// Tenants are the tenants Events writes for: reports are compared for each, and each one's numbers
// differ, so a report reading the wrong tenant's rows cannot agree by accident.
var Tenants = []string{"acme", "rival"}

// First and Last bound the calendar days Events' documents fall on.
var (
	First = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	Last  = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
)

// Events returns a deterministic history of change events for every collection in collections (the
// analysed collections, events.AnalysedCollections()) and the collections it has no generator for. Each
// tenant gets branches, batches, staff, students and their enrolments, attendance sheets, fee instalments
// and payments, tests and results, leads and learning activity; documents are inserted, updated (a
// payment settles an instalment, a student is transferred) and some deleted, so the current-state rules
// (newest version wins, tombstones hide) matter for the reports. Documents have the shape the areas store
// (relaxed Extended JSON), with the odd absent field an older writer would have left.
func Events(collections []string) (evs []*events.Event, missing []string) {
	for i, slug := range Tenants {
		g := &gen{tenant: slug, rng: rand.New(rand.NewPCG(uint64(i)+1, 42)), scale: 1 + (len(Tenants) - 1 - i), seq: uint32(i) << 24}
		g.build()
		evs = append(evs, g.evs...)
		if i == 0 {
			for _, c := range collections {
				if !g.seen[c] {
					missing = append(missing, c)
				}
			}
		}
	}
	return evs, missing
}

type gen struct {
	tenant string
	rng    *rand.Rand
	scale  int // acme is twice rival's size
	seq    uint32
	clock  uint32 // cluster time seconds of the next event
	evs    []*events.Event
	seen   map[string]bool
	ids    uint32

	branches, courses, staff, counsellors []string
	batches                               []batch
	students                              []student
	lessons                               []lesson
}

type batch struct{ id, branch, course, name string }

type student struct {
	id, branch string
	batch      batch
	from       time.Time
}

type lesson struct{ id, course string }

// id returns a fresh 24-hex document id; kind keeps ids of different collections apart.
func (g *gen) id(kind byte) string {
	g.ids++
	return fmt.Sprintf("%02x%06x%016x", kind, g.seq>>24, uint64(g.ids))
}

func (g *gen) emit(op events.Op, coll, id string, doc map[string]any) {
	g.tick()
	g.evs = append(g.evs, g.event(op, coll, id, doc, ""))
}

// tick advances the cluster time to the next write's.
func (g *gen) tick() {
	if g.seen == nil {
		g.seen = map[string]bool{}
		g.clock = uint32(time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC).Unix())
	}
	g.seq++
	g.clock += 1 + uint32(g.rng.IntN(3))
}

// event makes one event at the current cluster time; within names its place in a transaction (hex
// digits appended to the position), "" outside one.
func (g *gen) event(op events.Op, coll, id string, doc map[string]any, within string) *events.Event {
	g.seen[coll] = true
	at := events.ClusterTime{T: g.clock, I: g.seq & 0xffff}
	e := &events.Event{V: events.Version, ID: events.IDFromToken(fmt.Appendf(nil, "%s/%d/%s", g.tenant, g.seq, within)), Tenant: g.tenant,
		Collection: coll, Op: op, DocumentID: id, Time: at, Position: events.PositionFromTimestamp(at) + within}
	if doc != nil {
		b, err := json.Marshal(doc)
		if err != nil {
			panic(err) // the documents are built here from plain values
		}
		e.Document = b
	}
	if op == events.Update {
		e.Updated = json.RawMessage(`{"updated_at":1}`)
	}
	return e
}

// write is one write of a transaction (txn).
type write struct {
	op       events.Op
	coll, id string
	doc      map[string]any // marshalled when txn is called
}

// txn emits the writes of one MongoDB transaction: they share one cluster time and differ only in their
// position, which grows in write order (as the resume token's transaction index does). newestFirst
// delivers them in the opposite order, as Pub/Sub may; either way the last write must win.
func (g *gen) txn(newestFirst bool, ws ...write) {
	g.tick()
	evs := make([]*events.Event, len(ws))
	for i, w := range ws {
		evs[i] = g.event(w.op, w.coll, w.id, w.doc, fmt.Sprintf("2B%02X", 2*i))
	}
	if newestFirst {
		slices.Reverse(evs)
	}
	g.evs = append(g.evs, evs...)
}

func date(t time.Time) map[string]any {
	return map[string]any{"$date": t.UTC().Format(time.RFC3339Nano)}
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// dayIn returns a random day between First and Last.
func (g *gen) dayIn() time.Time {
	return First.AddDate(0, 0, g.rng.IntN(int(Last.Sub(First).Hours()/24)+1))
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *gen) build() {
	g.org()
	g.people()
	g.attendance()
	g.fees()
	g.exams()
	g.leads()
	g.learning()
}

func (g *gen) org() {
	for i := range 2 + g.scale {
		id := g.id(1)
		g.branches = append(g.branches, id)
		doc := map[string]any{"code": fmt.Sprintf("BR%d", i), "name": fmt.Sprintf("Branch %d", i), "active": true, "created_at": date(First.Add(time.Duration(i) * time.Hour))}
		g.emit(events.Insert, "branches", id, doc)
		if i == 0 {
			doc["name"] = "Main branch"
			g.emit(events.Update, "branches", id, doc)
		}
	}
	for range 3 {
		g.courses = append(g.courses, g.id(17))
	}
	for i := range 3 * g.scale {
		b := batch{id: g.id(2), branch: g.branches[i%len(g.branches)], course: g.courses[i%len(g.courses)], name: fmt.Sprintf("Batch %c", 'A'+i)}
		g.batches = append(g.batches, b)
		g.emit(events.Insert, "batches", b.id, map[string]any{"course_id": b.course, "branch_id": b.branch, "name": b.name, "capacity": 20 + 5*i})
	}
	// A batch renamed, and one deleted: the attendance report names batches through a join.
	g.emit(events.Update, "batches", g.batches[0].id, map[string]any{"course_id": g.batches[0].course, "branch_id": g.batches[0].branch, "name": "Morning JEE", "capacity": 40})
	g.batches[0].name = "Morning JEE"
	// One transaction renames a batch twice (one cluster time), delivered newest first: the second name
	// must win on both engines.
	b1 := g.batches[1]
	first := map[string]any{"course_id": b1.course, "branch_id": b1.branch, "name": "Evening NEET (draft)", "capacity": 30}
	second := maps.Clone(first)
	second["name"], second["capacity"] = "Evening NEET", 35
	g.txn(true, write{events.Update, "batches", b1.id, first}, write{events.Update, "batches", b1.id, second})
	g.batches[1].name = "Evening NEET"
	last := g.batches[len(g.batches)-1]
	g.emit(events.Delete, "batches", last.id, nil)
}

func (g *gen) people() {
	roles := []string{"owner", "branch_admin", "teacher", "teacher", "accountant", "counsellor", "teacher"}
	for i := range 5 * g.scale {
		id := g.id(3)
		role := roles[i%len(roles)]
		if i == 0 {
			role = "owner"
		}
		var branches []string
		switch {
		case role == "owner":
		case i%5 == 0:
			branches = []string{g.branches[0], g.branches[1]}
		default:
			branches = []string{g.pick(g.branches)}
		}
		doc := map[string]any{"role": role, "status": "active", "branches": branches, "created_at": date(First.Add(time.Duration(i) * 36 * time.Hour)),
			"email": fmt.Sprintf("staff%d@%s.test", i, g.tenant)}
		if branches == nil {
			delete(doc, "branches") // owners have no branch list
		}
		g.emit(events.Insert, "users", id, doc)
		g.staff = append(g.staff, id)
		if role == "counsellor" {
			g.counsellors = append(g.counsellors, id)
		}
		switch i % 6 {
		case 3:
			doc["status"] = "disabled"
			g.emit(events.Update, "users", id, doc)
		case 4:
			g.emit(events.Delete, "users", id, nil)
		}
		g.emit(events.Insert, "audit_log", g.id(4), map[string]any{"action": "staff.create", "actor": map[string]any{"id": g.staff[0], "role": "owner"},
			"target": map[string]any{"kind": "staff", "id": id}, "at": date(First.Add(time.Duration(i) * 36 * time.Hour))})
	}
	if len(g.counsellors) == 0 {
		g.counsellors = []string{g.staff[0]}
	}
	for i := range 12 * g.scale {
		st := student{id: g.id(5), batch: g.batches[g.rng.IntN(len(g.batches)-1)]}
		st.branch = st.batch.branch
		st.from = g.dayIn()
		g.students = append(g.students, st)
		g.emit(events.Insert, "users", g.id(3), map[string]any{"role": "student", "status": "active", "branches": []string{st.branch}, "created_at": date(st.from)})
		sdoc := map[string]any{"prn": fmt.Sprintf("%04d926%06d%d", 1+g.seq>>24, i, i%10), "branch_id": st.branch, "status": "active",
			"created_at": date(st.from.Add(9 * time.Hour))}
		g.emit(events.Insert, "students", st.id, sdoc)
		enr := g.id(6)
		doc := map[string]any{"student_id": st.id, "batch_id": st.batch.id, "branch_id": st.branch, "course_id": st.batch.course, "from": day(st.from), "to": "", "status": "active"}
		g.emit(events.Insert, "enrolments", enr, doc)
		switch i % 7 {
		case 2: // transferred to another batch: the first enrolment ends, a second one starts
			until := st.from.AddDate(0, 0, 10+g.rng.IntN(40))
			doc["to"], doc["status"] = day(until), "transferred"
			g.emit(events.Update, "enrolments", enr, doc)
			next := g.batches[(i+1)%(len(g.batches)-1)]
			g.emit(events.Insert, "enrolments", g.id(6), map[string]any{"student_id": st.id, "batch_id": next.id, "branch_id": next.branch,
				"course_id": next.course, "from": day(until), "to": "", "status": "active"})
		case 4: // withdrawn
			doc["to"], doc["status"] = day(st.from.AddDate(0, 1, 3)), "withdrawn"
			g.emit(events.Update, "enrolments", enr, doc)
			sdoc["status"] = "inactive"
			g.emit(events.Update, "students", st.id, sdoc)
		case 6: // entered by mistake and deleted
			g.emit(events.Delete, "enrolments", enr, nil)
		}
	}
}

func (g *gen) attendance() {
	statuses := []string{"present", "present", "present", "late", "absent", "excused"}
	for _, b := range g.batches[:len(g.batches)-1] {
		var roster []string
		for _, st := range g.students {
			if st.batch.id == b.id {
				roster = append(roster, st.id)
			}
		}
		if len(roster) == 0 {
			roster = []string{g.students[0].id}
		}
		for s := range 6 + 2*g.scale {
			sheet := g.id(7)
			on := First.AddDate(0, 0, 3+s*(150/(6+2*g.scale))+g.rng.IntN(5))
			marks := func() []any {
				var out []any
				for _, st := range roster {
					out = append(out, map[string]any{"student_id": st, "status": statuses[g.rng.IntN(len(statuses))], "marked_at": date(on.Add(10 * time.Hour))})
				}
				return out
			}
			doc := map[string]any{"batch_id": b.id, "branch_id": b.branch, "date": day(on), "marks": marks(), "updated_at": date(on.Add(10 * time.Hour))}
			g.emit(events.Insert, "attendance_sheets", sheet, doc)
			switch s % 5 {
			case 1: // marks corrected: the newest sheet wins, its old counts must not add up
				doc["marks"] = marks()
				g.emit(events.Update, "attendance_sheets", sheet, doc)
			case 3:
				g.emit(events.Delete, "attendance_sheets", sheet, nil)
			case 4: // corrected twice in one transaction: its second marks are the live ones
				first := maps.Clone(doc)
				first["marks"] = marks()
				doc["marks"] = marks()[:max(1, len(roster)-1)]
				g.txn(s%2 == 0, write{events.Update, "attendance_sheets", sheet, first}, write{events.Update, "attendance_sheets", sheet, doc})
			}
		}
	}
}

func (g *gen) fees() {
	for i, st := range g.students {
		amount := int64(5000 * (1 + i%4))
		var ids []string
		var docs []map[string]any
		for k := range 3 {
			id := g.id(8)
			due := st.from.AddDate(0, k, 0)
			doc := map[string]any{"student_id": st.id, "batch_id": st.batch.id, "branch_id": st.branch, "due_date": day(due), "currency": "INR",
				"amount": amount, "late_fee": 0, "paid": 0, "waived": 0, "outstanding": amount, "status": "open"}
			if i%11 == 5 && k == 2 {
				delete(doc, "late_fee") // written before late fees existed: due and outstanding sums meet a NULL
			}
			g.emit(events.Insert, "fee_instalments", id, doc)
			ids, docs = append(ids, id), append(docs, doc)
		}
		// Payments settle the oldest instalments; some get a late fee or a waiver first.
		paid := int64(0)
		for k := range 1 + i%3 {
			on := st.from.AddDate(0, k, g.rng.IntN(20)-5)
			if on.After(Last) {
				break
			}
			pay := amount
			if k == 1 && i%2 == 0 {
				pay = amount / 2 // a part payment
			}
			refunded := int64(0)
			if i%9 == 4 {
				refunded = pay / 4
			}
			g.emit(events.Insert, "fee_payments", g.id(9), map[string]any{"student_id": st.id, "branch_id": st.branch, "paid_on": day(on), "currency": "INR",
				"amount": pay, "refunded": refunded, "method": []string{"cash", "upi", "card"}[k%3], "receipt_no": i*10 + k})
			paid += pay
			doc := docs[k]
			if i%4 == 1 {
				doc["late_fee"] = int64(250)
			}
			doc["paid"] = pay
			out := amount + toInt(doc["late_fee"]) - pay
			doc["outstanding"] = out
			if out == 0 {
				doc["status"] = "settled"
			}
			g.emit(events.Update, "fee_instalments", ids[k], doc)
		}
		if i%6 == 3 {
			doc := docs[2]
			doc["waived"] = amount / 5
			doc["outstanding"] = amount - amount/5 - toInt(doc["paid"])
			g.emit(events.Update, "fee_instalments", ids[2], doc)
		}
		if i%10 == 7 {
			g.emit(events.Delete, "fee_instalments", ids[1], nil)
		}
	}
}

func toInt(v any) int64 {
	n, _ := v.(int64)
	if i, ok := v.(int); ok {
		return int64(i)
	}
	return n
}

func (g *gen) exams() {
	subjects := []string{"Physics", "Chemistry", "Maths"}
	for i, b := range g.batches[:len(g.batches)-1] {
		for k := range 2 {
			test := g.id(10)
			on := First.AddDate(0, 1+2*k, i)
			maxMarks := float64(50 * (1 + k))
			g.emit(events.Insert, "exam_tests", test, map[string]any{"batch_id": b.id, "branch_id": b.branch, "course_id": b.course, "subject": subjects[(i+k)%3],
				"name": fmt.Sprintf("Unit test %d", k+1), "date": day(on), "max_marks": maxMarks, "weight": 0.5 + 0.25*float64(k)})
			for j, st := range g.students {
				if st.batch.id != b.id {
					continue
				}
				status := "present"
				doc := map[string]any{"test_id": test, "batch_id": b.id, "branch_id": b.branch, "course_id": b.course, "subject": subjects[(i+k)%3],
					"date": day(on), "student_id": st.id, "status": status, "max_marks": maxMarks}
				switch j % 8 {
				case 3:
					doc["status"] = "absent"
				case 5:
					doc["status"] = "exempt"
				default:
					doc["marks"] = float64(g.rng.IntN(int(maxMarks)*2+1)) / 2 // half marks
				}
				res := g.id(11)
				g.emit(events.Insert, "exam_results", res, doc)
				if j%4 == 1 && doc["marks"] != nil { // re-marked
					doc["marks"] = doc["marks"].(float64) + 0.5
					g.emit(events.Update, "exam_results", res, doc)
				}
			}
		}
	}
}

func (g *gen) leads() {
	sources := []string{"walk_in", "website", "referral", "campaign"}
	funnel := []string{"new", "contacted", "visited", "applied", "converted"}
	for i := range 15 * g.scale {
		id := g.id(12)
		created := First.Add(time.Duration(g.rng.IntN(170*24)) * time.Hour)
		doc := map[string]any{"branch_id": g.pick(g.branches), "source": sources[i%len(sources)], "stage": "new", "counsellor_id": g.pick(g.counsellors),
			"course_id": g.pick(g.courses), "created_at": date(created), "stages": []any{map[string]any{"stage": "new", "at": date(created)}}}
		g.emit(events.Insert, "leads", id, doc)
		reach := g.rng.IntN(len(funnel))
		at := created
		for s := 1; s <= reach; s++ {
			at = at.Add(time.Duration(1+g.rng.IntN(72)) * time.Hour)
			doc["stage"] = funnel[s]
			doc["stages"] = append(doc["stages"].([]any), map[string]any{"stage": funnel[s], "at": date(at)})
			if funnel[s] == "converted" {
				doc["student_id"], doc["converted_at"] = g.students[i%len(g.students)].id, date(at)
			}
			g.emit(events.Update, "leads", id, doc)
		}
		switch {
		case reach < len(funnel)-1 && i%4 == 2:
			doc["stage"], doc["lost_reason"] = "lost", "fees"
			doc["stages"] = append(doc["stages"].([]any), map[string]any{"stage": "lost", "at": date(at.Add(24 * time.Hour))})
			g.emit(events.Update, "leads", id, doc)
		case i%9 == 8:
			g.emit(events.Delete, "leads", id, nil)
		}
	}
}

func (g *gen) learning() {
	for c, course := range g.courses {
		for k := range 4 {
			l := lesson{id: g.id(13), course: course}
			g.lessons = append(g.lessons, l)
			status := "published"
			if k == 3 {
				status = "draft"
			}
			g.emit(events.Insert, "learning_lessons", l.id, map[string]any{"course_id": course, "module_id": fmt.Sprintf("m%d-%d", c, k/2),
				"title": fmt.Sprintf("Lesson %d", k+1), "order": k + 1, "status": status})
		}
	}
	kinds := []string{"viewed", "viewed", "completed", "quiz_attempted"}
	for i, st := range g.students {
		var mine []lesson
		for _, l := range g.lessons {
			if l.course == st.batch.course {
				mine = append(mine, l)
			}
		}
		done := 0
		var lastAt time.Time
		for k := range 3 + i%4 {
			l := mine[k%len(mine)]
			at := st.from.Add(time.Duration(24*k+g.rng.IntN(20)) * time.Hour)
			kind := kinds[(i+k)%len(kinds)]
			doc := map[string]any{"student_id": st.id, "course_id": l.course, "batch_id": st.batch.id, "lesson_id": l.id, "item_id": l.id + "/video",
				"kind": kind, "at": date(at), "day": day(at)}
			if kind == "viewed" {
				doc["seconds"] = 60 * (1 + g.rng.IntN(30))
			}
			if kind == "completed" {
				done++
			}
			g.emit(events.Insert, "learning_interactions", g.id(14), doc)
			lastAt = at
			if kind == "quiz_attempted" {
				attempt := g.id(15)
				var answers []any
				score := 0.0
				for q := range 4 {
					correct := g.rng.IntN(3) > 0
					if correct {
						score++
					}
					answers = append(answers, map[string]any{"question_id": fmt.Sprintf("q%d", q+1), "correct": correct, "chosen": []string{fmt.Sprintf("o%d", g.rng.IntN(4))}})
				}
				doc := map[string]any{"student_id": st.id, "course_id": l.course, "batch_id": st.batch.id, "lesson_id": l.id, "quiz_id": l.id,
					"attempt": 1, "score": score, "max_score": 4.0, "submitted_at": date(at), "day": day(at), "answers": answers}
				g.emit(events.Insert, "quiz_attempts", attempt, doc)
				if i%3 == 0 { // the teacher regrades one answer
					answers[0] = map[string]any{"question_id": "q1", "correct": true, "chosen": []string{"o0"}}
					doc["answers"], doc["score"] = answers, score+1
					g.emit(events.Update, "quiz_attempts", attempt, doc)
				}
			}
		}
		g.emit(events.Insert, "learning_progress", g.id(16), map[string]any{"student_id": st.id, "course_id": st.batch.course, "batch_id": st.batch.id,
			"lessons_completed": done, "lessons_total": len(mine), "percent": float64(100*done) / float64(len(mine)), "last_activity_at": date(lastAt)})
	}
}
