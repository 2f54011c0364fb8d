package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/store"
)

// RefreshCollection holds refresh tokens, in the tenant's own database (the platform database for
// platform admins).
const RefreshCollection = "refresh_tokens"

// refreshPrefix versions the token format. The tenant slug travels in the token in the clear so a refresh
// request finds its tenant database without a tenant picker; it is not a secret, the random part is.
const refreshPrefix = "rt1."

// RefreshToken is the stored form of a refresh token. Only the SHA-256 of the token is stored, so a
// leaked database does not hand out sessions.
type RefreshToken struct {
	Hash        string `bson:"_id"`
	Family      string `bson:"family"`
	UserID      string `bson:"user_id"`
	UserVersion int64  `bson:"user_version"`
	// TenantVersion is the tenant's token version at issue; a bump refuses every older refresh token.
	TenantVersion int64      `bson:"tenant_version"`
	CreatedAt     time.Time  `bson:"created_at"`
	ExpiresAt     time.Time  `bson:"expires_at"`
	UsedAt        *time.Time `bson:"used_at"`
	RevokedAt     *time.Time `bson:"revoked_at"`
}

// Refresher issues, rotates and revokes refresh tokens. Safe for concurrent use.
type Refresher struct {
	ttl   time.Duration
	clock clock.Clock
}

// NewRefresher returns a Refresher whose tokens live for ttl.
func NewRefresher(ttl time.Duration, clk clock.Clock) *Refresher {
	return &Refresher{ttl: ttl, clock: clk}
}

// EnsureRefreshIndexes creates the indexes refresh tokens need in db.
func EnsureRefreshIndexes(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(RefreshCollection).Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "family", Value: 1}}},
		{Keys: bson.D{{Key: "user_id", Value: 1}}},
		// Expired tokens are useless; a week's grace keeps them for reuse detection first.
		{Keys: bson.D{{Key: "expires_at", Value: 1}}, Options: options.Index().SetExpireAfterSeconds(7 * 24 * 3600)},
	})
	if err != nil {
		return fmt.Errorf("create refresh token indexes: %w", err)
	}
	return nil
}

// RefreshTenant returns the tenant slug a refresh token belongs to, or an Unauthenticated error when the
// string is not a refresh token this service issued.
func RefreshTenant(token string) (string, error) {
	rest, ok := strings.CutPrefix(token, refreshPrefix)
	slug, secret, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || slug == "" || len(secret) != 43 || len(token) > 200 {
		return "", errRefreshInvalid
	}
	return slug, nil
}

var (
	errRefreshInvalid = &apperr.Error{Code: apperr.Unauthenticated, Message: "the refresh token is invalid or expired"}
	errRefreshReused  = &apperr.Error{Code: apperr.Unauthenticated, Message: "the refresh token was already used; every session of this sign-in has been ended, sign in again"}
)

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Issue stores and returns a new refresh token for user in db, recording the user's and the tenant's
// token versions so that a later bump of either refuses it. family groups a chain of rotations (one
// sign-in); pass "" to start a new one.
func (rf *Refresher) Issue(ctx context.Context, db lungo.IDatabase, tenant, userID string, userVersion, tenantVersion int64, family string) (string, error) {
	token := refreshPrefix + tenant + "." + randomToken(32)
	if family == "" {
		family = randomToken(16)
	}
	now := rf.clock.Now()
	_, err := db.Collection(RefreshCollection).InsertOne(ctx, RefreshToken{
		Hash: hashToken(token), Family: family, UserID: userID, UserVersion: userVersion, TenantVersion: tenantVersion,
		CreatedAt: now, ExpiresAt: now.Add(rf.ttl),
	})
	if err != nil {
		return "", fmt.Errorf("issue refresh token for user %s: %w", userID, err)
	}
	return token, nil
}

// Rotate consumes token and returns its stored record; the caller then checks the user and issues the
// successor with Issue(…, old.Family). Exactly one of any number of concurrent Rotate calls with the same
// token succeeds. A token that was already used or revoked is a sign of theft: its whole family is revoked
// and Rotate returns an Unauthenticated error; so does an unknown or expired token.
func (rf *Refresher) Rotate(ctx context.Context, db lungo.IDatabase, token string) (RefreshToken, error) {
	if _, err := RefreshTenant(token); err != nil {
		return RefreshToken{}, err
	}
	coll := db.Collection(RefreshCollection)
	h := hashToken(token)
	now := rf.clock.Now()
	var old RefreshToken
	err := coll.FindOneAndUpdate(ctx,
		bson.M{"_id": h, "used_at": nil, "revoked_at": nil, "expires_at": bson.M{"$gt": now}},
		bson.M{"$set": bson.M{"used_at": now}},
	).Decode(&old)
	if err == nil {
		return old, nil
	}
	if !store.IsNotFound(err) {
		return RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	err = coll.FindOne(ctx, bson.M{"_id": h}).Decode(&old)
	if store.IsNotFound(err) {
		return RefreshToken{}, errRefreshInvalid
	}
	if err != nil {
		return RefreshToken{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	if old.UsedAt == nil && old.RevokedAt == nil {
		return RefreshToken{}, errRefreshInvalid // expired
	}
	if err := rf.RevokeFamily(ctx, db, old.Family); err != nil {
		return RefreshToken{}, err
	}
	return RefreshToken{}, errRefreshReused
}

// Lookup returns the stored record of token without consuming it, or an Unauthenticated error.
func (rf *Refresher) Lookup(ctx context.Context, db lungo.IDatabase, token string) (RefreshToken, error) {
	if _, err := RefreshTenant(token); err != nil {
		return RefreshToken{}, err
	}
	var rt RefreshToken
	err := db.Collection(RefreshCollection).FindOne(ctx, bson.M{"_id": hashToken(token)}).Decode(&rt)
	if store.IsNotFound(err) {
		return RefreshToken{}, errRefreshInvalid
	}
	if err != nil {
		return RefreshToken{}, fmt.Errorf("look up refresh token: %w", err)
	}
	return rt, nil
}

// RevokeFamily revokes every token of one sign-in.
func (rf *Refresher) RevokeFamily(ctx context.Context, db lungo.IDatabase, family string) error {
	now := rf.clock.Now()
	_, err := db.Collection(RefreshCollection).UpdateMany(ctx,
		bson.M{"family": family, "revoked_at": nil}, bson.M{"$set": bson.M{"revoked_at": now}})
	if err != nil {
		return fmt.Errorf("revoke refresh token family: %w", err)
	}
	return nil
}

// RevokeUser revokes every refresh token of a user (logout everywhere, password or role change).
func (rf *Refresher) RevokeUser(ctx context.Context, db lungo.IDatabase, userID string) error {
	now := rf.clock.Now()
	_, err := db.Collection(RefreshCollection).UpdateMany(ctx,
		bson.M{"user_id": userID, "revoked_at": nil}, bson.M{"$set": bson.M{"revoked_at": now}})
	if err != nil {
		return fmt.Errorf("revoke refresh tokens of user %s: %w", userID, err)
	}
	return nil
}

// RevokeAll revokes every refresh token in db: the whole tenant signs in again.
func (rf *Refresher) RevokeAll(ctx context.Context, db lungo.IDatabase) error {
	_, err := db.Collection(RefreshCollection).UpdateMany(ctx,
		bson.M{"revoked_at": nil}, bson.M{"$set": bson.M{"revoked_at": rf.clock.Now()}})
	if err != nil {
		return fmt.Errorf("revoke every refresh token of %s: %w", db.Name(), err)
	}
	return nil
}
