package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/internal/loopback"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/clock"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/triggers/delivery"
)

var at = time.Date(2026, 7, 14, 4, 30, 0, 0, time.UTC)

// registry is the tenant registry and databases of the test: two institutions, one suspended.
type registry struct {
	tenants map[string]*tenant.Tenant
	db      lungo.IDatabase
}

func (r *registry) Get(_ context.Context, slug string) (*tenant.Tenant, error) {
	if t, ok := r.tenants[slug]; ok {
		return t, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "no such institution")
}

func (r *registry) List(_ context.Context, after string, _ int) ([]tenant.Tenant, error) {
	var out []tenant.Tenant
	for _, slug := range []string{"closed", "sunrise"} {
		if slug > after {
			out = append(out, *r.tenants[slug])
		}
	}
	return out, nil
}

func (r *registry) Open(context.Context, *tenant.Tenant) (lungo.IDatabase, func(), error) {
	return r.db, func() {}, nil
}

// In production notifications arrive by a Pub/Sub push subscription (infra/delivery.tf) whose endpoint
// ends in projects/<project>/topics/<topic>. This runs the real Functions Framework on loopback, the real
// notifications area over the embedded engine and the loopback SMTP server, and pushes requests shaped as
// Pub/Sub sends them.
func TestPushDeliversOnceAndAnswersWhatPubSubShouldDo(t *testing.T) {
	ctx := context.Background()
	client, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	db := client.Database("edu_sunrise")
	if err := notifications.EnsureIndexes(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection(account.Collection).InsertOne(ctx, bson.M{"_id": "g1", "name": "Asha", "email": "asha@example.com", "role": "guardian"}); err != nil {
		t.Fatal(err)
	}
	srv, err := loopback.Start(loopback.DefaultCredentials, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	mail, err := notifications.NewSMTP(notifications.SMTPConfig{Addr: srv.SMTPAddr, Username: srv.Creds.SMTPUser, Password: srv.Creds.SMTPPassword,
		From: "edugrid <no-reply@edugrid.example>", TLS: srv.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	reg := &registry{db: db, tenants: map[string]*tenant.Tenant{
		"sunrise": {Slug: "sunrise", Name: "Sunrise", Status: tenant.Active, Settings: tenant.Settings{Timezone: "Asia/Kolkata"}},
		"closed":  {Slug: "closed", Name: "Closed", Status: tenant.Suspended},
	}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := notifications.New(notifications.Deps{Clock: clock.NewManual(at), Logger: quiet, Senders: map[notifications.Channel]notifications.Sender{notifications.Email: mail},
		Retry: notifications.Retry{Attempts: 2, Base: time.Millisecond}})
	h := delivery.New(delivery.Deps{Notifications: svc, Tenants: reg, Databases: reg, Logger: quiet})

	if err := funcframework.RegisterCloudEventFunctionContext(ctx, "/edugrid-delivery/", h.Event); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	go func() { _ = funcframework.StartHostPort("127.0.0.1", port) }()
	url := "http://127.0.0.1:" + port + "/edugrid-delivery/projects/edugrid-prod/topics/edugrid-notifications"
	push := func(data []byte, attrs map[string]string) int {
		t.Helper()
		body, _ := json.Marshal(map[string]any{
			"message":      map[string]any{"data": data, "attributes": attrs, "messageId": "m1", "publishTime": "2026-07-14T04:30:00.000Z"},
			"subscription": "projects/edugrid-prod/subscriptions/edugrid-notifications-delivery",
		})
		var resp *http.Response
		for range 100 {
			if resp, err = http.Post(url, "application/json", bytes.NewReader(body)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	note := func(id, slug string) []byte {
		b, _ := json.Marshal(notify.Notification{ID: id, Tenant: slug, Kind: "attendance.absence", Recipient: "g1", Subject: "s", Body: "b",
			CreatedAt: at, Data: map[string]string{"student_name": "Rohan", "date": "2026-07-14"}})
		return b
	}
	ok := func(code int) bool { return code >= 200 && code < 300 }

	if code := push(note("n1", "sunrise"), nil); !ok(code) {
		t.Fatalf("a notification answered %d", code)
	}
	if code := push(note("n1", "sunrise"), nil); !ok(code) {
		t.Fatalf("its redelivery answered %d", code)
	}
	if n := srv.Outbox.Len(); n != 1 {
		t.Fatalf("%d emails for one notification pushed twice", n)
	}
	for name, data := range map[string][]byte{"not JSON": []byte("{"), "not a notification": []byte(`{"hello":1}`), "unknown institution": note("n2", "nowhere")} {
		if code := push(data, nil); !ok(code) {
			t.Errorf("%s answered %d; it can never succeed, so it must be acknowledged", name, code)
		}
	}
	if code := push(note("n3", "closed"), nil); ok(code) {
		t.Errorf("a suspended institution's notification was acknowledged (%d); it must wait", code)
	}
	srv.FailNext("smtp", 2, 451)
	if code := push(note("n4", "sunrise"), nil); ok(code) {
		t.Errorf("a notification the mail server deferred was acknowledged (%d); Pub/Sub must redeliver it", code)
	}
	if n := srv.Outbox.Len(); n != 1 {
		t.Fatalf("%d emails after a deferral, want 1", n)
	}
	// The sweep (a message Cloud Scheduler publishes) picks up what is waiting.
	if code := push([]byte("{}"), map[string]string{notify.AttrKind: delivery.SweepKind}); !ok(code) {
		t.Fatalf("the sweep answered %d", code)
	}
	if n := srv.Outbox.Len(); n != 2 {
		t.Fatalf("%d emails after the sweep, want 2", n)
	}
}
