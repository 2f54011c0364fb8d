package all

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/warehouse"
	"github.com/edugrid/edugrid/shared/warehouse/bigquery"
	"github.com/edugrid/edugrid/triggers/delivery"
	"github.com/edugrid/edugrid/triggers/reminders"
)

// init registers every HTTP entry point and does nothing else: each builds its handler lazily, on its
// first request, over the instance's App.
func init() {
	for _, ep := range EntryPoints(openBigQuery) {
		functions.HTTP(ep.Name, app.Lazy(app.Options{Schema: &Schema}, ep.Build))
	}
	// The delivery function: Pub/Sub pushes each notification of the notifications topic to it.
	functions.CloudEvent("delivery", delivery.Lazy(func(ctx context.Context) (*delivery.Handler, error) {
		a, err := app.Instance(ctx, app.Options{Schema: &Schema})
		if err != nil {
			return nil, err
		}
		return newDelivery(a, newNotifications(a, nil)), nil
	}))
}

// EntryPoint is one HTTP function of the deployment: its Cloud Functions entry point name and how a warm
// instance builds its handler.
type EntryPoint struct {
	Name  string
	Build func(a *app.App) http.Handler
}

// OpenWarehouse opens the analytics warehouse of an instance.
type OpenWarehouse func(ctx context.Context, a *app.App) (warehouse.Warehouse, error)

// EntryPoints lists every HTTP entry point. Each builds only its own area and the areas it reads; open is
// called by the analytics function's Build alone, once per instance.
func EntryPoints(open OpenWarehouse) []EntryPoint {
	return []EntryPoint{
		{"auth", func(a *app.App) http.Handler { return newAuth(a).Area(a.AreaOptions()) }},
		{"platform", func(a *app.App) http.Handler { return newPlatform(a).Area(a.AreaOptions()) }},
		{"users", func(a *app.App) http.Handler { return newUsers(a).Area(a.AreaOptions()) }},
		{"analytics", func(a *app.App) http.Handler {
			wh, err := open(context.Background(), a)
			if err != nil {
				// The area still serves; every report answers 503 until an instance starts with a warehouse.
				a.Logger.Error("analytics warehouse unavailable", slog.String("error", err.Error()))
				wh = nil
			}
			return newAnalytics(a, func() warehouse.Warehouse { return wh }).Area(a.AreaOptions())
		}},
		{"academic", func(a *app.App) http.Handler { return newAcademic(a, newUsers(a)).Area(a.AreaOptions()) }},
		{"students", func(a *app.App) http.Handler { return newStudents(a, newUsers(a)).Area(a.AreaOptions()) }},
		{"attendance", func(a *app.App) http.Handler { return newAttendance(a).Area(a.AreaOptions()) }},
		{"fees", func(a *app.App) http.Handler { return newFees(a).Area(a.AreaOptions()) }},
		{"learning", func(a *app.App) http.Handler {
			return newLearning(a, newAcademic(a, newUsers(a))).Area(a.AreaOptions())
		}},
		{"leads", func(a *app.App) http.Handler {
			u := newUsers(a)
			return newLeads(a, u, newAcademic(a, u), newStudents(a, u), newFees(a)).Area(a.AreaOptions())
		}},
		{"exams", func(a *app.App) http.Handler { return newExams(a).Area(a.AreaOptions()) }},
		{"reminders", func(a *app.App) http.Handler { return reminders.FromApp(a, newFees(a)) }},
		{"notifications", func(a *app.App) http.Handler { return newNotifications(a, nil).Area(a.AreaOptions()) }},
		{"payments", func(a *app.App) http.Handler { _, p := newFeesAndPayments(a, nil); return p.Area(a.AreaOptions()) }},
		{"razorpay", func(a *app.App) http.Handler {
			_, p := newFeesAndPayments(a, nil)
			return p.RazorpayWebhooks(a.AreaOptions())
		}},
		{"stripe", func(a *app.App) http.Handler {
			_, p := newFeesAndPayments(a, nil)
			return p.StripeWebhooks(a.AreaOptions())
		}},
		{"reconcile", func(a *app.App) http.Handler { _, p := newFeesAndPayments(a, nil); return reconcileHandler(a, p) }},
	}
}

// openBigQuery opens the BigQuery dataset the analytics function is configured with (EDUGRID_BQ_*).
func openBigQuery(ctx context.Context, a *app.App) (warehouse.Warehouse, error) {
	c := a.Config
	return bigquery.OpenWarehouse(ctx, bigquery.Config{Project: c.WarehouseProject, Dataset: c.WarehouseDataset, Location: c.WarehouseLocation})
}
