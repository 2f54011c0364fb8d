package store

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"github.com/256dpi/lungo/mongokit"
	"go.mongodb.org/mongo-driver/bson"
)

// DirStore keeps the embedded engine's catalog in a directory, so that a commit costs what it changed
// rather than the size of the database (lungo's own FileStore rewrites one file holding everything on
// every commit). It implements lungo.Store; the Dialer opens one per lungo:file: path.
//
// The directory holds one generation at a time:
//
//	MANIFEST          names the current generation; replaced atomically (write, fsync, rename, fsync dir)
//	<gen>.snapshot    every namespace (documents in order, index definitions) as of the generation's start
//	<gen>.log         one record per commit since: for each namespace the commit changed, its indexes and
//	                  an edit of its document list (keep n, delete n, insert these), or that it was dropped
//	LOCK              held while a process has the store open (advisory lock), so two cannot interleave
//
// Every snapshot and log record is framed with its length and CRC-32C. A commit is one log record,
// appended before Store returns: a record cut short by a crash fails its check and is dropped (with
// everything after it, and cut off the file) when the store is next loaded, so a commit is either wholly
// there or not at all, and the commits there are always a prefix of those made. With a sync interval of
// 0 each record is fsynced before Store returns; with an interval, the log is fsynced that often in the
// background (as MongoDB's journal is every 100 ms by default), so a commit costs a write to the
// operating system instead of a wait for the disk: a process that dies loses nothing, a machine that
// loses power loses at most the commits of the last interval. Snapshots and the manifest are always
// fsynced before they are used, and Close fsyncs what is pending.
// When the log has grown past the snapshot's size (and a floor), the next commit writes a new generation
// instead: its snapshot and an empty log, then the manifest naming them; the old generation's files are
// removed once the manifest is durable. Anything not named by the manifest is a leftover of an
// interrupted commit and is removed on Load.
//
// Only namespaces whose pointer changed between the catalog last stored and the one given are looked at:
// the engine copies a namespace (and its document set) on write and shares the untouched ones, and
// replaces a changed document by a new one. The store relies on that and on catalogs never being
// modified once committed.
//
// An old single-file store at the path (lungo's FileStore format) is read once by Load and moved into
// the directory format; the old file is kept beside it as <path>.legacy (see Load).
//
// A DirStore is used by one engine. Store after a failed Store is safe: the next commit writes a whole
// new generation rather than appending behind a partial record.
type DirStore struct {
	fs  fileSystem
	dir string
	// compactFloor is the least log size at which the next commit writes a new generation.
	compactFloor int64
	syncEvery    time.Duration // 0: fsync each commit before Store returns

	mu     sync.Mutex
	loaded bool
	base   *lungo.Catalog // the catalog as stored on disk: the base of the next commit's edit
	gen    uint64         // current generation (0: none written yet)
	log    writeFile      // the current generation's log, open for appending
	lock   io.Closer
	// logBytes and snapBytes decide when to write a new generation.
	logBytes, snapBytes int64
	// broken is set when a write failed part way: the log may end in a partial record, or the manifest
	// may name a generation the store no longer knows, so the next commit writes a new generation.
	broken bool
	// unsynced: the log holds records not yet fsynced (sync interval only).
	unsynced bool
	stopSync chan struct{} // closed to stop the background sync of this Load
}

const (
	manifestName    = "MANIFEST"
	lockName        = "LOCK"
	snapshotSuffix  = ".snapshot"
	logSuffix       = ".log"
	legacySuffix    = ".legacy"
	migratingSuffix = ".migrating"

	snapshotMagic = "EGSNAP01"
	logMagic      = "EGLOG001"
	frameHeader   = 8 // uint32 length and uint32 CRC-32C of the payload, little endian
	maxFrame      = 1 << 30
	// docsPerFrame bounds a snapshot frame, so that loading decodes a large collection in parallel pieces.
	docsPerFrame = 1000
	// defaultCompactFloor keeps small databases from writing a new generation every few commits.
	defaultCompactFloor = 16 << 20
)

const (
	opKeep int64 = iota
	opDelete
	opInsert
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// NewDirStore returns the store for the directory at path; nothing is read or created until Load.
// syncEvery 0 fsyncs every commit before Store returns; a positive interval fsyncs the log that often in
// the background instead (see DirStore for what a power cut then loses).
func NewDirStore(path string, syncEvery time.Duration) *DirStore {
	s := newDirStore(osFS{}, path)
	s.syncEvery = max(syncEvery, 0)
	return s
}

func newDirStore(fsys fileSystem, path string) *DirStore {
	return &DirStore{fs: fsys, dir: filepath.Clean(path), compactFloor: defaultCompactFloor}
}

// manifest is the content of MANIFEST.
type manifest struct {
	Format     string `json:"format"`
	Generation uint64 `json:"generation"`
}

const manifestFormat = "edugrid embedded engine directory v1"

// dsIndex is one index definition.
type dsIndex struct {
	Name    string        `bson:"name"`
	Key     bsonkit.Doc   `bson:"key"`
	Unique  bool          `bson:"unique,omitempty"`
	Partial bsonkit.Doc   `bson:"partial,omitempty"`
	Expiry  time.Duration `bson:"expiry,omitempty"`
}

// dsChange is what one commit did to one namespace: dropped it, or left it with these indexes and this
// edit of its document list (Ops: pairs of opcode and count; inserted documents taken from Docs in order).
type dsChange struct {
	DB      string       `bson:"db"`
	Coll    string       `bson:"coll"`
	Drop    bool         `bson:"drop,omitempty"`
	Indexes []dsIndex    `bson:"idx,omitempty"`
	Ops     []int64      `bson:"ops,omitempty"`
	Docs    bsonkit.List `bson:"docs,omitempty"`
}

// dsCommit is one log record.
type dsCommit struct {
	Changes []dsChange `bson:"changes"`
}

// dsFrame is one snapshot frame: a piece of a namespace's documents (the first piece carries its
// indexes), or the end frame counting the namespaces, so a snapshot cut short is noticed.
type dsFrame struct {
	DB         string       `bson:"db,omitempty"`
	Coll       string       `bson:"coll,omitempty"`
	First      bool         `bson:"first,omitempty"`
	Indexes    []dsIndex    `bson:"idx,omitempty"`
	Docs       bsonkit.List `bson:"docs,omitempty"`
	End        bool         `bson:"end,omitempty"`
	Namespaces int          `bson:"namespaces,omitempty"`
}

// Load reads the catalog from the directory, or returns an empty catalog when there is none. The engine
// calls it once when it opens. It also finishes what an interrupted commit or migration left: a partial
// log record is cut off, files no generation names are removed.
//
// If the path is a regular file, it is an old single-file store: Load reads it, writes its catalog as
// the directory's first generation under <path>.migrating, renames the old file to <path>.legacy and the
// new directory to <path>. The backup is kept (nothing removes it); delete it once the directory is
// trusted. A migration interrupted between the two renames is finished by the next Load.
//
// Errors name the operation and the file; a damaged directory (a manifest naming missing files, a bad
// snapshot) is an error rather than an empty catalog.
func (s *DirStore) Load() (*lungo.Catalog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	if err := s.settleLayout(); err != nil {
		return nil, err
	}
	lock, err := s.fs.Lock(filepath.Join(s.dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("load embedded engine directory %s: %w", s.dir, err)
	}
	s.lock = lock
	catalog, err := s.loadLocked()
	if err != nil {
		s.closeLocked()
		return nil, fmt.Errorf("load embedded engine directory %s: %w", s.dir, err)
	}
	s.loaded, s.base, s.broken, s.unsynced = true, catalog, false, false
	if s.syncEvery > 0 {
		stop := make(chan struct{})
		s.stopSync = stop
		go s.syncLoop(stop, s.syncEvery)
	}
	return catalog, nil
}

// syncLoop fsyncs the log every interval while it holds unsynced records, until stop is closed.
func (s *DirStore) syncLoop(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.syncPending()
		}
	}
}

// syncPending fsyncs the log without holding the store's lock, so commits go on meanwhile (the engine
// holds its own lock through Store, readers included).
func (s *DirStore) syncPending() {
	s.mu.Lock()
	log := s.log
	if !s.unsynced || log == nil || s.broken {
		s.mu.Unlock()
		return
	}
	s.unsynced = false
	s.mu.Unlock()
	if err := log.Sync(); err != nil {
		s.mu.Lock()
		if s.log == log {
			// What reached the disk is unknown: the next commit writes a whole generation.
			s.broken = true
		}
		s.mu.Unlock()
	}
}

// settleLayout makes the path a directory in the current format: migrating an old single-file store,
// finishing an interrupted migration, or creating an empty directory.
func (s *DirStore) settleLayout() error {
	migrating, backup := s.dir+migratingSuffix, s.dir+legacySuffix
	kind, err := s.fs.Kind(s.dir)
	if err != nil {
		return fmt.Errorf("load embedded engine directory %s: %w", s.dir, err)
	}
	switch kind {
	case kindDir:
		return nil
	case kindFile:
		return s.migrate(s.dir)
	}
	// No path: either a fresh start, or a migration that renamed the old file away but not yet the new
	// directory into place (then the new directory is complete: it was synced before the first rename).
	bk, err := s.fs.Kind(backup)
	if err != nil {
		return fmt.Errorf("load embedded engine directory %s: %w", s.dir, err)
	}
	if mk, err := s.fs.Kind(filepath.Join(migrating, manifestName)); err == nil && mk == kindFile && bk == kindFile {
		if err := s.fs.Rename(migrating, s.dir); err != nil {
			return fmt.Errorf("finish migrating %s: %w", s.dir, err)
		}
		if err := s.fs.SyncDir(filepath.Dir(s.dir)); err != nil {
			return fmt.Errorf("finish migrating %s: %w", s.dir, err)
		}
		return nil
	}
	if err := s.fs.RemoveAll(migrating); err != nil {
		return fmt.Errorf("create embedded engine directory %s: %w", s.dir, err)
	}
	if err := s.fs.MkdirAll(s.dir); err != nil {
		return fmt.Errorf("create embedded engine directory %s: %w", s.dir, err)
	}
	if err := s.fs.SyncDir(filepath.Dir(s.dir)); err != nil {
		return fmt.Errorf("create embedded engine directory %s: %w", s.dir, err)
	}
	return nil
}

// migrate moves the old single-file store at src (the path itself) into the directory format.
func (s *DirStore) migrate(src string) error {
	fail := func(err error) error { return fmt.Errorf("migrate single-file store %s: %w", src, err) }
	buf, err := s.fs.ReadFile(src)
	if err != nil {
		return fail(err)
	}
	catalog, err := decodeLegacy(buf)
	if err != nil {
		return fail(err)
	}
	migrating, parent := s.dir+migratingSuffix, filepath.Dir(s.dir)
	if err := s.fs.RemoveAll(migrating); err != nil {
		return fail(err)
	}
	if err := s.fs.MkdirAll(migrating); err != nil {
		return fail(err)
	}
	log, _, err := writeGeneration(s.fs, migrating, 1, catalog)
	if err != nil {
		return fail(err)
	}
	if err := log.Close(); err != nil {
		return fail(err)
	}
	// The new directory's entry must be durable before the old file moves away.
	if err := s.fs.SyncDir(parent); err != nil {
		return fail(err)
	}
	if err := s.fs.Rename(s.dir, s.dir+legacySuffix); err != nil {
		return fail(err)
	}
	if err := s.fs.Rename(migrating, s.dir); err != nil {
		return fail(err)
	}
	if err := s.fs.SyncDir(parent); err != nil {
		return fail(err)
	}
	return nil
}

// decodeLegacy reads lungo's FileStore format exactly as FileStore.Load does.
func decodeLegacy(buf []byte) (*lungo.Catalog, error) {
	var file lungo.File
	if err := bson.Unmarshal(buf, &file); err != nil {
		return nil, err
	}
	return file.BuildCatalog()
}

// nsState is a namespace while a generation is read: its indexes and documents in order.
type nsState struct {
	indexes []dsIndex
	docs    bsonkit.List
}

func (s *DirStore) loadLocked() (*lungo.Catalog, error) {
	gen, err := readManifest(s.fs, s.dir)
	if err != nil {
		return nil, err
	}
	s.removeLeftovers(gen)
	s.gen, s.logBytes, s.snapBytes = gen, 0, 0
	if gen == 0 {
		return lungo.NewCatalog(), nil
	}
	snapName := filepath.Join(s.dir, genName(gen, snapshotSuffix))
	snap, err := s.fs.ReadFile(snapName)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	state, err := readSnapshot(snap)
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", snapName, err)
	}
	s.snapBytes = int64(len(snap))

	logName := filepath.Join(s.dir, genName(gen, logSuffix))
	logBuf, err := s.fs.ReadFile(logName)
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	valid, err := replayLog(logBuf, state)
	if err != nil {
		return nil, fmt.Errorf("read log %s: %w", logName, err)
	}
	if valid < int64(len(logBuf)) {
		// The tail is a commit cut short by a crash: it never happened. Cut it off, so the next record
		// follows the last whole one.
		if err := s.fs.Truncate(logName, valid); err != nil {
			return nil, fmt.Errorf("cut partial record off log: %w", err)
		}
	}
	log, err := s.fs.Append(logName)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if valid < int64(len(logBuf)) {
		if err := log.Sync(); err != nil {
			_ = log.Close()
			return nil, fmt.Errorf("cut partial record off log: %w", err)
		}
	}
	catalog, err := buildCatalog(state)
	if err != nil {
		_ = log.Close()
		return nil, err
	}
	s.log, s.logBytes = log, valid
	return catalog, nil
}

// removeLeftovers removes every file of the directory the manifest does not name: generations an
// interrupted commit began or a finished one left behind. Failures are ignored: the files are removed on
// a later Load.
func (s *DirStore) removeLeftovers(gen uint64) {
	names, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return
	}
	keep := map[string]bool{manifestName: true, lockName: true}
	if gen > 0 {
		keep[genName(gen, snapshotSuffix)], keep[genName(gen, logSuffix)] = true, true
	}
	for _, name := range names {
		if !keep[name] {
			_ = s.fs.Remove(filepath.Join(s.dir, name))
		}
	}
}

func readManifest(fsys fileSystem, dir string) (uint64, error) {
	name := filepath.Join(dir, manifestName)
	kind, err := fsys.Kind(name)
	if err != nil {
		return 0, fmt.Errorf("read manifest: %w", err)
	}
	if kind == kindNone {
		return 0, nil
	}
	buf, err := fsys.ReadFile(name)
	if err != nil {
		return 0, fmt.Errorf("read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(buf, &m); err != nil {
		return 0, fmt.Errorf("read manifest: %w", err)
	}
	if m.Format != manifestFormat || m.Generation == 0 {
		return 0, fmt.Errorf("read manifest: not a manifest of this format (%q, generation %d)", m.Format, m.Generation)
	}
	return m.Generation, nil
}

func genName(gen uint64, suffix string) string {
	return fmt.Sprintf("%010d%s", gen, suffix)
}

// frames splits buf (after its magic) into frame payloads. It returns the payloads of the whole frames
// and the offset after the last of them; a frame cut short or failing its check ends the list.
func frames(buf []byte, magic string) ([][]byte, int64, error) {
	if len(buf) < len(magic) || string(buf[:len(magic)]) != magic {
		return nil, 0, fmt.Errorf("missing header %q", magic)
	}
	var out [][]byte
	off := len(magic)
	for len(buf)-off >= frameHeader {
		n := int(binary.LittleEndian.Uint32(buf[off:]))
		sum := binary.LittleEndian.Uint32(buf[off+4:])
		// A BSON document is at least 5 bytes: a zero header (a file extended but never written, after a
		// power cut) is the end, not an empty frame.
		if n < 5 || n > maxFrame || len(buf)-off-frameHeader < n {
			break
		}
		payload := buf[off+frameHeader : off+frameHeader+n]
		if crc32.Checksum(payload, crcTable) != sum {
			break
		}
		out = append(out, payload)
		off += frameHeader + n
	}
	return out, int64(off), nil
}

// decodeAll unmarshals every payload into out[i], using every processor: decoding is most of a load.
func decodeAll[T any](payloads [][]byte) ([]T, error) {
	out := make([]T, len(payloads))
	errs := make([]error, len(payloads))
	parallel(len(payloads), func(i int) { errs[i] = bson.Unmarshal(payloads[i], &out[i]) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || n < 4 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				fn(j)
			}
		})
	}
	wg.Wait()
}

func readSnapshot(buf []byte) (map[lungo.Handle]*nsState, error) {
	payloads, end, err := frames(buf, snapshotMagic)
	if err != nil {
		return nil, err
	}
	if end != int64(len(buf)) {
		return nil, fmt.Errorf("damaged frame at offset %d", end)
	}
	decoded, err := decodeAll[dsFrame](payloads)
	if err != nil {
		return nil, err
	}
	state := map[lungo.Handle]*nsState{}
	for i, f := range decoded {
		if f.End {
			if i != len(decoded)-1 || f.Namespaces != len(state) {
				return nil, fmt.Errorf("end frame counts %d namespaces, found %d", f.Namespaces, len(state))
			}
			return state, nil
		}
		h := lungo.Handle{f.DB, f.Coll}
		ns := state[h]
		switch {
		case f.First && ns != nil:
			return nil, fmt.Errorf("namespace %s twice", h)
		case f.First:
			ns = &nsState{indexes: f.Indexes}
			state[h] = ns
		case ns == nil:
			return nil, fmt.Errorf("documents of namespace %s before its first frame", h)
		}
		ns.docs = append(ns.docs, f.Docs...)
	}
	return nil, fmt.Errorf("no end frame")
}

// replayLog applies the log's whole records to state and returns the offset after the last of them.
func replayLog(buf []byte, state map[lungo.Handle]*nsState) (int64, error) {
	payloads, end, err := frames(buf, logMagic)
	if err != nil {
		return 0, err
	}
	commits, err := decodeAll[dsCommit](payloads)
	if err != nil {
		return 0, err
	}
	for i, c := range commits {
		for _, ch := range c.Changes {
			h := lungo.Handle{ch.DB, ch.Coll}
			if ch.Drop {
				delete(state, h)
				continue
			}
			ns := state[h]
			if ns == nil {
				ns = &nsState{}
				state[h] = ns
			}
			ns.indexes = ch.Indexes
			if ns.docs, err = applyOps(ns.docs, ch.Ops, ch.Docs); err != nil {
				return 0, fmt.Errorf("record %d, namespace %s: %w", i, h, err)
			}
		}
	}
	return end, nil
}

// applyOps edits list by ops (keep, delete, insert from docs) and returns the result. It works in place
// where the edit allows (a replaced document, documents appended or cut off the front: most commits), so
// replaying a commit costs what it changed; list must not be shared.
func applyOps(list bsonkit.List, ops []int64, docs bsonkit.List) (bsonkit.List, error) {
	if len(ops)%2 != 0 {
		return nil, fmt.Errorf("odd edit length %d", len(ops))
	}
	// Documents cut off the front (the oplog's trimming): drop them by reslicing.
	if len(ops) >= 2 && ops[0] == opDelete {
		if ops[1] < 0 || ops[1] > int64(len(list)) {
			return nil, fmt.Errorf("delete %d of %d documents", ops[1], len(list))
		}
		list, ops = list[ops[1]:], ops[2:]
	}
	out := list // written at w while read at r; w <= r, or out is a copy
	copied := false
	r, w := 0, 0
	for k := 0; k < len(ops); k += 2 {
		code, n := ops[k], ops[k+1]
		if n < 0 || n > int64(len(list)+len(docs)) {
			return nil, fmt.Errorf("count %d out of range", n)
		}
		c := int(n)
		switch code {
		case opKeep:
			if r+c > len(list) {
				return nil, fmt.Errorf("keep %d at %d of %d documents", c, r, len(list))
			}
			if copied {
				out = append(out[:w], list[r:r+c]...)
			} else if w != r {
				copy(out[w:], list[r:r+c])
			}
			r, w = r+c, w+c
		case opDelete:
			if r+c > len(list) {
				return nil, fmt.Errorf("delete %d at %d of %d documents", c, r, len(list))
			}
			r += c
		case opInsert:
			if c > len(docs) {
				return nil, fmt.Errorf("insert %d of %d documents", c, len(docs))
			}
			switch {
			case copied:
				out = append(out[:w], docs[:c]...)
			case w+c <= r:
				copy(out[w:], docs[:c])
			case r == len(list):
				// Nothing left to read: appending cannot overwrite a document still to be kept.
				out = append(out[:w], docs[:c]...)
			default:
				fresh := make(bsonkit.List, w, len(list)-r+w+c)
				copy(fresh, out[:w])
				out, copied = append(fresh, docs[:c]...), true
			}
			docs, w = docs[c:], w+c
		default:
			return nil, fmt.Errorf("unknown edit code %d", code)
		}
	}
	if r != len(list) {
		return nil, fmt.Errorf("edit covers %d of %d documents", r, len(list))
	}
	if len(docs) != 0 {
		return nil, fmt.Errorf("%d documents left over", len(docs))
	}
	if !copied && w < len(list) {
		clear(out[w:len(list)]) // let the dropped documents go
	}
	return out[:w:w], nil
}

// buildCatalog turns the namespaces read into the engine's catalog, building each index as lungo's
// FileStore does (in parallel: index building is the other large part of a load).
func buildCatalog(state map[lungo.Handle]*nsState) (*lungo.Catalog, error) {
	handles := make([]lungo.Handle, 0, len(state))
	for h := range state {
		handles = append(handles, h)
	}
	colls := make([]*mongokit.Collection, len(handles))
	errs := make([]error, len(handles))
	parallel(len(handles), func(i int) {
		colls[i], errs[i] = buildCollection(state[handles[i]])
		if errs[i] != nil {
			errs[i] = fmt.Errorf("namespace %s: %w", handles[i], errs[i])
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	catalog := lungo.NewCatalog()
	for i, h := range handles {
		catalog.Namespaces[h] = colls[i]
	}
	return catalog, nil
}

func buildCollection(ns *nsState) (*mongokit.Collection, error) {
	coll := mongokit.NewCollection(false)
	coll.Documents = bsonkit.NewSet(ns.docs)
	if len(coll.Documents.List) != len(ns.docs) {
		return nil, fmt.Errorf("a document twice")
	}
	for _, idx := range ns.indexes {
		index, err := mongokit.CreateIndex(mongokit.IndexConfig{Key: idx.Key, Unique: idx.Unique, Partial: idx.Partial, Expiry: idx.Expiry})
		if err != nil {
			return nil, fmt.Errorf("index %q: %w", idx.Name, err)
		}
		ok, err := index.Build(coll.Documents.List)
		if err != nil {
			return nil, fmt.Errorf("index %q: %w", idx.Name, err)
		} else if !ok {
			return nil, fmt.Errorf("duplicate document for index %q", idx.Name)
		}
		coll.Indexes[idx.Name] = index
	}
	return coll, nil
}

// Store makes catalog durable before it returns: the engine calls it on every commit, holding its lock,
// with the catalog the commit produced. An error means the commit did not happen as far as the engine
// is concerned; on disk it may or may not have (as with any interrupted commit), and the next Store
// writes a whole generation, so later commits are never lost behind it.
func (s *DirStore) Store(catalog *lungo.Catalog) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return fmt.Errorf("store embedded engine directory %s: not loaded", s.dir)
	}
	if s.broken || s.gen == 0 || s.logBytes > max(s.compactFloor, s.snapBytes) {
		if err := s.compact(catalog); err != nil {
			return fmt.Errorf("store embedded engine directory %s: %w", s.dir, err)
		}
		s.base = catalog
		return nil
	}
	changes := diffCatalogs(s.base, catalog)
	if len(changes) == 0 {
		s.base = catalog
		return nil
	}
	payload, err := bson.Marshal(dsCommit{Changes: changes})
	if err != nil {
		return fmt.Errorf("store embedded engine directory %s: encode commit: %w", s.dir, err)
	}
	if _, err := s.log.Write(frame(payload)); err != nil {
		s.broken = true
		return fmt.Errorf("store embedded engine directory %s: append commit: %w", s.dir, err)
	}
	if s.syncEvery > 0 {
		s.unsynced = true
	} else if err := s.log.Sync(); err != nil {
		s.broken = true
		return fmt.Errorf("store embedded engine directory %s: sync log: %w", s.dir, err)
	}
	s.logBytes += int64(frameHeader + len(payload))
	s.base = catalog
	return nil
}

// compact writes catalog as the next generation and makes it current.
func (s *DirStore) compact(catalog *lungo.Catalog) error {
	// A number above every generation this store wrote, so a failed attempt's files are never reused
	// while the manifest might name them.
	gen := s.gen + 1
	log, snapBytes, err := writeGeneration(s.fs, s.dir, gen, catalog)
	if err != nil {
		// The manifest may or may not name gen now: treat gen as used and write a new one next time.
		s.gen, s.broken = gen, true
		return err
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	s.gen, s.log, s.logBytes, s.snapBytes, s.broken, s.unsynced = gen, log, int64(len(logMagic)), snapBytes, false, false
	s.removeLeftovers(gen)
	return nil
}

// writeGeneration writes gen's snapshot of catalog and its empty log into dir, then the manifest naming
// them. It returns the log, open for appending, and the snapshot's size.
func writeGeneration(fsys fileSystem, dir string, gen uint64, catalog *lungo.Catalog) (writeFile, int64, error) {
	snapName := filepath.Join(dir, genName(gen, snapshotSuffix))
	snapBytes, err := writeSnapshot(fsys, snapName, catalog)
	if err != nil {
		return nil, 0, fmt.Errorf("write snapshot: %w", err)
	}
	log, err := fsys.Create(filepath.Join(dir, genName(gen, logSuffix)))
	if err != nil {
		return nil, 0, fmt.Errorf("create log: %w", err)
	}
	fail := func(what string, err error) (writeFile, int64, error) {
		_ = log.Close()
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	if _, err := io.WriteString(log, logMagic); err != nil {
		return fail("write log", err)
	}
	if err := log.Sync(); err != nil {
		return fail("sync log", err)
	}
	// Both files' entries must be durable before a manifest names them.
	if err := fsys.SyncDir(dir); err != nil {
		return fail("sync directory", err)
	}
	m, err := json.Marshal(manifest{Format: manifestFormat, Generation: gen})
	if err != nil {
		return fail("encode manifest", err)
	}
	tmp := filepath.Join(dir, manifestName+".tmp")
	if err := writeSynced(fsys, tmp, func(w io.Writer) error { _, err := w.Write(append(m, '\n')); return err }); err != nil {
		return fail("write manifest", err)
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, manifestName)); err != nil {
		return fail("replace manifest", err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fail("sync directory", err)
	}
	return log, snapBytes, nil
}

// writeSynced creates name, writes it with fn and fsyncs it.
func writeSynced(fsys fileSystem, name string, fn func(io.Writer) error) error {
	f, err := fsys.Create(name)
	if err != nil {
		return err
	}
	err = fn(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeSnapshot(fsys fileSystem, name string, catalog *lungo.Catalog) (int64, error) {
	handles := sortedHandles(catalog.Namespaces)
	var size int64
	err := writeSynced(fsys, name, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 64<<10)
		put := func(fr dsFrame) error {
			payload, err := bson.Marshal(fr)
			if err != nil {
				return err
			}
			n, err := w.Write(frame(payload))
			size += int64(n)
			return err
		}
		n, err := w.WriteString(snapshotMagic)
		size += int64(n)
		if err != nil {
			return err
		}
		for _, h := range handles {
			ns := catalog.Namespaces[h]
			list := ns.Documents.List
			first := true
			for first || len(list) > 0 {
				k := min(len(list), docsPerFrame)
				fr := dsFrame{DB: h[0], Coll: h[1], First: first, Docs: list[:k]}
				if first {
					fr.Indexes = indexesOf(ns)
				}
				if err := put(fr); err != nil {
					return fmt.Errorf("namespace %s: %w", h, err)
				}
				list, first = list[k:], false
			}
		}
		if err := put(dsFrame{End: true, Namespaces: len(handles)}); err != nil {
			return err
		}
		return w.Flush()
	})
	return size, err
}

// frame prefixes payload with its length and CRC-32C.
func frame(payload []byte) []byte {
	out := make([]byte, frameHeader+len(payload))
	binary.LittleEndian.PutUint32(out, uint32(len(payload)))
	binary.LittleEndian.PutUint32(out[4:], crc32.Checksum(payload, crcTable))
	copy(out[frameHeader:], payload)
	return out
}

func sortedHandles[V any](m map[lungo.Handle]V) []lungo.Handle {
	hs := make([]lungo.Handle, 0, len(m))
	for h := range m {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b lungo.Handle) int { return strings.Compare(a.String(), b.String()) })
	return hs
}

func indexesOf(ns *mongokit.Collection) []dsIndex {
	out := make([]dsIndex, 0, len(ns.Indexes))
	for name, index := range ns.Indexes {
		c := index.Config()
		out = append(out, dsIndex{Name: name, Key: c.Key, Unique: c.Unique, Partial: c.Partial, Expiry: c.Expiry})
	}
	slices.SortFunc(out, func(a, b dsIndex) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// diffCatalogs lists what turned old into cur: the namespaces whose pointer changed (the engine shares
// untouched ones between catalogs), each with its indexes and the edit of its documents, and the
// namespaces dropped.
func diffCatalogs(old, cur *lungo.Catalog) []dsChange {
	var out []dsChange
	for _, h := range sortedHandles(cur.Namespaces) {
		ns, was := cur.Namespaces[h], old.Namespaces[h]
		if ns == was {
			continue
		}
		ch := dsChange{DB: h[0], Coll: h[1], Indexes: indexesOf(ns)}
		if was == nil {
			ch.Ops, ch.Docs = []int64{opInsert, int64(len(ns.Documents.List))}, ns.Documents.List
		} else {
			ch.Ops, ch.Docs = diffSets(was.Documents, ns.Documents)
		}
		out = append(out, ch)
	}
	for _, h := range sortedHandles(old.Namespaces) {
		if _, ok := cur.Namespaces[h]; !ok {
			out = append(out, dsChange{DB: h[0], Coll: h[1], Drop: true})
		}
	}
	return out
}

// diffSets returns an edit (keep, delete, insert) turning old's document list into cur's, comparing
// documents by identity: the engine replaces a changed document by a new one and never edits a stored
// one. A run of unchanged documents costs a pointer comparison each; a changed one a map lookup.
func diffSets(old, cur *bsonkit.Set) ([]int64, bsonkit.List) {
	var ops []int64
	var docs bsonkit.List
	emit := func(code int64, n int) {
		if n == 0 {
			return
		}
		if k := len(ops); k > 0 && ops[k-2] == code {
			ops[k-1] += int64(n)
			return
		}
		ops = append(ops, code, int64(n))
	}
	o, c := old.List, cur.List
	i, j := 0, 0
	for i < len(o) && j < len(c) {
		if o[i] == c[j] {
			k := 1
			for i+k < len(o) && j+k < len(c) && o[i+k] == c[j+k] {
				k++
			}
			emit(opKeep, k)
			i, j = i+k, j+k
			continue
		}
		if _, ok := cur.Index[o[i]]; !ok {
			emit(opDelete, 1)
			i++
			continue
		}
		if _, ok := old.Index[c[j]]; !ok {
			emit(opInsert, 1)
			docs = append(docs, c[j])
			j++
			continue
		}
		// Both still there but in another order (the engine does not reorder; this keeps the edit right
		// if it ever does): rewrite the rest.
		break
	}
	emit(opDelete, len(o)-i)
	emit(opInsert, len(c)-j)
	docs = append(docs, c[j:]...)
	return ops, docs
}

// Close fsyncs what is pending and releases the directory: the open log and the lock. The Dialer calls
// it after closing the engine; the store can be loaded again afterwards. An error means the last
// commits may not be durable.
func (s *DirStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked()
}

func (s *DirStore) closeLocked() error {
	var errs []error
	if s.stopSync != nil {
		close(s.stopSync)
		s.stopSync = nil
	}
	if s.log != nil {
		if s.unsynced && !s.broken {
			errs = append(errs, s.log.Sync())
		}
		errs = append(errs, s.log.Close())
		s.log, s.unsynced = nil, false
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	s.loaded = false
	return errors.Join(errs...)
}
