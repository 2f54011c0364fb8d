//go:build !unix

package store

import (
	"io"
	"os"
)

// Lock only creates the lock file where there is no flock: two processes opening one directory there
// are not stopped.
func (osFS) Lock(name string) (io.Closer, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
}
