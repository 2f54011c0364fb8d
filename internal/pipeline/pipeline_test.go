package pipeline_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/internal/apptest"
	"github.com/edugrid/edugrid/internal/pipeline"
	"github.com/edugrid/edugrid/internal/wiretest"
	"github.com/edugrid/edugrid/shared/events"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/duckdb"
	"github.com/edugrid/edugrid/triggers/ingest"
)

func start(t testing.TB, env *apptest.Env, path string) *pipeline.Local {
	t.Helper()
	wiretest.RequireChangeStreams(t)
	l, err := pipeline.Start(context.Background(), env.App, pipeline.Options{WarehousePath: path, CheckpointEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	env.Warehouse.Set(l.Warehouse)
	t.Cleanup(l.Stop)
	return l
}

// eventually polls cond until it holds or 15 s pass: the pipeline is asynchronous by design.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 15 s; last state %s", what, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type staffReport struct {
	Roles []struct {
		Role     string           `json:"role"`
		Total    int64            `json:"total"`
		ByBranch map[string]int64 `json:"by_branch"`
	} `json:"roles"`
}

func staffCounts(t testing.TB, env *apptest.Env, token string) (map[string]int64, string) {
	t.Helper()
	rec := env.Do("GET", "/analytics/staff", token, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("staff report: %d %s", rec.Code, rec.Body)
	}
	out := map[string]int64{}
	for _, r := range apptest.Decode[staffReport](t, rec).Roles {
		out[r.Role] = r.Total
	}
	return out, rec.Body.String()
}

func createStaff(t testing.TB, env *apptest.Env, token, email, role string, branches []string) {
	t.Helper()
	rec := env.Do("POST", "/users/staff", token, map[string]any{"email": email, "name": "Staff " + email, "role": role, "branches": branches, "password": apptest.Password})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create staff %s: %d %s", email, rec.Code, rec.Body)
	}
}

func createBranch(t testing.TB, env *apptest.Env, token, code string) string {
	t.Helper()
	rec := env.Do("POST", "/users/branches", token, map[string]string{"code": code, "name": "Branch " + code})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create branch: %d %s", rec.Code, rec.Body)
	}
	return apptest.Decode[struct {
		ID string `json:"id"`
	}](t, rec).ID
}

// API writes reach the reports through the whole local wiring (change stream, relay, pstest, ingest,
// DuckDB), for tenants on two clusters, and no tenant's report counts another's rows.
func TestEndToEnd(t *testing.T) {
	env := apptest.New(t)
	l := start(t, env, "")
	if len(l.Relays) != 2 {
		t.Fatalf("%d relays, want one per cluster", len(l.Relays))
	}
	env.Provision("acme")
	rec := env.Do("POST", "/platform/tenants", env.AdminToken(), map[string]any{"slug": "rival", "name": "Rival", "cluster": "second",
		"owner": map[string]string{"name": "R", "email": "owner@rival.test", "password": apptest.Password}})
	if rec.Code != http.StatusCreated {
		t.Fatalf("provision on the second cluster: %d %s", rec.Code, rec.Body)
	}
	acme := env.Login("acme", "owner@acme.test").AccessToken
	rival := env.Login("rival", "owner@rival.test").AccessToken

	main := createBranch(t, env, acme, "MAIN")
	createStaff(t, env, acme, "t1@acme.test", "teacher", []string{main})
	createStaff(t, env, acme, "t2@acme.test", "teacher", []string{main})
	createStaff(t, env, acme, "acc@acme.test", "accountant", nil)
	createStaff(t, env, rival, "t1@rival.test", "teacher", []string{createBranch(t, env, rival, "HQ")})

	eventually(t, "acme staff in the report", func() (bool, string) {
		c, body := staffCounts(t, env, acme)
		return reflect.DeepEqual(c, map[string]int64{"owner": 1, "teacher": 2, "accountant": 1}), body
	})
	eventually(t, "rival staff in the report", func() (bool, string) {
		c, body := staffCounts(t, env, rival)
		return reflect.DeepEqual(c, map[string]int64{"owner": 1, "teacher": 1}), body
	})

	// A status change is an update: the newest version replaces the old one, it is not counted twice.
	rec = env.Do("GET", "/users/staff?role=teacher", acme, nil)
	teacherID := apptest.Decode[struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}](t, rec).Items[0].ID
	if rec = env.Do("PATCH", "/users/staff/"+teacherID, acme, map[string]string{"status": "disabled"}); rec.Code != http.StatusOK {
		t.Fatalf("disable teacher: %d %s", rec.Code, rec.Body)
	}
	eventually(t, "disabled teacher leaves the report", func() (bool, string) {
		c, body := staffCounts(t, env, acme)
		return c["teacher"] == 1, body
	})

	// Attendance: a session's sheet as the attendance area stores it, written to the tenant database.
	db := env.TenantDB("acme")
	var marks bson.A
	for i, st := range []string{"present", "present", "late", "absent", "excused"} {
		marks = append(marks, bson.M{"student_id": fmt.Sprintf("st%d", i), "status": st, "marked_at": time.Now()})
	}
	_, err := db.Collection("attendance_sheets").InsertOne(context.Background(), bson.M{"_id": "s1", "batch_id": "111111111111111111111111",
		"branch_id": main, "date": "2026-06-01", "marks": marks, "updated_at": time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "attendance rate in the report", func() (bool, string) {
		rec := env.Do("GET", "/analytics/attendance/batches?window=week&from=2026-05-01&to=2026-06-30", acme, nil)
		rep := apptest.Decode[struct {
			Batches []struct {
				Attended, Absent, Excused int64
				Rate                      *float64
			} `json:"batches"`
		}](t, rec)
		ok := len(rep.Batches) == 1 && rep.Batches[0].Attended == 3 && rep.Batches[0].Absent == 1 && rep.Batches[0].Excused == 1 &&
			rep.Batches[0].Rate != nil && *rep.Batches[0].Rate == 0.75
		return ok, rec.Body.String()
	})
	rec = env.Do("GET", "/analytics/attendance/batches?window=week&from=2026-05-01&to=2026-06-30", rival, nil)
	if body := rec.Body.String(); rec.Code != 200 || body == "" || len(apptest.Decode[struct {
		Batches []any `json:"batches"`
	}](t, rec).Batches) != 0 {
		t.Fatalf("rival sees acme's attendance: %s", body)
	}
}

// The whole local pipeline stopped mid-stream and started again on the same warehouse loses no change.
func TestRestartMidStreamLosesNothing(t *testing.T) {
	env := apptest.New(t)
	path := t.TempDir() + "/wh.duckdb"
	l := start(t, env, path)
	env.Provision("acme")
	db := env.TenantDB("acme")
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := db.Collection("branches").InsertOne(context.Background(), bson.M{"_id": fmt.Sprintf("b%04d", i), "code": fmt.Sprintf("C%04d", i), "name": "n", "active": true}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 300)
	l.Stop() // mid-stream: the relay is still publishing what it read
	write(300, 400)
	l = start(t, env, path)
	write(400, 500)
	eventually(t, "every branch in the warehouse", func() (bool, string) {
		rows, err := l.Warehouse.Query(context.Background(), warehouse.MustQuery("acme", "SELECT count(*) FROM branches", warehouse.Branches))
		if err != nil {
			t.Fatal(err)
		}
		return rows[0][0] == int64(500), fmt.Sprint(rows)
	})
}

// A message that is not an event is acknowledged and logged; the events around it are ingested.
func TestPoisonMessageDoesNotBlock(t *testing.T) {
	env := apptest.New(t)
	l := start(t, env, "")
	topic := "projects/" + pipeline.Project + "/topics/" + pipeline.Topic
	poison := []string{"not json", `{"v":1}`, `{"v":99,"id":"x"}`}
	var poisonIDs []string
	for _, p := range poison {
		poisonIDs = append(poisonIDs, l.Server.Publish(topic, []byte(p), nil))
	}
	env.Provision("acme") // real events after the poison
	eventually(t, "owner ingested past the poison", func() (bool, string) {
		rows, _ := l.Warehouse.Query(context.Background(), warehouse.MustQuery("acme", "SELECT count(*) FROM users", warehouse.Users))
		return len(rows) == 1 && rows[0][0] == int64(1), fmt.Sprint(rows)
	})
	for _, id := range poisonIDs {
		if m := l.Server.Message(id); m == nil || m.Acks == 0 {
			t.Fatalf("poison message %s not acknowledged: %+v", id, m)
		}
	}
}

// Every message delivered twice, in random order and random batches, leaves the same warehouse state as
// one in-order delivery.
func TestRedeliveryAndReorderingGiveTheSameState(t *testing.T) {
	ctx := context.Background()
	var evs []*events.Event
	seq := uint32(0)
	ev := func(op events.Op, coll, id, doc string) {
		seq++
		e := &events.Event{V: 1, ID: events.IDFromToken([]byte(fmt.Sprint(seq))), Tenant: "acme", Collection: coll, Op: op, DocumentID: id,
			Time: events.ClusterTime{T: 1780000000 + seq/3, I: seq}}
		if doc != "" {
			e.Document = []byte(doc)
		}
		if op == events.Update {
			e.Updated = []byte(`{"x":1}`)
		}
		evs = append(evs, e)
	}
	for i := range 40 {
		id := fmt.Sprintf("s%02d", i)
		ev(events.Insert, "attendance_sheets", id, `{"batch_id":"b1","branch_id":"r1","date":"2026-06-01","marks":[{"student_id":"a","status":"absent"}]}`)
		if i%2 == 0 {
			ev(events.Update, "attendance_sheets", id, `{"batch_id":"b1","branch_id":"r1","date":"2026-06-01","marks":[{"student_id":"a","status":"present"},{"student_id":"b","status":"late"}]}`)
		}
		if i%5 == 0 {
			ev(events.Delete, "attendance_sheets", id, "")
		}
		ev(events.Insert, "branches", "br"+id, `{"code":"C`+id+`","name":"n","active":true,"created_at":{"$date":"2026-06-01T00:00:00Z"}}`)
	}
	state := func(deliveries []*events.Event, batch int) [][]warehouse.Row {
		wh, err := duckdb.Open(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer wh.Close()
		in := ingest.New(wh, nil, nil)
		for i := 0; i < len(deliveries); i += batch {
			if err := in.Apply(ctx, deliveries[i:min(i+batch, len(deliveries))]); err != nil {
				t.Fatal(err)
			}
		}
		var out [][]warehouse.Row
		for _, tbl := range []*warehouse.Table{warehouse.Changes, warehouse.AttendanceSheets, warehouse.Branches} {
			rows, err := wh.Dump(ctx, tbl)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rows)
		}
		return out
	}
	want := state(evs, 1000)
	if len(want[1]) != 40 || len(want[0]) != len(evs) {
		t.Fatalf("in-order state has %d sheets and %d changes", len(want[1]), len(want[0]))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		twice := append(append([]*events.Event{}, evs...), evs...)
		rng.Shuffle(len(twice), func(i, j int) { twice[i], twice[j] = twice[j], twice[i] })
		if got := state(twice, 1+rng.IntN(50)); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: state after duplicated, shuffled delivery differs", round)
		}
	}
}
