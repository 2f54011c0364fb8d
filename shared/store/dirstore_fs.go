package store

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fileSystem is the part of the operating system's file system the directory store uses. It exists so
// that the crash tests can run the store over a file system that forgets whatever was not synced and
// fails after any number of bytes or operations; production code uses osFS.
type fileSystem interface {
	// Kind says what name is: kindNone (absent), kindFile or kindDir.
	Kind(name string) (fileKind, error)
	ReadFile(name string) ([]byte, error)
	// ReadDir lists the names in dir.
	ReadDir(dir string) ([]string, error)
	// MkdirAll creates dir and its missing parents.
	MkdirAll(dir string) error
	// Create creates or truncates name for writing.
	Create(name string) (writeFile, error)
	// Append opens an existing name for appending.
	Append(name string) (writeFile, error)
	Rename(from, to string) error
	// Remove removes a file or an empty directory; RemoveAll a directory and everything in it.
	// Neither reports a name that is already absent.
	Remove(name string) error
	RemoveAll(name string) error
	Truncate(name string, size int64) error
	// SyncDir makes the entries of dir (creations, renames, removals) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive advisory lock on name (created if absent) until the Closer is closed;
	// it fails at once when another holder has it.
	Lock(name string) (io.Closer, error)
}

// writeFile is a file open for writing.
type writeFile interface {
	io.Writer
	Sync() error
	Close() error
}

type fileKind int

const (
	kindNone fileKind = iota
	kindFile
	kindDir
)

// osFS is the operating system's file system. Files are owner-only: the store holds password hashes and
// every tenant's records.
type osFS struct{}

func (osFS) Kind(name string) (fileKind, error) {
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return kindNone, nil
	case err != nil:
		return kindNone, err
	case fi.IsDir():
		return kindDir, nil
	default:
		return kindFile, nil
	}
}

func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o700) }

func (osFS) Create(name string) (writeFile, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

func (osFS) Append(name string) (writeFile, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
}

func (osFS) Rename(from, to string) error { return os.Rename(from, to) }

func (osFS) Remove(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (osFS) RemoveAll(name string) error { return os.RemoveAll(name) }

func (osFS) Truncate(name string, size int64) error { return os.Truncate(name, size) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
