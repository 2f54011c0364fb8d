package notifications

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio signs with HMAC-SHA1; not our choice
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/edugrid/edugrid/shared/apperr"
)

// WebhookSecrets verify the providers' status callbacks. A callback whose secret is not configured is
// refused, like a forged one.
type WebhookSecrets struct {
	// PublicURL is the API's public base URL (https://api.example.edu): Twilio signs the URL it called.
	PublicURL string
	// TwilioAuthToken is the Twilio account's auth token, the key of X-Twilio-Signature.
	TwilioAuthToken string
	// WhatsAppAppSecret is the Meta app's secret, the key of X-Hub-Signature-256.
	WhatsAppAppSecret string
	// WhatsAppVerifyToken answers Meta's subscription handshake.
	WhatsAppVerifyToken string
}

// TwilioWebhookPath is where Twilio posts status callbacks, below the API's public URL.
const TwilioWebhookPath = "/notifications/webhooks/twilio"

var errForged = apperr.Errorf(apperr.Forbidden, "the callback's signature does not verify")

// TwilioSignature is X-Twilio-Signature for a form POST to fullURL: base64 of HMAC-SHA1, keyed by the
// auth token, of the URL followed by every parameter name and value, sorted by name.
func TwilioSignature(authToken, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// MetaSignature is X-Hub-Signature-256 for body: "sha256=" and the hex HMAC-SHA256 keyed by the app secret.
func MetaSignature(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// TwilioStatus applies a Twilio status callback (form body raw, with its X-Twilio-Signature and the query
// of the URL called). Forbidden, changing nothing, when the signature does not verify. Callers: Twilio.
func (s *Service) TwilioStatus(ctx context.Context, raw []byte, rawQuery, signature string) error {
	secret := s.deps.Webhooks.TwilioAuthToken
	if secret == "" || signature == "" {
		return errForged
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return errForged
	}
	full := strings.TrimRight(s.deps.Webhooks.PublicURL, "/") + TwilioWebhookPath
	if rawQuery != "" {
		full += "?" + rawQuery
	}
	if !hmac.Equal([]byte(TwilioSignature(secret, full, form)), []byte(signature)) {
		return errForged
	}
	var st Status
	reason := ""
	switch form.Get("MessageStatus") {
	case "sent":
		st = Sent
	case "delivered":
		st = Delivered
	case "undelivered", "failed":
		st = Failed
		reason = "the carrier did not deliver it"
		if c := form.Get("ErrorCode"); c != "" {
			reason += " (Twilio error " + clip(c) + ")"
		}
	default:
		return nil // queued, accepting, sending: nothing the log does not already say
	}
	return s.applyStatus(ctx, "twilio", form.Get("MessageSid"), st, reason)
}

// metaEvent is the part of a WhatsApp Cloud API webhook the log reads. The payload is Meta's and grows
// over time, so it is read leniently, after its signature proved who sent it.
type metaEvent struct {
	Entry []struct {
		Changes []struct {
			Value struct {
				Statuses []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
					Errors []struct {
						Code  int    `json:"code"`
						Title string `json:"title"`
					} `json:"errors"`
				} `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// WhatsAppStatus applies a WhatsApp Cloud API webhook (raw body with its X-Hub-Signature-256). Forbidden,
// changing nothing, when the signature does not verify; Invalid when the signed body is not JSON. Callers:
// Meta.
func (s *Service) WhatsAppStatus(ctx context.Context, raw []byte, signature string) error {
	secret := s.deps.Webhooks.WhatsAppAppSecret
	if secret == "" || !strings.HasPrefix(signature, "sha256=") {
		return errForged
	}
	if !hmac.Equal([]byte(MetaSignature(secret, raw)), []byte(signature)) {
		return errForged
	}
	var ev metaEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return apperr.Errorf(apperr.Invalid, "the callback is not JSON")
	}
	var errs []error
	for _, e := range ev.Entry {
		for _, c := range e.Changes {
			for _, st := range c.Value.Statuses {
				var to Status
				reason := ""
				switch st.Status {
				case "sent":
					to = Sent
				case "delivered", "read":
					to = Delivered
				case "failed":
					to = Failed
					reason = "WhatsApp did not deliver it"
					if len(st.Errors) > 0 {
						reason = fmt.Sprintf("WhatsApp error %d: %s", st.Errors[0].Code, clip(st.Errors[0].Title))
					}
				default:
					continue
				}
				if err := s.applyStatus(ctx, "whatsapp", st.ID, to, reason); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// VerifyWhatsApp answers Meta's subscription handshake: the challenge when mode is "subscribe" and the
// token matches, Forbidden otherwise.
func (s *Service) VerifyWhatsApp(mode, token, challenge string) (string, error) {
	want := s.deps.Webhooks.WhatsAppVerifyToken
	if want == "" || mode != "subscribe" || !hmac.Equal([]byte(token), []byte(want)) || len(challenge) > 200 {
		return "", errForged
	}
	return challenge, nil
}

// statusRank orders states so a late or repeated callback never moves a delivery backwards.
var allowedFrom = map[Status][]Status{
	Sent:      {Queued},
	Delivered: {Queued, Sent},
	Failed:    {Queued, Sent},
}

// applyStatus moves the delivery behind a provider's message id to st. An id edugrid did not send is
// ignored (the provider would retry an error forever).
func (s *Service) applyStatus(ctx context.Context, provider, pid string, st Status, reason string) error {
	if pid == "" || len(pid) > 200 || s.deps.Platform == nil {
		return nil
	}
	var ref struct {
		Tenant     string `bson:"tenant"`
		DeliveryID string `bson:"delivery_id"`
	}
	err := s.deps.Platform.Collection(refsCollection).FindOne(ctx, bson.M{"_id": provider + ":" + pid}).Decode(&ref)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notifications: provider message %s: %w", pid, err)
	}
	t, err := s.deps.Tenants.Get(ctx, ref.Tenant)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil
		}
		return err
	}
	db, release, err := s.deps.Databases.Open(ctx, t)
	if err != nil {
		return err
	}
	defer release()
	set := bson.M{"status": st, "updated_at": s.deps.Clock.Now()}
	if reason != "" {
		set["reason"] = reason
	}
	if st == Delivered {
		set["delivered_at"] = s.deps.Clock.Now()
	}
	_, err = db.Collection(deliveriesCollection).UpdateOne(ctx,
		bson.M{"_id": ref.DeliveryID, "provider_id": pid, "status": bson.M{"$in": allowedFrom[st]}}, bson.M{"$set": set})
	if err != nil {
		return fmt.Errorf("notifications: apply status to %s: %w", ref.DeliveryID, err)
	}
	return nil
}
