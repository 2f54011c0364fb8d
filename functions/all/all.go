// Package all is the wiring of edugrid's HTTP functions. It builds each area's service from the shared
// infrastructure of a warm instance (shared/app) and the other areas' services, handing each exactly
// what its Deps ask for, and it registers every HTTP entry point (register.go). Nothing else in the
// module builds an area: the local stack, the seed, the load script and the tests take their services
// from Build.
//
// An entry point builds only the areas it serves and the ones they read, so a function's cold start
// does no more than its own area needs; only the analytics function opens the warehouse.
//
// A new area: its package with New(Deps); a constructor below; a field of Services; a line in Build,
// in Areas and in EntryPoints; its EnsureIndexes in a migration of Schema when it keeps collections.
package all

import (
	"context"

	"github.com/256dpi/lungo"

	"github.com/edugrid/edugrid/functions/academic"
	"github.com/edugrid/edugrid/functions/analytics"
	"github.com/edugrid/edugrid/functions/attendance"
	"github.com/edugrid/edugrid/functions/auth"
	"github.com/edugrid/edugrid/functions/exams"
	"github.com/edugrid/edugrid/functions/fees"
	"github.com/edugrid/edugrid/functions/leads"
	"github.com/edugrid/edugrid/functions/learning"
	"github.com/edugrid/edugrid/functions/notifications"
	"github.com/edugrid/edugrid/functions/payments"
	"github.com/edugrid/edugrid/functions/platform"
	"github.com/edugrid/edugrid/functions/students"
	"github.com/edugrid/edugrid/functions/users"
	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/app"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/authn"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/notify"
	"github.com/edugrid/edugrid/shared/schema"
	"github.com/edugrid/edugrid/shared/warehouse"
)

// Services is every area's service of one instance, each built once.
type Services struct {
	Auth       *auth.Service
	Platform   *platform.Service
	Users      *users.Service
	Analytics  *analytics.Service
	Academic   *academic.Service
	Students   *students.Service
	Attendance *attendance.Service
	Fees       *fees.Service
	Learning   *learning.Service
	Leads      *leads.Service
	Exams      *exams.Service
	// Notifications delivers what the outbox publishes and serves the delivery log, templates and
	// preferences.
	Notifications *notifications.Service
	// Payments takes fees online through each institution's gateway accounts.
	Payments *payments.Service
}

// Options are what the wiring cannot take from the App.
type Options struct {
	// Warehouse returns the analytics warehouse, or nil while there is none (analytics answers 503). The
	// local stack and the tests attach DuckDB through a warehouse.Slot; the analytics function opens
	// BigQuery once per instance.
	Warehouse func() warehouse.Warehouse
	// Senders replaces the notification providers the configuration names (the local stack and the tests
	// send to loopback stand-ins); nil uses the configuration.
	Senders map[notifications.Channel]notifications.Sender
	// Gateways replaces the payment gateways the configuration names (the local stack and the tests call
	// loopback stand-ins); nil uses the configuration.
	Gateways map[payments.Provider]payments.Gateway
}

// Build builds every area's service over a.
func Build(a *app.App, o Options) *Services {
	s := &Services{Users: newUsers(a)}
	s.Academic = newAcademic(a, s.Users)
	s.Students = newStudents(a, s.Users)
	s.Fees, s.Payments = newFeesAndPayments(a, o.Gateways)
	s.Auth = newAuth(a)
	s.Platform = newPlatform(a)
	s.Analytics = newAnalytics(a, o.Warehouse)
	s.Attendance = newAttendance(a)
	s.Learning = newLearning(a, s.Academic)
	s.Leads = newLeads(a, s.Users, s.Academic, s.Students, s.Fees)
	s.Exams = newExams(a)
	s.Notifications = newNotifications(a, o.Senders)
	return s
}

// Areas returns every HTTP area of s, each served with a's middleware options.
func (s *Services) Areas(a *app.App) []*httpapi.Area {
	opts := a.AreaOptions()
	return []*httpapi.Area{
		s.Auth.Area(opts),
		s.Platform.Area(opts),
		s.Users.Area(opts),
		s.Analytics.Area(opts),
		s.Academic.Area(opts),
		s.Students.Area(opts),
		s.Attendance.Area(opts),
		s.Fees.Area(opts),
		s.Learning.Area(opts),
		s.Leads.Area(opts),
		s.Exams.Area(opts),
		s.Notifications.Area(opts),
		s.Payments.Area(opts),
		s.Payments.RazorpayWebhooks(opts),
		s.Payments.StripeWebhooks(opts),
	}
}

// Schema is the plan every tenant database follows (shared/schema): provisioning applies all of it, the
// guard applies what an institution lacks before serving it, and scripts/migrate applies it to every
// institution. A release that needs a new index, collection option or field backfill appends a migration
// here (never edits or reorders one that has shipped); an index added to an area's EnsureIndexes needs
// one too, or existing institutions never get it.
var Schema = schema.NewPlan(
	schema.Migration{Version: 1, Name: "every area's indexes", Apply: ensureAll(tenantIndexes)},
	schema.Migration{Version: 2, Name: "notification deliveries and templates", Apply: notifications.EnsureIndexes},
	schema.Migration{Version: 3, Name: "change-stream post-images on the analysed collections", Apply: enablePostImages},
	schema.Migration{Version: 4, Name: "online payments: requests, reviews, gateway events and refunds", Apply: payments.EnsureIndexes},
)

func ensureAll(fs []func(context.Context, lungo.IDatabase) error) func(context.Context, lungo.IDatabase) error {
	return func(ctx context.Context, db lungo.IDatabase) error {
		for _, ensure := range fs {
			if err := ensure(ctx, db); err != nil {
				return err
			}
		}
		return nil
	}
}

// tenantIndexes creates the indexes of a tenant database as of schema version 1: every package that keeps
// collections in one has its EnsureIndexes here. Each is idempotent.
var tenantIndexes = []func(context.Context, lungo.IDatabase) error{
	account.EnsureIndexes,
	authn.EnsureRefreshIndexes,
	audit.EnsureIndexes,
	notify.EnsureIndexes,
	users.EnsureIndexes,
	academic.EnsureIndexes,
	students.EnsureIndexes,
	attendance.EnsureIndexes,
	fees.EnsureIndexes,
	learning.EnsureIndexes,
	leads.EnsureIndexes,
	exams.EnsureIndexes,
}

func newUsers(a *app.App) *users.Service {
	return users.New(users.Deps{Clock: a.Clock, Audit: a.Audit, Passwords: a.Passwords, Accounts: a.Guard, Refresh: a.Refresh})
}

func newAcademic(a *app.App, u *users.Service) *academic.Service {
	return academic.New(academic.Deps{Clock: a.Clock, Audit: a.Audit, Branches: u})
}

func newStudents(a *app.App, u *users.Service) *students.Service {
	return students.New(students.Deps{Clock: a.Clock, Audit: a.Audit, Passwords: a.Passwords, Branches: u})
}

// newFees builds the fees area; its online refunds go through the payments area it is built with.
func newFees(a *app.App) *fees.Service {
	f, _ := newFeesAndPayments(a, nil)
	return f
}

func newAuth(a *app.App) *auth.Service {
	return auth.New(auth.Deps{Clock: a.Clock, Passwords: a.Passwords, Registry: a.Registry, Databases: a.Databases,
		Platform: a.Platform, Tokens: a.Tokens, Refresh: a.Refresh, Accounts: a.Guard, ClientIPHops: a.Config.ClientIPHops})
}

func newPlatform(a *app.App) *platform.Service {
	return platform.New(platform.Deps{Clock: a.Clock, Audit: a.Audit, Passwords: a.Passwords, Registry: a.Registry,
		Databases: a.Databases, Refresh: a.Refresh, DefaultCluster: a.Config.DefaultCluster,
		NamespaceBudget: a.Config.NamespaceBudget, Schema: Schema})
}

func newAnalytics(a *app.App, wh func() warehouse.Warehouse) *analytics.Service {
	return analytics.New(analytics.Deps{Clock: a.Clock, Warehouse: wh})
}

func newAttendance(a *app.App) *attendance.Service {
	return attendance.New(attendance.Deps{Clock: a.Clock, Audit: a.Audit, Notifier: a.Notifier, Logger: a.Logger})
}

func newLearning(a *app.App, c *academic.Service) *learning.Service {
	return learning.New(learning.Deps{Clock: a.Clock, Audit: a.Audit, Courses: c})
}

func newLeads(a *app.App, u *users.Service, c *academic.Service, st *students.Service, f *fees.Service) *leads.Service {
	return leads.New(leads.Deps{Clock: a.Clock, Audit: a.Audit, Branches: u, Courses: c, Students: st, Fees: f})
}

func newExams(a *app.App) *exams.Service {
	return exams.New(exams.Deps{Clock: a.Clock, Audit: a.Audit})
}

// APIVersion is the version of the API document.
const APIVersion = "0.1.0"

// Document returns the OpenAPI 3.1 document of every area.
func Document(areas []*httpapi.Area) map[string]any {
	return httpapi.Document("edugrid API", APIVersion, areas...)
}
