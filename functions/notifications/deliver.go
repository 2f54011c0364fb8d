package notifications

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/store"
	"github.com/edugrid/edugrid/shared/tenant"
)

// Outcome says what Deliver did.
type Outcome string

// The outcomes.
const (
	OutcomeSent      Outcome = "sent"       // sent now on a channel
	OutcomeDone      Outcome = "done"       // already sent (a redelivery), or failed on every channel
	OutcomeBusy      Outcome = "busy"       // another instance holds the claim and is sending it
	OutcomeWaiting   Outcome = "waiting"    // waits out the recipient's quiet hours (SendWaiting sends it)
	OutcomeFailed    Outcome = "failed"     // refused on every channel it could use
	OutcomeNoChannel Outcome = "no_channel" // nothing to send it on (no contact, opted out, no provider)
)

// ErrRetry wraps the error Deliver returns when a transient failure outlasted the in-process retries: the
// caller should let Pub/Sub redeliver.
var ErrRetry = errors.New("delivery should be retried")

// contact is how a recipient is reached.
type contact struct {
	name, email, phone string
}

// recipientOf reads the recipient's account and preferences; the notification's data fills contacts the
// account lacks (an absence alert carries the guardian's phone and email).
func recipientOf(ctx context.Context, db lungo.IDatabase, n Source, recipient string) (contact, Preferences, error) {
	var c contact
	u, err := account.Get(ctx, db, recipient)
	switch {
	case err == nil:
		c = contact{name: u.Name, email: u.Email, phone: u.Phone}
	case apperr.CodeOf(err) != apperr.NotFound:
		return c, Preferences{}, err
	}
	if c.email == "" {
		c.email = n.Data["email"]
	}
	if c.phone == "" {
		c.phone = n.Data["phone"]
	}
	p, err := preferencesOf(ctx, db, recipient)
	if err != nil {
		return c, p, err
	}
	if p.Email != "" {
		c.email = p.Email
	}
	if p.Phone != "" {
		c.phone = p.Phone
	}
	if c.phone != "" {
		if e164, err := NormalizePhone("phone", c.phone); err == nil {
			c.phone = e164
		} else {
			c.phone = ""
		}
	}
	if c.email != "" {
		if e, err := account.NormalizeEmail("email", c.email); err == nil {
			c.email = e
		} else {
			c.email = ""
		}
	}
	return c, p, nil
}

// channelsFor returns the channels a kind reaches this recipient on, in the order to try them.
func (s *Service) channelsFor(kind string, c contact, p Preferences) []Channel {
	if slices.Contains(p.OptOuts, kind) && !MandatoryKinds[kind] {
		return nil
	}
	order := slices.Clone(p.Channels)
	for _, ch := range Channels { // channels the person did not rank come after, in the default order
		if !slices.Contains(order, ch) {
			order = append(order, ch)
		}
	}
	var out []Channel
	for _, ch := range order {
		if _, ok := s.deps.Senders[ch]; !ok {
			continue
		}
		if ch == Email && c.email == "" || ch != Email && c.phone == "" {
			continue
		}
		out = append(out, ch)
	}
	return out
}

// Deliver renders n and sends it to its recipient on the first channel (in the recipient's order) that
// takes it, falling back to the next on a permanent failure. Each (notification, channel) is sent at most
// once whatever the number of calls: the first caller inserts the delivery (a unique index on notification
// and channel) and holds it for the lease, a concurrent caller finds it held and returns OutcomeBusy, and a
// later one finds it sent and returns OutcomeDone. A claim left by a crashed caller is taken over after its
// lease; if that caller crashed after the provider accepted the message but before recording it, the
// message goes out twice: the only duplicate this design allows.
//
// It returns an error wrapping ErrRetry when a transient provider failure outlasted the retries (the
// delivery stays queued; a redelivery continues it), and any other error for a database failure. Callers:
// the delivery trigger, the local stack.
func (s *Service) Deliver(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, n notify.Notification) (Outcome, error) {
	src := Source{Subject: n.Subject, Body: n.Body, Data: n.Data, Created: n.CreatedAt}
	return s.deliver(ctx, db, t, n.ID, n.Kind, n.Recipient, src, nil)
}

// deliver is Deliver over a kept Source; only limits it to one channel (a resend).
func (s *Service) deliver(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, nid, kind, recipient string, src Source, only *Delivery) (Outcome, error) {
	c, prefs, err := recipientOf(ctx, db, src, recipient)
	if err != nil {
		return "", fmt.Errorf("notifications: recipient of %s: %w", nid, err)
	}
	lang := prefs.Language
	if lang == "" {
		lang = "en"
	}
	tpl, err := templateFor(ctx, db, kind, lang)
	if err != nil {
		return "", fmt.Errorf("notifications: template of %s: %w", nid, err)
	}
	rendered, err := render(t, tpl.TemplateInput, dataOf(t, src, c.name))
	if err != nil {
		// A saved template was validated, so this is a notification whose data breaks it: not retryable.
		s.deps.Logger.Error("notification does not render", slog.String("notification_id", nid), slog.String("error", err.Error()))
		return OutcomeFailed, nil
	}
	inst, err := settingsOf(ctx, db)
	if err != nil {
		return "", fmt.Errorf("notifications: channel settings: %w", err)
	}
	var channels []Channel
	for _, ch := range s.channelsFor(kind, c, prefs) {
		if slices.Contains(inst.Channels, ch) {
			channels = append(channels, ch)
		}
	}
	if only != nil {
		channels = []Channel{only.Channel}
	}
	if len(channels) == 0 {
		s.deps.Logger.Info("notification has no channel", slog.String("tenant", t.Slug), slog.String("notification_id", nid), slog.String("kind", kind))
		return OutcomeNoChannel, nil
	}
	outcome := OutcomeFailed
	for _, ch := range channels {
		sender, ok := s.deps.Senders[ch]
		to := c.email
		if ch != Email {
			to = c.phone
		}
		if only != nil && (!ok || to == "") {
			// A held delivery (a resend, one that waited) whose channel or contact has gone since.
			reason := "the recipient has no contact on this channel any more"
			if !ok {
				reason = "this channel is no longer configured"
			}
			if err := s.settle(context.WithoutCancel(ctx), db, only, bson.M{"status": Failed, "reason": reason}, 0); err != nil {
				return "", err
			}
			return OutcomeFailed, nil
		}
		if !ok {
			continue
		}
		var d *Delivery
		var claimed bool
		if only != nil {
			d, claimed = only, true
		} else {
			d, claimed, err = s.claim(ctx, db, nid, kind, recipient, ch, sender.Provider(), to, lang, src)
			if err != nil {
				return "", err
			}
		}
		if !claimed {
			switch d.Status {
			case Sent, Delivered:
				return OutcomeDone, nil
			case Failed:
				continue
			}
			if !d.NotBefore.IsZero() && d.NotBefore.After(s.deps.Clock.Now()) {
				return OutcomeWaiting, nil
			}
			return OutcomeBusy, nil
		}
		if ch != Email {
			if until := quietUntil(prefs.QuietHours, s.deps.Clock.Now(), t.Location()); !until.IsZero() {
				if err := s.release(ctx, db, d, bson.M{"not_before": until, "reason": "waiting for the end of quiet hours"}); err != nil {
					return "", err
				}
				return OutcomeWaiting, nil
			}
		}
		msg := Message{Channel: ch, To: to, Subject: rendered.Subject, HTML: rendered.HTML, Text: rendered.Text, Language: lang, Ref: d.ID}
		switch ch {
		case SMS:
			msg.Text, msg.Template, msg.Params = rendered.SMS, rendered.SMSTemplateID, rendered.Params
		case WhatsApp:
			msg.Text, msg.Template, msg.Params = rendered.WhatsApp, rendered.WhatsAppTemplate, rendered.Params
		}
		pid, attempts, err := s.send(ctx, sender, msg)
		now := s.deps.Clock.Now()
		// The outcome must be recorded even when ctx ended mid-send: an unrecorded send would be repeated.
		wctx := context.WithoutCancel(ctx)
		switch {
		case err == nil:
			if err := s.settle(wctx, db, d, bson.M{"status": Sent, "provider": sender.Provider(), "provider_id": pid, "to": to, "reason": "", "sent_at": now}, attempts); err != nil {
				return "", err
			}
			s.remember(wctx, t.Slug, sender.Provider(), pid, d.ID)
			return OutcomeSent, nil
		case IsPermanent(err):
			if err := s.settle(wctx, db, d, bson.M{"status": Failed, "provider": sender.Provider(), "to": to, "reason": reasonOf(err)}, attempts); err != nil {
				return "", err
			}
			s.deps.Logger.Warn("delivery failed", slog.String("tenant", t.Slug), slog.String("delivery_id", d.ID), slog.String("channel", string(ch)), slog.String("reason", reasonOf(err)))
			if only != nil {
				return OutcomeFailed, nil
			}
		default:
			if rerr := s.release(wctx, db, d, bson.M{"reason": reasonOf(err)}, attempts); rerr != nil {
				return "", rerr
			}
			return "", fmt.Errorf("notifications: deliver %s on %s: %s: %w", nid, ch, reasonOf(err), ErrRetry)
		}
	}
	return outcome, nil
}

// send tries m up to the retry policy's attempts while failures are transient.
func (s *Service) send(ctx context.Context, sender Sender, m Message) (string, int, error) {
	var err error
	for attempt := range max(s.deps.Retry.Attempts, 1) {
		if attempt > 0 {
			if werr := s.deps.Retry.wait(ctx, attempt-1); werr != nil {
				return "", attempt, Transient("cancelled while waiting to retry")
			}
		}
		var pid string
		pid, err = sender.Send(ctx, m)
		if err == nil {
			return pid, attempt + 1, nil
		}
		if IsPermanent(err) || errors.Is(err, ErrOpen) {
			return "", attempt + 1, err
		}
	}
	return "", s.deps.Retry.Attempts, err
}

// claim inserts the delivery of (nid, ch) held by this caller, or returns the existing one, taken over when
// its holder's lease has run out and it is still queued and due.
func (s *Service) claim(ctx context.Context, db lungo.IDatabase, nid, kind, recipient string, ch Channel, provider, to, lang string, src Source) (*Delivery, bool, error) {
	now := s.deps.Clock.Now()
	owner := id.New()
	d := &Delivery{ID: id.New(), NotificationID: nid, Kind: kind, Recipient: recipient, Channel: ch, Provider: provider, To: to,
		Language: lang, Status: Queued, CreatedAt: now, UpdatedAt: now, Owner: owner, LeaseUntil: now.Add(s.deps.Lease), Notification: src}
	coll := db.Collection(deliveriesCollection)
	_, err := coll.InsertOne(ctx, d)
	if err == nil {
		return d, true, nil
	}
	if !store.IsDuplicateKey(err) {
		return nil, false, fmt.Errorf("notifications: claim %s on %s: %w", nid, ch, err)
	}
	var cur Delivery
	if err := coll.FindOne(ctx, bson.M{"notification_id": nid, "channel": ch}).Decode(&cur); err != nil {
		return nil, false, fmt.Errorf("notifications: read claim of %s on %s: %w", nid, ch, err)
	}
	if cur.Status != Queued || cur.LeaseUntil.After(now) || cur.NotBefore.After(now) {
		return &cur, false, nil
	}
	return s.takeOver(ctx, db, &cur)
}

// takeOver moves a queued delivery whose lease ran out to this caller; false when another caller won.
func (s *Service) takeOver(ctx context.Context, db lungo.IDatabase, cur *Delivery) (*Delivery, bool, error) {
	now := s.deps.Clock.Now()
	owner := id.New()
	filter := bson.M{"_id": cur.ID, "status": Queued, "owner": cur.Owner}
	res, err := db.Collection(deliveriesCollection).UpdateOne(ctx, filter,
		bson.M{"$set": bson.M{"owner": owner, "lease_until": now.Add(s.deps.Lease), "updated_at": now}})
	if err != nil {
		return nil, false, fmt.Errorf("notifications: take over %s: %w", cur.ID, err)
	}
	if res.ModifiedCount == 0 {
		return cur, false, nil
	}
	cur.Owner, cur.LeaseUntil = owner, now.Add(s.deps.Lease)
	return cur, true, nil
}

// settle records the outcome of a send on the delivery this caller holds.
func (s *Service) settle(ctx context.Context, db lungo.IDatabase, d *Delivery, set bson.M, attempts int) error {
	set["updated_at"] = s.deps.Clock.Now()
	set["lease_until"] = time.Time{}
	_, err := db.Collection(deliveriesCollection).UpdateOne(ctx, bson.M{"_id": d.ID, "owner": d.Owner},
		bson.M{"$set": set, "$inc": bson.M{"attempts": attempts}})
	if err != nil {
		return fmt.Errorf("notifications: record delivery %s: %w", d.ID, err)
	}
	return nil
}

// release gives a queued delivery back (a transient failure, quiet hours) so the next caller may take it
// at once, or after not_before.
func (s *Service) release(ctx context.Context, db lungo.IDatabase, d *Delivery, set bson.M, attempts ...int) error {
	n := 0
	for _, a := range attempts {
		n += a
	}
	set["updated_at"] = s.deps.Clock.Now()
	set["lease_until"] = time.Time{}
	_, err := db.Collection(deliveriesCollection).UpdateOne(ctx, bson.M{"_id": d.ID, "owner": d.Owner},
		bson.M{"$set": set, "$inc": bson.M{"attempts": n}})
	if err != nil {
		return fmt.Errorf("notifications: release delivery %s: %w", d.ID, err)
	}
	return nil
}

// callbackProviders are the providers whose status callbacks edugrid reads (webhooks.go); only their
// message ids are recorded.
var callbackProviders = map[string]bool{"twilio": true, "whatsapp": true}

// remember records which institution a provider's message belongs to, for its status callbacks. A
// failure is logged: the delivery is sent either way, only its later status would be missed.
func (s *Service) remember(ctx context.Context, tenantSlug, provider, pid, deliveryID string) {
	if s.deps.Platform == nil || pid == "" || !callbackProviders[provider] {
		return
	}
	_, err := s.deps.Platform.Collection(refsCollection).InsertOne(ctx, bson.M{"_id": provider + ":" + pid, "tenant": tenantSlug,
		"delivery_id": deliveryID, "created_at": s.deps.Clock.Now()})
	if err != nil && !store.IsDuplicateKey(err) {
		s.deps.Logger.Warn("record provider message id", slog.String("tenant", tenantSlug), slog.String("delivery_id", deliveryID), slog.String("error", err.Error()))
	}
}

// SendWaiting sends the deliveries of t whose quiet hours are over (or whose claim was left by a
// crashed caller), at most limit of them; it returns how many it sent. Callers: a periodic job (the local
// stack's loop, the reminders run).
func (s *Service) SendWaiting(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, limit int) (int, error) {
	now := s.deps.Clock.Now()
	cur, err := db.Collection(deliveriesCollection).Find(ctx, bson.M{"status": Queued, "lease_until": bson.M{"$lte": now}, "not_before": bson.M{"$lte": now}},
		options.Find().SetSort(bson.D{{Key: "status", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return 0, fmt.Errorf("notifications: waiting deliveries of %s: %w", t.Slug, err)
	}
	var ds []Delivery
	if err := cur.All(ctx, &ds); err != nil {
		return 0, fmt.Errorf("notifications: waiting deliveries of %s: %w", t.Slug, err)
	}
	sent := 0
	var errs []error
	for i := range ds {
		d := &ds[i]
		if d.NotBefore.After(now) {
			continue
		}
		d, ok, err := s.takeOver(ctx, db, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		// Held now: clear the wait so the quiet-hours check runs afresh, then send on this channel.
		if _, err := db.Collection(deliveriesCollection).UpdateOne(ctx, bson.M{"_id": d.ID, "owner": d.Owner},
			bson.M{"$set": bson.M{"not_before": time.Time{}}}); err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := s.deliver(ctx, db, t, d.NotificationID, d.Kind, d.Recipient, d.Notification, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out == OutcomeSent {
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// Resend sends a failed delivery again on its channel (to the recipient's current contact). Conflict
// unless it failed; NotFound when db has no such delivery. Callers: notifications.write.
func (s *Service) Resend(ctx context.Context, db lungo.IDatabase, t *tenant.Tenant, deliveryID string) (Delivery, error) {
	coll := db.Collection(deliveriesCollection)
	now := s.deps.Clock.Now()
	owner := id.New()
	res, err := coll.UpdateOne(ctx, bson.M{"_id": deliveryID, "status": Failed},
		bson.M{"$set": bson.M{"status": Queued, "owner": owner, "lease_until": now.Add(s.deps.Lease), "updated_at": now, "not_before": time.Time{}}})
	if err != nil {
		return Delivery{}, fmt.Errorf("notifications: resend %s: %w", deliveryID, err)
	}
	if res.ModifiedCount == 0 {
		if _, err := s.DeliveryByID(ctx, db, deliveryID); err != nil {
			return Delivery{}, err
		}
		return Delivery{}, apperr.Errorf(apperr.Conflict, "only a failed delivery can be sent again")
	}
	d, err := s.DeliveryByID(ctx, db, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	if _, err := s.deliver(ctx, db, t, d.NotificationID, d.Kind, d.Recipient, d.Notification, &d); err != nil && !errors.Is(err, ErrRetry) {
		return Delivery{}, err
	}
	return s.DeliveryByID(ctx, db, deliveryID)
}

// DeliveryByID returns one delivery of db; NotFound when there is none (another institution's id reads
// the same). Callers: notifications.read.
func (s *Service) DeliveryByID(ctx context.Context, db lungo.IDatabase, deliveryID string) (Delivery, error) {
	var d Delivery
	err := db.Collection(deliveriesCollection).FindOne(ctx, bson.M{"_id": deliveryID}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return d, apperr.Errorf(apperr.NotFound, "no such delivery")
	}
	if err != nil {
		return d, fmt.Errorf("notifications: delivery %s: %w", deliveryID, err)
	}
	return d, nil
}

// DeliveryFilter narrows the delivery log.
type DeliveryFilter struct {
	Status         Status
	Channel        Channel
	Kind           string
	Recipient      string
	NotificationID string
}

// Deliveries lists db's delivery log newest first, filtered. Invalid for an unknown status or channel.
// Callers: notifications.read.
func (s *Service) Deliveries(ctx context.Context, db lungo.IDatabase, f DeliveryFilter, after string, limit int) ([]Delivery, error) {
	q := bson.M{}
	if f.Status != "" {
		if f.Status != Queued && f.Status != Sent && f.Status != Delivered && f.Status != Failed {
			return nil, apperr.Field("status", apperr.FieldNotAllowed, "must be queued, sent, delivered or failed")
		}
		q["status"] = f.Status
	}
	if f.Channel != "" {
		if !f.Channel.Valid() {
			return nil, apperr.Field("channel", apperr.FieldNotAllowed, "must be email, sms or whatsapp")
		}
		q["channel"] = f.Channel
	}
	for k, v := range map[string]string{"kind": f.Kind, "recipient": f.Recipient, "notification_id": f.NotificationID} {
		if v != "" {
			if len(v) > 200 {
				return nil, apperr.Field(k, apperr.FieldTooLong, "must be at most 200 bytes")
			}
			q[k] = v
		}
	}
	if after != "" {
		q["_id"] = bson.M{"$lt": after}
	}
	cur, err := db.Collection(deliveriesCollection).Find(ctx, q, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("notifications: list deliveries: %w", err)
	}
	out := []Delivery{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("notifications: list deliveries: %w", err)
	}
	return out, nil
}
