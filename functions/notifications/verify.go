package notifications

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Contact verification: a person proves an email address or phone number is theirs by entering the
// six-digit code sent to it. A contact is verified while it is the one the code went to; changing it
// makes it unverified again. Codes live 10 minutes, allow 5 tries, and one is sent per minute at most.
const (
	// KindVerification is the template kind of the code message.
	KindVerification = "contact.verification"

	verificationsCollection = "contact_verifications"
	codeTTL                 = 10 * time.Minute
	codeTries               = 5
	codeEvery               = time.Minute
)

// VerifyInput names the contact to verify: "email" or "sms" (the phone number).
type VerifyInput struct {
	Channel Channel `json:"channel" example:"sms"`
}

// ConfirmInput is the code the person received.
type ConfirmInput struct {
	Channel Channel `json:"channel" example:"sms"`
	Code    string  `json:"code" example:"482913"`
}

// Verification says where a code went.
type Verification struct {
	Channel   Channel   `json:"channel" example:"sms"`
	To        string    `json:"to" example:"+919812345678"`
	ExpiresAt time.Time `json:"expires_at"`
}

type verification struct {
	ID       string    `bson:"_id"` // person + ":" + channel
	To       string    `bson:"to"`
	CodeHash string    `bson:"code_hash"`
	Tries    int       `bson:"tries"`
	SentAt   time.Time `bson:"sent_at"`
	Expires  time.Time `bson:"expires"`
	Verified string    `bson:"verified"` // the contact last verified on this channel
}

func hashCode(person string, ch Channel, code string) string {
	sum := sha256.Sum256([]byte(person + "\x00" + string(ch) + "\x00" + code))
	return hex.EncodeToString(sum[:])
}

func verificationChannel(ch Channel) error {
	if ch != Email && ch != SMS {
		return apperr.Field("channel", apperr.FieldNotAllowed, "must be email or sms")
	}
	return nil
}

// StartVerification sends a code to person's current contact on ch. Invalid for another channel or
// when the person has no such contact; RateLimited within a minute of the last code; Unavailable when
// the deployment has no provider for ch or it failed. Callers: the person (Self).
func (s *Service) StartVerification(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, person string, in VerifyInput) (Verification, error) {
	if err := verificationChannel(in.Channel); err != nil {
		return Verification{}, err
	}
	c, prefs, err := recipientOf(ctx, db, Source{}, person)
	if err != nil {
		return Verification{}, err
	}
	to := c.email
	if in.Channel == SMS {
		to = c.phone
	}
	if to == "" {
		return Verification{}, apperr.Field("channel", apperr.FieldNotAllowed, "you have no contact on this channel; set it in your preferences first")
	}
	sender, ok := s.deps.Senders[in.Channel]
	if !ok {
		return Verification{}, apperr.Errorf(apperr.Unavailable, "this deployment does not send on %s", in.Channel)
	}
	now := s.deps.Clock.Now()
	key := person + ":" + string(in.Channel)
	var old verification
	err = db.Collection(verificationsCollection).FindOne(ctx, bson.M{"_id": key}).Decode(&old)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return Verification{}, err
	}
	if err == nil && now.Sub(old.SentAt) < codeEvery {
		return Verification{}, apperr.Errorf(apperr.RateLimited, "a code was sent less than a minute ago")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return Verification{}, err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	lang := prefs.Language
	if lang == "" {
		lang = "en"
	}
	tpl, err := templateFor(ctx, db, KindVerification, lang)
	if err != nil {
		return Verification{}, err
	}
	data := dataOf(t, Source{}, c.name)
	data["code"] = code
	r, err := render(t, tpl.TemplateInput, data)
	if err != nil {
		return Verification{}, err
	}
	msg := Message{Channel: in.Channel, To: to, Subject: r.Subject, HTML: r.HTML, Text: r.Text, Language: lang, Ref: key}
	if in.Channel == SMS {
		msg.Text, msg.Template, msg.Params = r.SMS, r.SMSTemplateID, r.Params
	}
	// Saved before sending: a code that went out is always one that can be confirmed.
	v := verification{ID: key, To: to, CodeHash: hashCode(person, in.Channel, code), SentAt: now, Expires: now.Add(codeTTL), Verified: old.Verified}
	if _, err := db.Collection(verificationsCollection).ReplaceOne(ctx, bson.M{"_id": key}, v, options.Replace().SetUpsert(true)); err != nil {
		return Verification{}, err
	}
	if _, _, err := s.send(ctx, sender, msg); err != nil {
		return Verification{}, apperr.Errorf(apperr.Unavailable, "the code could not be sent: %s", reasonOf(err))
	}
	return Verification{Channel: in.Channel, To: to, ExpiresAt: v.Expires}, nil
}

// ConfirmVerification checks the code person entered and marks the contact it went to as verified.
// Invalid for a wrong, expired or used-up code (after 5 wrong tries the code is spent); the answer is
// the person's preferences. Callers: the person (Self).
func (s *Service) ConfirmVerification(ctx context.Context, db lungo.IDatabase, person string, in ConfirmInput) (Preferences, error) {
	if err := verificationChannel(in.Channel); err != nil {
		return Preferences{}, err
	}
	if len(in.Code) != 6 {
		return Preferences{}, apperr.Field("code", apperr.FieldFormat, "must be the six digits you received")
	}
	key := person + ":" + string(in.Channel)
	coll := db.Collection(verificationsCollection)
	var v verification
	err := coll.FindOne(ctx, bson.M{"_id": key}).Decode(&v)
	if errors.Is(err, mongo.ErrNoDocuments) || err == nil && (v.CodeHash == "" || !s.deps.Clock.Now().Before(v.Expires) || v.Tries >= codeTries) {
		return Preferences{}, apperr.Field("code", apperr.FieldInvalid, "has expired or was never sent; ask for a new one")
	}
	if err != nil {
		return Preferences{}, err
	}
	// Counted before comparing, so concurrent guesses cannot exceed the tries.
	res, err := coll.UpdateOne(ctx, bson.M{"_id": key, "code_hash": v.CodeHash, "tries": v.Tries}, bson.M{"$inc": bson.M{"tries": 1}})
	if err != nil {
		return Preferences{}, err
	}
	if res.ModifiedCount == 0 {
		return Preferences{}, apperr.Errorf(apperr.Conflict, "another attempt was being checked; try again")
	}
	if subtle.ConstantTimeCompare([]byte(hashCode(person, in.Channel, in.Code)), []byte(v.CodeHash)) != 1 {
		return Preferences{}, apperr.Field("code", apperr.FieldInvalid, "is not the code that was sent")
	}
	if _, err := coll.UpdateOne(ctx, bson.M{"_id": key}, bson.M{"$set": bson.M{"verified": v.To, "code_hash": ""}}); err != nil {
		return Preferences{}, err
	}
	return s.Preferences(ctx, db, person)
}

// verifiedContacts fills p's verified flags: a contact is verified while it is the one last confirmed.
func verifiedContacts(ctx context.Context, db lungo.IDatabase, p *Preferences, c contact) error {
	cur, err := db.Collection(verificationsCollection).Find(ctx, bson.M{"_id": bson.M{"$in": []string{p.Person + ":email", p.Person + ":sms"}}})
	if err != nil {
		return err
	}
	var vs []verification
	if err := cur.All(ctx, &vs); err != nil {
		return err
	}
	for _, v := range vs {
		switch v.ID {
		case p.Person + ":email":
			p.EmailVerified = v.Verified != "" && v.Verified == c.email
		case p.Person + ":sms":
			p.PhoneVerified = v.Verified != "" && v.Verified == c.phone
		}
	}
	return nil
}
