package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
)

// benchCatalog builds, in memory, a catalog of docs documents spread over collections of 1,000 (as the
// local stack spreads an institution's records over its collections), each about 200 bytes of BSON.
func benchCatalog(b *testing.B, docs int) *lungo.Catalog {
	b.Helper()
	mem := lungo.NewMemoryStore()
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: mem, MinOplogAge: time.Millisecond, MaxOplogSize: 2000})
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close()
	db := client.Database("edu_bench")
	for c := 0; c*1000 < docs; c++ {
		batch := make([]any, 0, 1000)
		for i := c * 1000; i < min(docs, (c+1)*1000); i++ {
			batch = append(batch, bson.M{"_id": fmt.Sprintf("d%07d", i), "name": "Student " + fmt.Sprint(i), "n": i,
				"created": time.Unix(int64(i), 0).UTC(), "notes": strings.Repeat("x", 120)})
		}
		if _, err := db.Collection(fmt.Sprintf("c%03d", c)).InsertMany(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	return engine.Catalog()
}

// benchStores are the two persistent stores side by side: the old single file and the directory.
var benchStores = []struct {
	name string
	open func(path string) lungo.Store
}{
	{"singlefile", func(path string) lungo.Store { return lungo.NewFileStore(path, 0o600) }},
	{"dir", func(path string) lungo.Store { return NewDirStore(path, 0) }},
	{"dir-sync100ms", func(path string) lungo.Store { return NewDirStore(path, 100*time.Millisecond) }},
}

// seedStore writes catalog into a fresh store at path.
func seedStore(b *testing.B, st lungo.Store, catalog *lungo.Catalog) {
	b.Helper()
	if _, err := st.Load(); err != nil {
		b.Fatal(err)
	}
	if err := st.Store(catalog); err != nil {
		b.Fatal(err)
	}
	if d, ok := st.(*DirStore); ok {
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// One write (an insert of one document, its own commit, as most API writes are) into an engine that
// already stores 1,000 or 100,000 documents, on each store.
//
//	go test -run '^$' -bench StoreWrite -benchtime 50x -count 3 ./shared/store
func BenchmarkStoreWrite(b *testing.B) {
	for _, docs := range []int{1_000, 100_000} {
		catalog := benchCatalog(b, docs)
		for _, bs := range benchStores {
			b.Run(fmt.Sprintf("docs=%d/store=%s", docs, bs.name), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "edugrid.lungo")
				seedStore(b, bs.open(path), catalog)
				st := bs.open(path)
				client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: st, MinOplogAge: time.Millisecond, MaxOplogSize: 2000})
				if err != nil {
					b.Fatal(err)
				}
				defer func() {
					engine.Close()
					if d, ok := st.(*DirStore); ok {
						_ = d.Close()
					}
				}()
				coll := client.Database("edu_bench").Collection("c000")
				i := 0
				for b.Loop() {
					i++
					if _, err := coll.InsertOne(context.Background(), bson.M{"_id": fmt.Sprintf("w%07d", i), "name": "new", "notes": strings.Repeat("y", 120)}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// Opening a store of 100,000 documents: reading it and building the catalog with its indexes.
//
//	go test -run '^$' -bench StoreLoad -benchtime 5x -count 3 ./shared/store
func BenchmarkStoreLoad(b *testing.B) {
	catalog := benchCatalog(b, 100_000)
	for _, bs := range benchStores[:2] { // the sync interval does not change a load
		b.Run("docs=100000/store="+bs.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "edugrid.lungo")
			seedStore(b, bs.open(path), catalog)
			for b.Loop() {
				st := bs.open(path)
				c, err := st.Load()
				if err != nil {
					b.Fatal(err)
				}
				if n := len(c.Namespaces[lungo.Handle{"edu_bench", "c099"}].Documents.List); n != 1000 {
					b.Fatalf("loaded %d documents of the last collection, want 1000", n)
				}
				if d, ok := st.(*DirStore); ok {
					_ = d.Close()
				}
			}
		})
	}
}
