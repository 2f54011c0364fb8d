// Package tenant is the registry of institutions (tenants) and the middleware that binds every request to
// exactly one of them.
//
// The registry lives in the platform database. Each tenant's records live in a database of its own, named
// from its slug, on the cluster the registry names. The Guard verifies a request's access token, loads the
// tenant from a warm-instance cache, refuses suspended tenants and revoked tokens, and puts the tenant's
// database handle into the request context. It is the only way a handler reaches tenant data: no tenant
// id in a path, query, body or header ever chooses a database.
package tenant

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"
	_ "time/tzdata" // tenants name IANA time zones; a function's base image may have no zoneinfo

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/text"
)

// Status is a tenant's lifecycle state.
type Status string

// The states. Only Active tenants are served.
const (
	Provisioning Status = "provisioning"
	Active       Status = "active"
	Suspended    Status = "suspended"
)

// Values implements httpapi.Enum.
func (Status) Values() []string {
	return httpapi.EnumValues([]Status{Active, Suspended, Provisioning})
}

// Tenant is one institution's registry record.
type Tenant struct {
	Slug   string `bson:"_id" json:"slug"`
	Number int    `bson:"number" json:"number"`
	Name   string `bson:"name" json:"name"`
	Status Status `bson:"status" json:"status"`
	// Cluster names the MongoDB cluster (a key of the configured cluster map), never its URI.
	Cluster string `bson:"cluster" json:"cluster"`
	DB      string `bson:"db" json:"db"`
	// TokenVersion is carried in every access token; bumping it logs out the whole tenant.
	TokenVersion int64 `bson:"token_version" json:"token_version"`
	// SchemaVersion is the schema version of the tenant's database (shared/schema) as last recorded here;
	// the guard brings a tenant behind the code's version up to date before serving it.
	SchemaVersion int       `bson:"schema_version" json:"schema_version"`
	Branding      Branding  `bson:"branding" json:"branding"`
	Settings      Settings  `bson:"settings" json:"settings"`
	CreatedAt     time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt     time.Time `bson:"updated_at" json:"updated_at"`
}

// Branding is what a white-labelled login page shows. It is public.
type Branding struct {
	DisplayName  string `bson:"display_name" json:"display_name"`
	LogoURL      string `bson:"logo_url" json:"logo_url,omitempty"`
	PrimaryColor string `bson:"primary_color" json:"primary_color,omitempty" example:"#1a73e8"`
	SupportEmail string `bson:"support_email" json:"support_email,omitempty"`
}

// Settings are a tenant's operating rules.
type Settings struct {
	// Currency is the ISO 4217 code every amount of the tenant is in.
	Currency string `bson:"currency" json:"currency"`
	// Timezone is an IANA zone; dates such as due dates and attendance days are in it.
	Timezone  string         `bson:"timezone" json:"timezone"`
	Reminders ReminderPolicy `bson:"reminders" json:"reminders"`
	LateFee   LateFeeRule    `bson:"late_fee" json:"late_fee"`
	// Origins are the web origins of the institution's own frontends (https://app.sunrise.example.edu):
	// browsers on them may call the API (CORS). A preflight carries no token, so an origin listed by one
	// active institution is allowed for every caller; the token still decides what a caller may do.
	Origins []string `bson:"origins,omitempty" json:"origins,omitempty"`
}

// ReminderPolicy says when fee reminders go out.
type ReminderPolicy struct {
	DaysBefore  []int `bson:"days_before" json:"days_before"`
	OnDueDate   bool  `bson:"on_due_date" json:"on_due_date"`
	DaysOverdue []int `bson:"days_overdue" json:"days_overdue"`
	// EscalateAfterDays, when set, tells the institution's accountants (its owners when it has none) about
	// an instalment still unpaid this many days after its due date, once: the escalation after the last
	// reminder stage. 0 turns it off.
	EscalateAfterDays int `bson:"escalate_after_days" json:"escalate_after_days,omitempty" example:"15"`
}

// LateFeeKind is how a late fee is charged.
type LateFeeKind string

// The late-fee kinds: none, a flat fee once per instalment, or a fee per day overdue up to the cap.
const (
	LateFeeNone   LateFeeKind = "none"
	LateFeeFlat   LateFeeKind = "flat"
	LateFeePerDay LateFeeKind = "per_day"
)

// lateFeeKinds lists every late-fee kind; Valid accepts exactly these.
var lateFeeKinds = []LateFeeKind{LateFeeNone, LateFeeFlat, LateFeePerDay}

// Values implements httpapi.Enum.
func (LateFeeKind) Values() []string { return httpapi.EnumValues(lateFeeKinds) }

// Valid reports whether k is one of Values.
func (k LateFeeKind) Valid() bool { return slices.Contains(lateFeeKinds, k) }

// LateFeeRule is the tenant's default late fee; fee plans may override it.
type LateFeeRule struct {
	Kind LateFeeKind `bson:"kind" json:"kind"`
	// Amount is in minor units of the tenant's currency: the flat fee, or the fee per day.
	Amount    int64 `bson:"amount" json:"amount"`
	GraceDays int   `bson:"grace_days" json:"grace_days"`
	// Cap bounds a per-day fee, in minor units; 0 means no cap.
	Cap int64 `bson:"cap" json:"cap"`
}

// Example implements httpapi.Exampler: 50.00 a day after five days' grace, at most 1,000.00.
func (LateFeeRule) Example() any {
	return LateFeeRule{Kind: LateFeePerDay, Amount: 5000, GraceDays: 5, Cap: 100000}
}

// DefaultSettings are a new tenant's settings unless the provisioner says otherwise.
func DefaultSettings() Settings {
	return Settings{
		Currency:  "INR",
		Timezone:  "Asia/Kolkata",
		Reminders: ReminderPolicy{DaysBefore: []int{3}, OnDueDate: true, DaysOverdue: []int{1, 7}},
		LateFee:   LateFeeRule{Kind: "none"},
	}
}

var (
	slugPattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	colorPattern    = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// reserved slugs would collide with platform names or confuse people.
var reserved = map[string]bool{"platform": true, "admin": true, "api": true, "www": true, "edugrid": true, "system": true}

// ValidateSlug returns an Invalid error unless s is a usable tenant slug: 3 to 40 characters, lowercase
// letters, digits and hyphens, starting with a letter, not ending with a hyphen, not reserved.
func ValidateSlug(s string) error {
	if !slugPattern.MatchString(s) || s[len(s)-1] == '-' {
		code := apperr.FieldFormat
		if s == "" {
			code = apperr.FieldRequired
		}
		return apperr.Field("slug", code, "must be 3-40 characters of a-z, 0-9 and '-', starting with a letter and not ending with '-'")
	}
	if reserved[s] {
		return apperr.Field("slug", apperr.FieldNotAllowed, "is reserved")
	}
	return nil
}

// DatabaseName returns the database of the tenant with slug s. It is derived from the slug, so it is
// readable in operations tools and never guessable from a number.
func DatabaseName(slug string) string {
	// MongoDB database names may not hold '-' comfortably in every tool; '_' is safe everywhere.
	b := []byte("edu_" + slug)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

// Validate checks settings; errors are Invalid and name every bad field.
func (s Settings) Validate() error {
	var bad apperr.Problems
	if !currencyPattern.MatchString(s.Currency) {
		bad.Add("settings.currency", apperr.FieldFormat, "must be an ISO 4217 code such as INR")
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" || s.Timezone == "Local" {
		bad.Add("settings.timezone", apperr.FieldNotAllowed, "must be an IANA time zone such as Asia/Kolkata")
	}
	for _, d := range append(append([]int{}, s.Reminders.DaysBefore...), s.Reminders.DaysOverdue...) {
		if d < 1 || d > 365 {
			bad.Add("settings.reminders", apperr.FieldOutOfRange, "days must be 1 to 365")
		}
	}
	if e := s.Reminders.EscalateAfterDays; e != 0 {
		last := 0
		for _, d := range s.Reminders.DaysOverdue {
			last = max(last, d)
		}
		if e <= last || e > 365 {
			bad.Add("settings.reminders.escalate_after_days", apperr.FieldOutOfRange, "must be after the last overdue reminder and at most 365 (0 turns it off)")
		}
	}
	lf := s.LateFee
	if !lf.Kind.Valid() {
		bad.Add("settings.late_fee.kind", apperr.FieldNotAllowed, `must be "none", "flat" or "per_day"`)
	} else if lf.Kind != LateFeeNone && lf.Amount <= 0 {
		bad.Add("settings.late_fee.amount", apperr.FieldOutOfRange, "must be positive")
	}
	if lf.GraceDays < 0 || lf.GraceDays > 365 || lf.Cap < 0 {
		bad.Add("settings.late_fee", apperr.FieldOutOfRange, "grace days must be 0 to 365 and the cap not negative")
	}
	if len(s.Origins) > httpapi.MaxOrigins {
		bad.Add("settings.origins", apperr.FieldTooLong, fmt.Sprintf("may list at most %d origins", httpapi.MaxOrigins))
		return bad.Err()
	}
	for i, o := range s.Origins {
		if _, err := httpapi.ParseOrigin("settings.origins", o); !bad.Check(err) {
			continue
		}
		if slices.Contains(s.Origins[:i], o) {
			bad.Add("settings.origins", apperr.FieldDuplicate, "lists "+o+" twice")
		}
	}
	return bad.Err()
}

// Validate checks branding; errors are Invalid and name every bad field.
func (b Branding) Validate() error {
	var bad apperr.Problems
	if _, err := text.Field("branding.display_name", b.DisplayName, 120); err != nil {
		code := apperr.FieldInvalid
		if e := apperr.As(err); e != nil && len(e.Errors) == 1 {
			code = e.Errors[0].Code
		}
		bad.Add("branding.display_name", code, "must be 1 to 120 characters, without control or bidi override characters")
	}
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(b.LogoURL) > 500 {
			bad.Add("branding.logo_url", apperr.FieldFormat, "must be an https URL")
		}
	}
	if b.PrimaryColor != "" && !colorPattern.MatchString(b.PrimaryColor) {
		bad.Add("branding.primary_color", apperr.FieldFormat, "must be a colour like #1a73e8")
	}
	if len(b.SupportEmail) > 200 {
		bad.Add("branding.support_email", apperr.FieldTooLong, "must be at most 200 bytes")
	}
	return bad.Err()
}

type tenantKey struct{}

// WithTenant returns ctx carrying t. Only the Guard calls it (and tests standing in for it).
func WithTenant(ctx context.Context, t *Tenant) context.Context {
	return context.WithValue(ctx, tenantKey{}, t)
}

// FromContext returns the request's tenant. It panics on a route that is not tenant-scoped, a programming
// error recovered into a 500.
func FromContext(ctx context.Context) *Tenant {
	t, ok := ctx.Value(tenantKey{}).(*Tenant)
	if !ok {
		panic("tenant.FromContext: no tenant in context (route is not tenant-scoped)")
	}
	return t
}

// Location returns the tenant's time zone (UTC if the stored one is unusable).
func (t *Tenant) Location() *time.Location {
	if loc, ok := locations.Load(t.Settings.Timezone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(t.Settings.Timezone)
	if err != nil {
		loc = time.UTC
	}
	locations.Store(t.Settings.Timezone, loc)
	return loc
}

// locations caches loaded time zones by name: time.LoadLocation reads and parses the zone's data on every
// call (about 1 % of the CPU under the mixed load in BENCHMARKS.md), and a *time.Location is immutable,
// so one per name serves every request. Names come from validated settings, so the cache stays small.
var locations sync.Map

func (t *Tenant) String() string { return fmt.Sprintf("tenant %s (#%d)", t.Slug, t.Number) }

// Today returns the tenant-local calendar date at now, as YYYY-MM-DD: due dates, attendance days and
// enrolment dates are all days in the institution's own time zone.
func (t *Tenant) Today(now time.Time) string {
	return now.In(t.Location()).Format(time.DateOnly)
}
