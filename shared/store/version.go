package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
)

// ServerVersion returns the major and minor version of the MongoDB server client reaches (buildInfo),
// for features that depend on it: change-stream post-images (6.0), split large change events (7.0). The
// embedded engine runs no commands and has none of those features; it returns an error for it, so callers
// check for it first (a *lungo.Client).
func ServerVersion(ctx context.Context, client lungo.IClient) (major, minor int, err error) {
	if _, embedded := client.(*lungo.Client); embedded {
		return 0, 0, errors.New("server version: the embedded engine has none")
	}
	var info struct {
		VersionArray []int32 `bson:"versionArray"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return 0, 0, fmt.Errorf("server version: %w", err)
	}
	if len(info.VersionArray) < 2 {
		return 0, 0, errors.New("server version: buildInfo has no versionArray")
	}
	return int(info.VersionArray[0]), int(info.VersionArray[1]), nil
}
