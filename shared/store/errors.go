package store

import (
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

// IsNotFound reports whether err says a single-document read found nothing.
func IsNotFound(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }
