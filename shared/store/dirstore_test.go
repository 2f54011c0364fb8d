package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// recordingStore keeps every catalog the engine commits, so tests can replay real commits into a store.
type recordingStore struct{ catalogs []*lungo.Catalog }

func (r *recordingStore) Load() (*lungo.Catalog, error) { return lungo.NewCatalog(), nil }
func (r *recordingStore) Store(c *lungo.Catalog) error {
	r.catalogs = append(r.catalogs, c)
	return nil
}

// commitKinds runs one kind of commit each through a real engine and returns the catalog after each
// (index 0: the empty catalog), with what each commit did. The oplog is kept to three entries, so commits
// also cut it at the front.
func commitKinds(t *testing.T) ([]*lungo.Catalog, []string) {
	t.Helper()
	rec := &recordingStore{}
	client, engine, err := lungo.Open(context.Background(), lungo.Options{
		Store: rec, MinOplogAge: time.Millisecond, MinOplogSize: 1, MaxOplogSize: 3,
	})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	defer engine.Close()
	ctx := context.Background()
	db := client.Database("edu_one")
	a, b := db.Collection("a"), db.Collection("b")
	var names []string
	step := func(name string, fn func() error) {
		t.Helper()
		before := len(rec.catalogs)
		time.Sleep(2 * time.Millisecond) // past MinOplogAge, so the oplog is cut
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rec.catalogs) != before+1 {
			t.Fatalf("%s: %d commits, want 1", name, len(rec.catalogs)-before)
		}
		names = append(names, name)
	}
	step("insert into a new collection", func() error {
		_, err := a.InsertMany(ctx, []any{bson.M{"_id": 1, "k": "x"}, bson.M{"_id": 2, "k": "y"}, bson.M{"_id": 3, "k": "z"}})
		return err
	})
	step("create a unique index", func() error {
		_, err := a.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "k", Value: 1}}, Options: options.Index().SetUnique(true)})
		return err
	})
	step("update a document in the middle", func() error {
		_, err := a.UpdateOne(ctx, bson.M{"_id": 2}, bson.M{"$set": bson.M{"n": 7}})
		return err
	})
	step("insert into a second collection", func() error {
		_, err := b.InsertOne(ctx, bson.M{"_id": "b1", "text": strings.Repeat("é", 20)})
		return err
	})
	step("delete the first document", func() error {
		_, err := a.DeleteOne(ctx, bson.M{"_id": 1})
		return err
	})
	step("transaction over two collections", func() error {
		sess, err := client.StartSession()
		if err != nil {
			return err
		}
		defer sess.EndSession(ctx)
		_, err = sess.WithTransaction(ctx, func(sc lungo.ISessionContext) (any, error) {
			if _, err := a.InsertOne(sc, bson.M{"_id": 4, "k": "w"}); err != nil {
				return nil, err
			}
			if _, err := a.ReplaceOne(sc, bson.M{"_id": 3}, bson.M{"k": "z2"}); err != nil {
				return nil, err
			}
			return b.DeleteOne(sc, bson.M{"_id": "b1"})
		})
		return err
	})
	step("drop a collection", func() error { return b.Drop(ctx) })
	return append([]*lungo.Catalog{lungo.NewCatalog()}, rec.catalogs...), names
}

// canon is a catalog's whole content in a comparable form: each namespace in order with its documents
// (as BSON, in the engine's order) and its indexes.
func canon(t *testing.T, c *lungo.Catalog) string {
	t.Helper()
	var sb strings.Builder
	for _, h := range sortedHandles(c.Namespaces) {
		ns := c.Namespaces[h]
		fmt.Fprintf(&sb, "%s\n", h)
		for _, idx := range indexesOf(ns) {
			buf, err := bson.Marshal(idx)
			if err != nil {
				t.Fatalf("encode index: %v", err)
			}
			fmt.Fprintf(&sb, " index %s\n", hex.EncodeToString(buf))
		}
		for _, doc := range ns.Documents.List {
			buf, err := bson.Marshal(doc)
			if err != nil {
				t.Fatalf("encode document: %v", err)
			}
			fmt.Fprintf(&sb, " doc %s\n", hex.EncodeToString(buf))
		}
	}
	return sb.String()
}

const testDir = "/data/edugrid.lungo"

func mustLoad(t *testing.T, s *DirStore) *lungo.Catalog {
	t.Helper()
	c, err := s.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func mustStore(t *testing.T, s *DirStore, c *lungo.Catalog) {
	t.Helper()
	if err := s.Store(c); err != nil {
		t.Fatalf("Store: %v", err)
	}
}

// reopen loads a new store over a copy of m, as a restarted process would; crashed: after a power cut
// (only what was synced survives), otherwise after the process died (everything written survives).
func reopen(t *testing.T, m *memFS, crashed bool) (string, error) {
	t.Helper()
	c := m.clone()
	if crashed {
		c.crash()
	}
	return reopenAs(t, c)
}

// reopenKeepingEntries is reopen after a power cut that kept every directory entry but lost the file
// content not synced.
func reopenKeepingEntries(t *testing.T, m *memFS) (string, error) {
	t.Helper()
	c := m.clone()
	c.crashKeepingEntries()
	return reopenAs(t, c)
}

func reopenAs(t *testing.T, c *memFS) (string, error) {
	t.Helper()
	cat, err := newDirStore(c, testDir).Load()
	if err != nil {
		return "", err
	}
	return canon(t, cat), nil
}

// Every commit the engine makes reaches the disk such that the next Load returns it exactly, through the
// log and through new generations.
func TestDirStoreRoundTrip(t *testing.T) {
	cats, names := commitKinds(t)
	for _, mode := range []string{"log", "generation every commit"} {
		t.Run(mode, func(t *testing.T) {
			m := newMemFS()
			s := newDirStore(m, "/data/edugrid.lungo")
			mustLoad(t, s)
			for i, c := range cats[1:] {
				if mode != "log" {
					s.compactFloor, s.snapBytes = 0, 0
				}
				mustStore(t, s, c)
				for _, crashed := range []bool{false, true} {
					got, err := reopen(t, m, crashed)
					if err != nil {
						t.Fatalf("after %q: reopen: %v", names[i], err)
					}
					if got != canon(t, c) {
						t.Fatalf("after %q (crashed %v): loaded catalog differs from the stored one", names[i], crashed)
					}
				}
			}
		})
	}
}

// A commit cut at any byte or operation leaves the previous state or the new one, never a mix, whether
// the process died (everything written survives) or the machine lost power (only what was synced
// survives); a Store that returned nil survives a power cut. After a failed Store the same store goes on:
// the failed commit and a next one are stored and read back.
func TestDirStoreCutAnywhere(t *testing.T) {
	cats, names := commitKinds(t)
	canons := make([]string, len(cats))
	for i, c := range cats {
		canons[i] = canon(t, c)
	}
	type scenario struct {
		name string
		k    int  // the commit cut is cats[k-1] -> cats[k]
		gen  bool // the cut commit writes a new generation instead of a log record
	}
	var scenarios []scenario
	for k := 1; k < len(cats); k++ {
		scenarios = append(scenarios, scenario{names[k-1] + " (log)", k, k == 1})
	}
	scenarios = append(scenarios, scenario{names[2] + " (new generation)", 3, true}, scenario{names[6] + " (new generation)", 7, true})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			oldState, newState := canons[sc.k-1], canons[sc.k]
			if oldState == newState {
				t.Fatalf("commit %q changed nothing", sc.name)
			}
			sawOld, sawNew := false, false
			for n := 0; ; n++ {
				m := newMemFS()
				s := newDirStore(m, testDir)
				mustLoad(t, s)
				for _, c := range cats[1:sc.k] {
					mustStore(t, s, c)
				}
				if sc.gen {
					s.compactFloor, s.snapBytes = 0, 0
				}
				m.setBudget(n)
				err := s.Store(cats[sc.k])
				m.setBudget(-1)
				for _, crashed := range []bool{false, true} {
					got, lerr := reopen(t, m, crashed)
					if lerr != nil {
						t.Fatalf("cut after %d units (crashed %v): reopen: %v", n, crashed, lerr)
					}
					if crashed {
						if kept, kerr := reopenKeepingEntries(t, m); kerr != nil || (kept != oldState && kept != newState) {
							t.Fatalf("cut after %d units, power cut keeping directory entries: reopen gives neither state (err %v)", n, kerr)
						}
					}
					switch got {
					case oldState:
						sawOld = true
						if err == nil && crashed {
							t.Fatalf("cut after %d units: Store returned nil but a power cut lost the commit", n)
						}
					case newState:
						sawNew = true
					default:
						t.Fatalf("cut after %d units (crashed %v, Store: %v): loaded state is neither the old nor the new one", n, crashed, err)
					}
				}
				if err == nil {
					if n == 0 {
						t.Fatalf("Store succeeded with no budget: the cut never happened")
					}
					break
				}
				// The same store, the disk now working again: the failed commit, then the next.
				mustStore(t, s, cats[sc.k])
				next := cats[sc.k-1] // back to the old state: another real change of every namespace touched
				mustStore(t, s, next)
				if got, lerr := reopen(t, m, true); lerr != nil || got != oldState {
					t.Fatalf("cut after %d units, then two commits: reopen gives the wrong state (err %v)", n, lerr)
				}
				// A store reopened after the crash goes on too.
				c := m.clone()
				s2 := newDirStore(c, testDir)
				mustLoad(t, s2)
				mustStore(t, s2, cats[sc.k])
				if got, lerr := reopen(t, c, true); lerr != nil || got != newState {
					t.Fatalf("cut after %d units, reopened, stored again: reopen gives the wrong state (err %v)", n, lerr)
				}
			}
			if !sawOld || !sawNew {
				t.Fatalf("saw old state %v, new state %v: the cuts did not cover the commit", sawOld, sawNew)
			}
		})
	}
}

// legacyFile encodes c as lungo's FileStore writes it.
func legacyFile(t *testing.T, c *lungo.Catalog) []byte {
	t.Helper()
	buf, err := bson.Marshal(lungo.BuildFile(c))
	if err != nil {
		t.Fatalf("encode single-file store: %v", err)
	}
	return buf
}

func writeMemFile(t *testing.T, m *memFS, name string, data []byte) {
	t.Helper()
	if err := m.MkdirAll(name[:strings.LastIndex(name, "/")]); err != nil {
		t.Fatal(err)
	}
	f, err := m.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/data"); err != nil {
		t.Fatal(err)
	}
}

// An old single-file store moves into the directory format with everything in it, and a migration cut
// anywhere loses nothing: the next Load (after a crash or not) finishes it or starts again. The old file
// stays as the backup.
func TestDirStoreMigratesSingleFileAnywhereCut(t *testing.T) {
	cats, _ := commitKinds(t)
	last := cats[len(cats)-2] // two collections, indexes, an oplog
	want := canon(t, last)
	legacy := legacyFile(t, last)
	for n := 0; ; n++ {
		m := newMemFS()
		writeMemFile(t, m, testDir, legacy)
		m.setBudget(n)
		_, err := newDirStore(m, testDir).Load()
		m.setBudget(-1)
		for _, crashed := range []bool{false, true} {
			got, lerr := reopen(t, m, crashed)
			if lerr != nil {
				t.Fatalf("migration cut after %d units (crashed %v): reopen: %v", n, crashed, lerr)
			}
			if got != want {
				t.Fatalf("migration cut after %d units (crashed %v): loaded state differs from the single-file store", n, crashed)
			}
		}
		if err == nil {
			c := m.clone()
			c.crash()
			if k, _ := c.Kind(testDir + legacySuffix); k != kindFile {
				t.Fatalf("after a migration the single-file backup is missing (kind %v)", k)
			}
			if k, _ := c.Kind(testDir); k != kindDir {
				t.Fatalf("after a migration the store is not a directory (kind %v)", k)
			}
			if n == 0 {
				t.Fatalf("migration succeeded with no budget: the cut never happened")
			}
			return
		}
	}
}

// A partial record at the log's end (a commit cut short) is cut off on Load, so the next commit's record
// follows the last whole one and both survive.
func TestDirStoreCutsPartialRecordOff(t *testing.T) {
	cats, _ := commitKinds(t)
	m := newMemFS()
	s := newDirStore(m, testDir)
	mustLoad(t, s)
	mustStore(t, s, cats[1])
	mustStore(t, s, cats[2])
	logName := testDir + "/" + genName(1, logSuffix)
	f, err := m.Append(logName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{200, 0, 0, 0, 1, 2, 3}); err != nil { // a header promising 200 bytes
		t.Fatal(err)
	}
	s2 := newDirStore(m, testDir)
	if got := canon(t, mustLoad(t, s2)); got != canon(t, cats[2]) {
		t.Fatal("log with a partial record: loaded state is not the last whole commit")
	}
	mustStore(t, s2, cats[3])
	if got, err := reopen(t, m, true); err != nil || got != canon(t, cats[3]) {
		t.Fatalf("commit after a partial record: reopen gives the wrong state (err %v)", err)
	}
}

// Damage that is not a cut commit is an error, not an empty or older database.
func TestDirStoreRefusesDamage(t *testing.T) {
	cats, _ := commitKinds(t)
	cases := []struct {
		name   string
		damage func(t *testing.T, m *memFS)
	}{
		{"manifest names a missing snapshot", func(t *testing.T, m *memFS) {
			if err := m.Remove(testDir + "/" + genName(1, snapshotSuffix)); err != nil {
				t.Fatal(err)
			}
		}},
		{"snapshot byte flipped", func(t *testing.T, m *memFS) {
			_, _, n, _ := m.find(testDir + "/" + genName(1, snapshotSuffix))
			n.data[len(n.data)/2] ^= 0xff
		}},
		{"manifest of another format", func(t *testing.T, m *memFS) {
			writeMemFile(t, m, testDir+"/"+manifestName, []byte(`{"format":"x","generation":1}`))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemFS()
			s := newDirStore(m, testDir)
			mustLoad(t, s)
			mustStore(t, s, cats[1])
			tc.damage(t, m)
			if _, err := newDirStore(m, testDir).Load(); err == nil {
				t.Fatal("Load of a damaged directory succeeded")
			}
		})
	}
}

func TestApplyOps(t *testing.T) {
	docs := func(ids ...int) []*bson.D {
		out := make([]*bson.D, len(ids))
		for i, id := range ids {
			out[i] = &bson.D{{Key: "_id", Value: id}}
		}
		return out
	}
	ids := func(list []*bson.D) []int {
		out := make([]int, len(list))
		for i, d := range list {
			out[i] = (*d)[0].Value.(int)
		}
		return out
	}
	cases := []struct {
		name    string
		list    []int
		ops     []int64
		insert  []int
		want    []int
		wantErr bool
	}{
		{"append", []int{1, 2}, []int64{opKeep, 2, opInsert, 2}, []int{3, 4}, []int{1, 2, 3, 4}, false},
		{"replace in the middle", []int{1, 2, 3}, []int64{opKeep, 1, opDelete, 1, opInsert, 1, opKeep, 1}, []int{9}, []int{1, 9, 3}, false},
		{"cut the front and append", []int{1, 2, 3}, []int64{opDelete, 2, opKeep, 1, opInsert, 1}, []int{4}, []int{3, 4}, false},
		{"insert in the middle", []int{1, 2, 3}, []int64{opKeep, 1, opInsert, 2, opKeep, 2}, []int{7, 8}, []int{1, 7, 8, 2, 3}, false},
		{"delete in the middle", []int{1, 2, 3, 4}, []int64{opKeep, 1, opDelete, 2, opKeep, 1}, nil, []int{1, 4}, false},
		{"everything", []int{1, 2}, []int64{opDelete, 2}, nil, []int{}, false},
		{"into nothing", nil, []int64{opInsert, 1}, []int{5}, []int{5}, false},
		{"edit shorter than the list", []int{1, 2}, []int64{opKeep, 1}, nil, nil, true},
		{"keep past the end", []int{1}, []int64{opKeep, 2}, nil, nil, true},
		{"documents left over", []int{1}, []int64{opKeep, 1}, []int{2}, nil, true},
		{"unknown code", []int{1}, []int64{7, 1}, nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := applyOps(docs(tc.list...), tc.ops, docs(tc.insert...))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("applyOps = %v, want an error", ids(got))
				}
				return
			}
			if err != nil {
				t.Fatalf("applyOps: %v", err)
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("applyOps = %v, want %v", ids(got), tc.want)
			}
		})
	}
}

// With a sync interval, a power cut loses the commits since the last sync, but what survives is always a
// prefix of the commits made (each whole); the background sync and Close make them durable.
func TestDirStoreSyncInterval(t *testing.T) {
	cats, _ := commitKinds(t)
	canons := map[string]int{}
	for i, c := range cats {
		canons[canon(t, c)] = i
	}
	m := newMemFS()
	s := newDirStore(m, testDir)
	s.syncEvery = time.Hour // only Close and syncPending sync, when the test says
	mustLoad(t, s)
	defer s.Close()
	mustStore(t, s, cats[1]) // a new generation: synced
	for i, c := range cats[2:5] {
		mustStore(t, s, c)
		got, err := reopen(t, m, true)
		if err != nil {
			t.Fatalf("power cut after commit %d: %v", i+2, err)
		}
		if k, ok := canons[got]; !ok || k > i+2 {
			t.Fatalf("power cut after commit %d: state is not an earlier commit's (%v, %d)", i+2, ok, k)
		}
	}
	if got, _ := reopen(t, m, true); got != canon(t, cats[1]) {
		t.Fatal("power cut before any sync: want the last synced state")
	}
	if got, _ := reopen(t, m, false); got != canon(t, cats[4]) {
		t.Fatal("process died before any sync: want every commit (the operating system had them)")
	}
	s.syncPending()
	if got, _ := reopen(t, m, true); got != canon(t, cats[4]) {
		t.Fatal("power cut after the background sync: want every commit")
	}
	mustStore(t, s, cats[5])
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got, _ := reopen(t, m, true); got != canon(t, cats[5]) {
		t.Fatal("power cut after Close: want every commit")
	}
}
