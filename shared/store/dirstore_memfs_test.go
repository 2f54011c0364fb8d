package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
)

// memFS is a file system in memory that remembers what was made durable: a file's content as of its
// last Sync, a directory's entries as of its last SyncDir. crash turns it into what a machine losing
// power would at worst find: only the durable state. A budget makes every mutating call fail once it is
// spent, a write part way through (one unit per byte, one per other call), as a process killed mid-commit
// would leave it.
type memFS struct {
	mu     sync.Mutex
	root   *memNode
	budget int // units left; negative: unlimited
}

type memNode struct {
	dir          bool
	data, synced []byte
	kids         map[string]*memNode // current entries
	durable      map[string]*memNode // entries as of the last SyncDir
}

var errCut = errors.New("memfs: cut")

// newMemFS returns a file system holding one durable, empty directory: /data, where the tests' stores
// live (as the local stack's data directory exists before its store).
func newMemFS() *memFS {
	data := &memNode{dir: true, kids: map[string]*memNode{}, durable: map[string]*memNode{}}
	kids := map[string]*memNode{"data": data}
	return &memFS{root: &memNode{dir: true, kids: kids, durable: maps.Clone(kids)}, budget: -1}
}

// spend takes up to n units and returns how many it got; fewer than n means the cut happened.
func (m *memFS) spend(n int) int {
	if m.budget < 0 {
		return n
	}
	got := min(n, m.budget)
	m.budget -= got
	return got
}

func (m *memFS) one() error {
	if m.spend(1) < 1 {
		return errCut
	}
	return nil
}

// clone copies the whole file system, keeping which entries share a node.
func (m *memFS) clone() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[*memNode]*memNode{}
	var cp func(n *memNode) *memNode
	cp = func(n *memNode) *memNode {
		if c, ok := seen[n]; ok {
			return c
		}
		c := &memNode{dir: n.dir, data: slices.Clone(n.data), synced: slices.Clone(n.synced)}
		seen[n] = c
		if n.dir {
			c.kids, c.durable = map[string]*memNode{}, map[string]*memNode{}
			for k, v := range n.kids {
				c.kids[k] = cp(v)
			}
			for k, v := range n.durable {
				c.durable[k] = cp(v)
			}
		}
		return c
	}
	return &memFS{root: cp(m.root), budget: -1}
}

// crashKeepingEntries forgets file content not synced but keeps every directory entry as it is: a machine
// whose file system wrote its metadata back (as journaling ones do at any time) but not the data. It
// catches a rename that names a file whose content was never synced.
func (m *memFS) crashKeepingEntries() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var walk func(n *memNode)
	walk = func(n *memNode) {
		if !n.dir {
			n.data = slices.Clone(n.synced)
			return
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(m.root)
}

// crash forgets everything not made durable.
func (m *memFS) crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var walk func(n *memNode)
	walk = func(n *memNode) {
		if !n.dir {
			n.data = slices.Clone(n.synced)
			return
		}
		n.kids = maps.Clone(n.durable)
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(m.root)
}

func (m *memFS) setBudget(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.budget = n
}

func split(name string) []string {
	name = path.Clean("/" + name)
	if name == "/" {
		return nil
	}
	return strings.Split(name[1:], "/")
}

// find returns the parent directory of name, name's last element and its node (nil if absent).
func (m *memFS) find(name string) (*memNode, string, *memNode, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", m.root, nil
	}
	dir := m.root
	for _, p := range parts[:len(parts)-1] {
		next := dir.kids[p]
		if next == nil || !next.dir {
			return nil, "", nil, fmt.Errorf("memfs: %s: %w", name, fs.ErrNotExist)
		}
		dir = next
	}
	last := parts[len(parts)-1]
	return dir, last, dir.kids[last], nil
}

func (m *memFS) Kind(name string) (fileKind, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n, err := m.find(name)
	switch {
	case err != nil || n == nil:
		return kindNone, nil
	case n.dir:
		return kindDir, nil
	default:
		return kindFile, nil
	}
}

func (m *memFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n, err := m.find(name)
	if err != nil {
		return nil, err
	}
	if n == nil || n.dir {
		return nil, fmt.Errorf("memfs: read %s: %w", name, fs.ErrNotExist)
	}
	return slices.Clone(n.data), nil
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n, err := m.find(dir)
	if err != nil {
		return nil, err
	}
	if n == nil || !n.dir {
		return nil, fmt.Errorf("memfs: readdir %s: %w", dir, fs.ErrNotExist)
	}
	return slices.Sorted(maps.Keys(n.kids)), nil
}

func (m *memFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.root
	for _, p := range split(dir) {
		next := cur.kids[p]
		if next == nil {
			if err := m.one(); err != nil {
				return err
			}
			next = &memNode{dir: true, kids: map[string]*memNode{}, durable: map[string]*memNode{}}
			cur.kids[p] = next
		} else if !next.dir {
			return fmt.Errorf("memfs: mkdir %s: not a directory", dir)
		}
		cur = next
	}
	return nil
}

type memFile struct {
	m *memFS
	n *memNode
}

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	got := f.m.spend(len(p))
	f.n.data = append(f.n.data, p[:got]...)
	if got < len(p) {
		return got, errCut
	}
	return got, nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.m.one(); err != nil {
		return err
	}
	f.n.synced = slices.Clone(f.n.data)
	return nil
}

func (f *memFile) Close() error { return nil }

func (m *memFS) Create(name string) (writeFile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, last, n, err := m.find(name)
	if err != nil {
		return nil, err
	}
	if err := m.one(); err != nil {
		return nil, err
	}
	if n == nil {
		n = &memNode{}
		parent.kids[last] = n
	} else if n.dir {
		return nil, fmt.Errorf("memfs: create %s: is a directory", name)
	}
	n.data = nil
	return &memFile{m: m, n: n}, nil
}

func (m *memFS) Append(name string) (writeFile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n, err := m.find(name)
	if err != nil {
		return nil, err
	}
	if n == nil || n.dir {
		return nil, fmt.Errorf("memfs: open %s: %w", name, fs.ErrNotExist)
	}
	return &memFile{m: m, n: n}, nil
}

func (m *memFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fp, fl, n, err := m.find(from)
	if err != nil {
		return err
	}
	tp, tl, old, err := m.find(to)
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("memfs: rename %s: %w", from, fs.ErrNotExist)
	}
	if old != nil && old.dir != n.dir {
		return fmt.Errorf("memfs: rename %s onto %s: kinds differ", from, to)
	}
	if err := m.one(); err != nil {
		return err
	}
	delete(fp.kids, fl)
	tp.kids[tl] = n
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, last, n, err := m.find(name)
	if err != nil || n == nil {
		return nil
	}
	if n.dir && len(n.kids) > 0 {
		return fmt.Errorf("memfs: remove %s: directory not empty", name)
	}
	if err := m.one(); err != nil {
		return err
	}
	delete(parent.kids, last)
	return nil
}

func (m *memFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	parent, last, n, err := m.find(name)
	if err != nil || n == nil {
		return nil
	}
	if err := m.one(); err != nil {
		return err
	}
	delete(parent.kids, last)
	return nil
}

func (m *memFS) Truncate(name string, size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n, err := m.find(name)
	if err != nil {
		return err
	}
	if n == nil || n.dir || size > int64(len(n.data)) {
		return fmt.Errorf("memfs: truncate %s: bad target", name)
	}
	if err := m.one(); err != nil {
		return err
	}
	n.data = n.data[:size]
	return nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n, err := m.find(dir)
	if err != nil {
		return err
	}
	if n == nil || !n.dir {
		return fmt.Errorf("memfs: sync %s: %w", dir, fs.ErrNotExist)
	}
	if err := m.one(); err != nil {
		return err
	}
	n.durable = maps.Clone(n.kids)
	return nil
}

func (m *memFS) Lock(string) (io.Closer, error) { return io.NopCloser(nil), nil }
