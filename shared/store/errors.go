package store

import (
	"context"
	"errors"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo"
)

// IsDuplicateKey reports whether err is a unique-index violation from either engine. The embedded engine
// reports its own error, which mongo.IsDuplicateKeyError does not recognise, so every duplicate check in
// edugrid goes through here.
func IsDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	return mongo.IsDuplicateKeyError(err) || lungo.IsUniquenessError(err)
}

// IsTimeout reports whether err is a database call that ran out of time: its context's deadline passed
// (the embedded engine waiting for its write lock, a transaction waiting to begin) or the driver timed
// out (a socket, server selection, maxTimeMS). The HTTP layer answers these 503, never 500.
func IsTimeout(err error) bool {
	return err != nil && (errors.Is(err, context.DeadlineExceeded) || mongo.IsTimeout(err))
}

// IsNotFound reports whether err says a single-document read found nothing.
func IsNotFound(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }
