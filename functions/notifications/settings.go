package notifications

import (
	"context"
	"errors"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
)

// settingsCollection holds one document: the institution's channel settings.
const settingsCollection = "notification_settings"

// Settings are the channels an institution sends on, whatever its people prefer: an institution without
// a WhatsApp business account switches WhatsApp off here. Default: every channel the deployment offers.
type Settings struct {
	Channels []Channel `bson:"channels" json:"channels"`
	// Available are the channels the deployment has a provider for (read only).
	Available []Channel `bson:"-" json:"available"`
	Default   bool      `bson:"-" json:"default"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// SettingsInput replaces an institution's channels: at least one, each email, sms or whatsapp.
type SettingsInput struct {
	Channels []Channel `json:"channels"`
}

func settingsOf(ctx context.Context, db lungo.IDatabase) (Settings, error) {
	var st Settings
	err := db.Collection(settingsCollection).FindOne(ctx, bson.M{"_id": "settings"}).Decode(&st)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Settings{Channels: append([]Channel(nil), Channels...), Default: true}, nil
	}
	return st, err
}

func (s *Service) available() []Channel {
	out := []Channel{}
	for _, c := range Channels {
		if _, ok := s.deps.Senders[c]; ok {
			out = append(out, c)
		}
	}
	return out
}

// Settings returns the institution's channel settings. Callers: notifications.read.
func (s *Service) Settings(ctx context.Context, db lungo.IDatabase) (Settings, error) {
	st, err := settingsOf(ctx, db)
	st.Available = s.available()
	return st, err
}

// SetSettings replaces the institution's channels. Invalid unless there is at least one and each is known.
// Callers: notifications.write.
func (s *Service) SetSettings(ctx context.Context, db lungo.IDatabase, in SettingsInput) (Settings, error) {
	var chans []Channel
	for _, c := range in.Channels {
		if !c.Valid() {
			return Settings{}, apperr.Field("channels", apperr.FieldNotAllowed, "each must be email, sms or whatsapp")
		}
		if !contains(channelNames(chans), string(c)) {
			chans = append(chans, c)
		}
	}
	if len(chans) == 0 {
		return Settings{}, apperr.Field("channels", apperr.FieldRequired, "at least one channel is needed")
	}
	st := Settings{Channels: chans, UpdatedAt: s.deps.Clock.Now().UTC().Truncate(time.Millisecond)}
	if _, err := db.Collection(settingsCollection).ReplaceOne(ctx, bson.M{"_id": "settings"},
		bson.M{"_id": "settings", "channels": chans, "updated_at": st.UpdatedAt}, options.Replace().SetUpsert(true)); err != nil {
		return Settings{}, err
	}
	st.Available = s.available()
	return st, nil
}
