package notifications

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"github.com/nyaruka/phonenumbers"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
)

// DefaultRegion is the region a phone number without a country code is read in.
const DefaultRegion = "IN"

// QuietHours is a daily window, in the institution's timezone, in which SMS and WhatsApp messages wait
// (email is sent: it does not ring). From after To spans midnight ("21:00" to "07:00").
type QuietHours struct {
	From string `bson:"from" json:"from" example:"21:00"`
	To   string `bson:"to" json:"to" example:"07:00"`
}

// Preferences are how one person (guardian, student or staff member) is reached.
type Preferences struct {
	Person           string `bson:"_id" json:"person_id"`
	PreferencesInput `bson:",inline"`
	// EmailVerified and PhoneVerified say whether the email address and phone number notifications go to
	// (these preferences' or the account's) were confirmed with a code (verify.go).
	EmailVerified bool      `bson:"-" json:"email_verified"`
	PhoneVerified bool      `bson:"-" json:"phone_verified"`
	UpdatedAt     time.Time `bson:"updated_at" json:"updated_at"`
}

// PreferencesInput is what a person (or the institution for them) sets. Empty fields keep the defaults:
// every channel in the order email, sms, whatsapp; no opt-outs; no quiet hours; English; the account's
// email and phone.
type PreferencesInput struct {
	// Channels are tried in this order; the first that succeeds is the only one used.
	Channels []Channel `bson:"channels" json:"channels"`
	// OptOuts are kinds the person does not want; MandatoryKinds cannot be listed.
	OptOuts    []string    `bson:"opt_outs" json:"opt_outs" example:"[\"fees.reminder\"]"`
	QuietHours *QuietHours `bson:"quiet_hours,omitempty" json:"quiet_hours,omitempty"`
	Language   string      `bson:"language" json:"language,omitempty" example:"hi"`
	// Email and Phone override the account's contacts for notifications; Phone is stored in E.164.
	Email string `bson:"email,omitempty" json:"email,omitempty" example:"asha.verma@example.com"`
	Phone string `bson:"phone,omitempty" json:"phone,omitempty" example:"+919812345678"`
}

// NormalizePhone parses a phone number (in DefaultRegion when it has no country code) and returns it in
// E.164. Invalid names field when it is not a valid number.
func NormalizePhone(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", apperr.Field(field, apperr.FieldRequired, "must be a phone number such as +919812345678")
	case len(s) > 32:
		return "", apperr.Field(field, apperr.FieldTooLong, "must be a phone number such as +919812345678")
	}
	num, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", apperr.Field(field, apperr.FieldFormat, "must be a valid phone number such as +919812345678")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// normalized returns in with its contacts normalised and its lists deduplicated, or Invalid naming every
// offending field. It does not change in.
func (in PreferencesInput) normalized() (PreferencesInput, error) {
	out := in
	var bad apperr.Problems
	out.Channels = nil
	for _, c := range in.Channels {
		if !c.Valid() {
			bad.Add("channels", apperr.FieldNotAllowed, "each must be email, sms or whatsapp")
			break
		}
		if !contains(channelNames(out.Channels), string(c)) {
			out.Channels = append(out.Channels, c)
		}
	}
	out.OptOuts = nil
	for _, k := range in.OptOuts {
		switch {
		case MandatoryKinds[k]:
			bad.Add("opt_outs", apperr.FieldNotAllowed, k+" cannot be opted out of")
		case !validKind(k):
			bad.Add("opt_outs", apperr.FieldNotAllowed, "each must be one of "+strings.Join(kindNames(), ", "))
		case !contains(out.OptOuts, k):
			out.OptOuts = append(out.OptOuts, k)
		}
	}
	if q := in.QuietHours; q != nil {
		from, ok1 := parseClock(q.From)
		to, ok2 := parseClock(q.To)
		if !ok1 || !ok2 || from == to {
			bad.Add("quiet_hours", apperr.FieldFormat, "from and to must be different times HH:MM")
		}
	}
	if in.Language != "" && !validLanguage(in.Language) {
		bad.Add("language", apperr.FieldNotAllowed, "must be en or hi")
	}
	if in.Email != "" {
		e, err := account.NormalizeEmail("email", in.Email)
		if err != nil {
			bad.Add("email", apperr.FieldFormat, "must be an email address")
		}
		out.Email = e
	}
	if in.Phone != "" {
		p, err := NormalizePhone("phone", in.Phone)
		if err != nil {
			bad.Add("phone", apperr.FieldFormat, "must be a valid phone number such as +919812345678")
		}
		out.Phone = p
	}
	if err := bad.Err(); err != nil {
		return in, err
	}
	if out.Channels == nil {
		out.Channels = []Channel{}
	}
	if out.OptOuts == nil {
		out.OptOuts = []string{}
	}
	return out, nil
}

func channelNames(cs []Channel) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

// preferencesOf returns person's preferences, the defaults when none are saved.
func preferencesOf(ctx context.Context, db lungo.IDatabase, person string) (Preferences, error) {
	var p Preferences
	err := db.Collection(preferencesCollection).FindOne(ctx, bson.M{"_id": person}).Decode(&p)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Preferences{Person: person, PreferencesInput: PreferencesInput{Channels: []Channel{}, OptOuts: []string{}}}, nil
	}
	return p, err
}

// Preferences returns the preferences of person, an account of the institution. NotFound when db has no
// such account (another institution's person reads the same). Callers: the person (Self), or
// notifications.write.
func (s *Service) Preferences(ctx context.Context, db lungo.IDatabase, person string) (Preferences, error) {
	if _, err := account.Get(ctx, db, person); err != nil {
		return Preferences{}, err
	}
	return s.withVerification(ctx, db, person)
}

// withVerification returns person's preferences with the verified flags of the contacts in use.
func (s *Service) withVerification(ctx context.Context, db lungo.IDatabase, person string) (Preferences, error) {
	c, p, err := recipientOf(ctx, db, Source{}, person)
	if err != nil {
		return Preferences{}, err
	}
	if err := verifiedContacts(ctx, db, &p, c); err != nil {
		return Preferences{}, err
	}
	return p, nil
}

// SetPreferences validates, normalises and saves person's preferences. Invalid naming the fields (a
// malformed phone or email, an unknown channel, opting out of a mandatory kind); NotFound as Preferences.
func (s *Service) SetPreferences(ctx context.Context, db lungo.IDatabase, person string, in PreferencesInput) (Preferences, error) {
	if _, err := account.Get(ctx, db, person); err != nil {
		return Preferences{}, err
	}
	n, err := in.normalized()
	if err != nil {
		return Preferences{}, err
	}
	p := Preferences{Person: person, PreferencesInput: n, UpdatedAt: s.deps.Clock.Now()}
	if _, err := db.Collection(preferencesCollection).ReplaceOne(ctx, bson.M{"_id": person}, p, options.Replace().SetUpsert(true)); err != nil {
		return Preferences{}, err
	}
	return s.withVerification(ctx, db, person)
}

// quietUntil returns when q ends if now (in loc) falls inside it, else the zero time.
func quietUntil(q *QuietHours, now time.Time, loc *time.Location) time.Time {
	if q == nil {
		return time.Time{}
	}
	from, ok1 := parseClock(q.From)
	to, ok2 := parseClock(q.To)
	if !ok1 || !ok2 {
		return time.Time{}
	}
	local := now.In(loc)
	minute := local.Hour()*60 + local.Minute()
	inside := from < to && minute >= from && minute < to || from > to && (minute >= from || minute < to)
	if !inside {
		return time.Time{}
	}
	end := time.Date(local.Year(), local.Month(), local.Day(), to/60, to%60, 0, 0, loc)
	if !end.After(local) {
		end = end.AddDate(0, 0, 1)
	}
	return end.UTC()
}
