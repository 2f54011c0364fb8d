package notifications_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/tenant"
)

// BenchmarkDeliver measures deliveries per second of one instance against the loopback stand-ins: each
// operation is one notification delivered end to end (recipient, preferences and template read, rendered,
// claimed, sent over the wire, logged), 32 at a time as concurrent Pub/Sub pushes would be, spread over 20
// institutions (each its own database) as a reminder run's notifications are.
func BenchmarkDeliver(b *testing.B) {
	const institutions = 20
	for _, tc := range []struct {
		name, sms string
		channel   notifications.Channel
		email     string
	}{
		{"email", "", notifications.Email, "asha@example.com"},
		{"sms-twilio", "twilio", notifications.SMS, ""},
		{"sms-msg91", "msg91", notifications.SMS, ""},
		{"whatsapp", "", notifications.WhatsApp, ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			e := newEnvTB(b, tc.sms, tc.channel)
			type inst struct {
				t  *tenant.Tenant
				db lungo.IDatabase
			}
			var insts []inst
			for i := range institutions {
				t := *e.tenant
				t.Slug = "inst" + strconv.Itoa(i)
				db := e.client.Database("edu_" + t.Slug)
				if err := notifications.EnsureIndexes(ctx, db); err != nil {
					b.Fatal(err)
				}
				doc := bson.M{"_id": "g1", "name": "Asha", "role": "guardian", "phone": "+919812345678"}
				if tc.email != "" {
					doc["email"] = tc.email
				}
				if _, err := db.Collection(account.Collection).InsertOne(ctx, doc); err != nil {
					b.Fatal(err)
				}
				if tc.sms == "msg91" {
					in := notifications.TemplateInput{EmailSubject: "x", EmailHTML: "<p>x</p>", SMSText: "{{.student_name}} absent {{.date}}",
						SMSTemplateID: "6571a2b3c4d5e6f7a8b9c0d1", WhatsAppText: "x"}
					if _, err := e.svc.SaveTemplate(ctx, db, notifications.KindAbsence, "en", in); err != nil {
						b.Fatal(err)
					}
				}
				insts = append(insts, inst{&t, db})
			}
			var seq atomic.Int64
			b.SetParallelism(16) // 32 goroutines on 2 cores
			b.ResetTimer()
			cpu0 := cpuTime(b)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					in := insts[i%institutions]
					out, err := e.svc.Deliver(ctx, in.db, in.t, absence("absence:"+strconv.FormatInt(i, 10), "g1"))
					if err != nil || out != notifications.OutcomeSent {
						b.Errorf("Deliver = %s, %v", out, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
			// On a shared machine the wall-clock rate depends on the neighbours; the process's CPU time per
			// delivery (stand-ins included, so an upper bound) does not.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/delivery")
			if got := e.srv.Outbox.Len(); got != b.N {
				b.Fatalf("%d messages reached the stand-ins for %d deliveries", got, b.N)
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
