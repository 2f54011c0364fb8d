package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// RotationGrace is how long a replaced webhook secret still verifies webhooks: long enough to change the
// secret in edugrid and then in the gateway's dashboard (or the reverse) without refusing a webhook.
const RotationGrace = 72 * time.Hour

// account is a gateway account as stored: every secret sealed.
type account struct {
	Provider        Provider  `bson:"_id"`
	Mode            Mode      `bson:"mode"`
	KeyID           string    `bson:"key_id"`
	KeySecret       []byte    `bson:"key_secret"`
	WebhookSecret   []byte    `bson:"webhook_secret"`
	PreviousWebhook []byte    `bson:"previous_webhook_secret,omitempty"`
	PreviousUntil   time.Time `bson:"previous_until,omitempty"`
	// Fingerprints identify secrets in views without revealing them: the first 8 hex digits of SHA-256.
	KeyFingerprint     string    `bson:"key_fingerprint"`
	WebhookFingerprint string    `bson:"webhook_fingerprint"`
	UpdatedAt          time.Time `bson:"updated_at"`
	UpdatedBy          string    `bson:"updated_by"`
}

// Account is a gateway account as the API shows it: never a secret, only fingerprints of them.
type Account struct {
	Provider Provider `json:"provider"`
	Mode     Mode     `json:"mode"`
	// KeyID is the public half of the API key (Razorpay key id, Stripe publishable or restricted key id).
	KeyID string `json:"key_id" example:"rzp_test_1DP5mmOlF5G5ag"`
	// KeySecretFingerprint and WebhookSecretFingerprint are the first 8 hex digits of the secrets'
	// SHA-256, to tell which secret is in use without showing it.
	KeySecretFingerprint     string `json:"key_secret_fingerprint" example:"9f86d081"`
	WebhookSecretFingerprint string `json:"webhook_secret_fingerprint" example:"2c26b46b"`
	// PreviousWebhookSecretUntil is when the replaced webhook secret stops verifying; absent when there
	// is none.
	PreviousWebhookSecretUntil *time.Time `json:"previous_webhook_secret_until,omitempty"`
	// WebhookURL is where the gateway's dashboard must send this institution's webhooks.
	WebhookURL string    `json:"webhook_url" example:"https://api.example.edu/razorpay/webhooks/sunrise-academy"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AccountInput sets a gateway account. On the first save every field is required; afterwards an omitted
// secret keeps the stored one, and a new webhook_secret starts a rotation (RotationGrace).
type AccountInput struct {
	Mode          Mode   `json:"mode"`
	KeyID         string `json:"key_id" example:"rzp_test_1DP5mmOlF5G5ag"`
	KeySecret     string `json:"key_secret,omitempty" example:"thisisasecretkey0123"`
	WebhookSecret string `json:"webhook_secret,omitempty" example:"webhook-secret-0123"`
}

// Validate implements httpapi.Validator. It judges a as normalized leaves it and changes nothing, and
// names every bad field at once.
func (a AccountInput) Validate() error {
	a = a.normalized()
	var bad apperr.Problems
	switch {
	case a.Mode == "":
		bad.Add("mode", apperr.FieldRequired, `must be "test" or "live"`)
	case !a.Mode.Valid():
		bad.Add("mode", apperr.FieldNotAllowed, `must be "test" or "live"`)
	}
	checkSecretText(&bad, "key_id", a.KeyID, 1, 200, true)
	checkSecretText(&bad, "key_secret", a.KeySecret, 8, 500, false)
	checkSecretText(&bad, "webhook_secret", a.WebhookSecret, 8, 500, false)
	return bad.Err()
}

// checkSecretText records field as bad unless v is lo to hi printable ASCII characters without spaces
// (or empty, when not required).
func checkSecretText(bad *apperr.Problems, field, v string, lo, hi int, required bool) {
	msg := fmt.Sprintf("must be %d to %d printable characters without spaces", lo, hi)
	switch {
	case v == "":
		if required {
			bad.Add(field, apperr.FieldRequired, msg)
		}
	case len(v) < lo:
		bad.Add(field, apperr.FieldTooShort, msg)
	case len(v) > hi:
		bad.Add(field, apperr.FieldTooLong, msg)
	case !printable(v, lo, hi):
		bad.Add(field, apperr.FieldFormat, msg)
	}
}

// normalized returns a as it is stored: without surrounding spaces.
func (a AccountInput) normalized() AccountInput {
	a.KeyID, a.KeySecret, a.WebhookSecret = strings.TrimSpace(a.KeyID), strings.TrimSpace(a.KeySecret), strings.TrimSpace(a.WebhookSecret)
	return a
}

func printable(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:4])
}

// aad binds a sealed secret to its institution, provider and field: copied anywhere else it does not open.
func aad(slug string, p Provider, field string) []byte {
	return []byte("edugrid/payments/" + slug + "/" + string(p) + "/" + field)
}

func (s *Service) secrets() (Secrets, error) {
	if s.deps.Secrets == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "gateway secrets cannot be stored: the deployment has no key to seal them with")
	}
	return s.deps.Secrets, nil
}

func (s *Service) parseProvider(raw string) (Provider, error) {
	p := Provider(raw)
	if !p.Valid() {
		return "", apperr.Field("provider", apperr.FieldNotAllowed, `must be "razorpay" or "stripe"`)
	}
	return p, nil
}

// SaveAccount creates or replaces the institution's account with provider. Invalid for a bad input or a
// first save without both secrets; Unavailable when the deployment cannot seal secrets. Callers: owners
// (gateways.write).
func (s *Service) SaveAccount(ctx context.Context, provider string, in AccountInput) (*Account, error) {
	p, err := s.parseProvider(provider)
	if err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	in = in.normalized()
	box, err := s.secrets()
	if err != nil {
		return nil, err
	}
	t := tenant.FromContext(ctx)
	coll := store.Database(ctx).Collection(accountsCollection)
	var old account
	err = coll.FindOne(ctx, bson.M{"_id": p}).Decode(&old)
	exists := err == nil
	if err != nil && !store.IsNotFound(err) {
		return nil, fmt.Errorf("payments: read %s account: %w", p, err)
	}
	if !exists && (in.KeySecret == "" || in.WebhookSecret == "") {
		field := "key_secret"
		if in.KeySecret != "" {
			field = "webhook_secret"
		}
		return nil, apperr.Field(field, apperr.FieldRequired, "is required when the account is first set")
	}
	now := s.now()
	acc := old
	acc.Provider, acc.Mode, acc.KeyID, acc.UpdatedAt, acc.UpdatedBy = p, in.Mode, in.KeyID, now, rbac.Must(ctx).Subject
	if in.KeySecret != "" {
		if acc.KeySecret, err = box.Seal(ctx, []byte(in.KeySecret), aad(t.Slug, p, "key_secret")); err != nil {
			return nil, fmt.Errorf("payments: seal the %s key secret: %w", p, err)
		}
		acc.KeyFingerprint = fingerprint(in.KeySecret)
	}
	rotated := false
	if in.WebhookSecret != "" && (!exists || fingerprint(in.WebhookSecret) != old.WebhookFingerprint) {
		sealed, err := box.Seal(ctx, []byte(in.WebhookSecret), aad(t.Slug, p, "webhook_secret"))
		if err != nil {
			return nil, fmt.Errorf("payments: seal the %s webhook secret: %w", p, err)
		}
		if exists {
			// The replaced secret keeps verifying for a while: the gateway may still sign with it.
			rotated = true
			acc.PreviousWebhook, acc.PreviousUntil = old.WebhookSecret, now.Add(RotationGrace)
		}
		acc.WebhookSecret, acc.WebhookFingerprint = sealed, fingerprint(in.WebhookSecret)
	}
	db := store.Database(ctx)
	err = store.Tx(ctx, db, func(tc context.Context) error {
		if _, err := store.Database(tc).Collection(accountsCollection).ReplaceOne(tc, bson.M{"_id": p}, acc, options.Replace().SetUpsert(true)); err != nil {
			return fmt.Errorf("payments: save %s account: %w", p, err)
		}
		// The audit entry names fingerprints only: a secret never reaches a log.
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "payments.account.saved", audit.Target{Kind: "payment_gateway_account", ID: string(p)},
			map[string]any{"mode": acc.Mode, "key_id": acc.KeyID, "key_secret_fingerprint": acc.KeyFingerprint,
				"webhook_secret_fingerprint": acc.WebhookFingerprint, "webhook_secret_rotated": rotated})
	})
	if err != nil {
		return nil, err
	}
	v := s.view(t, acc)
	return &v, nil
}

// Accounts lists the institution's gateway accounts, without secrets. Callers: gateways.read.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	cur, err := store.Database(ctx).Collection(accountsCollection).Find(ctx, bson.M{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("payments: list accounts: %w", err)
	}
	var accs []account
	if err := cur.All(ctx, &accs); err != nil {
		return nil, fmt.Errorf("payments: list accounts: %w", err)
	}
	t := tenant.FromContext(ctx)
	out := make([]Account, 0, len(accs))
	for _, a := range accs {
		out = append(out, s.view(t, a))
	}
	return out, nil
}

func (s *Service) view(t *tenant.Tenant, a account) Account {
	v := Account{Provider: a.Provider, Mode: a.Mode, KeyID: a.KeyID, KeySecretFingerprint: a.KeyFingerprint,
		WebhookSecretFingerprint: a.WebhookFingerprint, UpdatedAt: a.UpdatedAt,
		WebhookURL: strings.TrimRight(s.deps.PublicURL, "/") + "/" + string(a.Provider) + "/webhooks/" + t.Slug}
	if len(a.PreviousWebhook) > 0 && s.now().Before(a.PreviousUntil) {
		until := a.PreviousUntil
		v.PreviousWebhookSecretUntil = &until
	}
	return v
}

// credentials are an account's opened secrets, for one call to its gateway or one verification.
type credentials struct {
	Provider Provider
	Mode     Mode
	KeyID    string
	// KeySecret is the API secret; WebhookSecrets the secrets a webhook may be signed with, current first.
	KeySecret      string
	WebhookSecrets []string
}

// openAccount reads and opens the account with p of the institution slug, whose database db is (the
// secrets are bound to it). NotFound when there is none.
func (s *Service) openAccount(ctx context.Context, db lungo.IDatabase, slug string, p Provider) (*credentials, error) {
	var a account
	err := db.Collection(accountsCollection).FindOne(ctx, bson.M{"_id": p}).Decode(&a)
	if store.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "the institution has no %s account", p.Title())
	}
	if err != nil {
		return nil, fmt.Errorf("payments: read %s account of %s: %w", p, slug, err)
	}
	box, err := s.secrets()
	if err != nil {
		return nil, err
	}
	key, err := box.Open(ctx, a.KeySecret, aad(slug, p, "key_secret"))
	if err != nil {
		return nil, fmt.Errorf("payments: open the %s key secret of %s: %w", p, slug, err)
	}
	hook, err := box.Open(ctx, a.WebhookSecret, aad(slug, p, "webhook_secret"))
	if err != nil {
		return nil, fmt.Errorf("payments: open the %s webhook secret of %s: %w", p, slug, err)
	}
	c := &credentials{Provider: p, Mode: a.Mode, KeyID: a.KeyID, KeySecret: string(key), WebhookSecrets: []string{string(hook)}}
	if len(a.PreviousWebhook) > 0 && s.now().Before(a.PreviousUntil) {
		if prev, err := box.Open(ctx, a.PreviousWebhook, aad(slug, p, "webhook_secret")); err == nil {
			c.WebhookSecrets = append(c.WebhookSecrets, string(prev))
		}
	}
	return c, nil
}
