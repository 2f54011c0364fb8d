package tenant_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/tenant"
)

// wantInvalidField fails unless err is an Invalid error naming field (field "" accepts any).
func wantInvalidField(t *testing.T, err error, field string) {
	t.Helper()
	e := apperr.As(err)
	if e == nil || e.Code != apperr.Invalid {
		t.Fatalf("got %v, want Invalid", err)
	}
	if _, ok := e.Fields[field]; field != "" && !ok {
		t.Fatalf("fields %v, want %q named", e.Fields, field)
	}
}

func TestValidateSlug(t *testing.T) {
	tests := []struct {
		slug string
		ok   bool
	}{
		{"acme", true},
		{"abc", true},
		{"st-marys-school", true},
		{"school42", true},
		{"a" + strings.Repeat("b", 39), true}, // 40
		{"", false},
		{"ab", false},
		{"a" + strings.Repeat("b", 40), false}, // 41
		{"Acme", false},
		{"ACME", false},
		{"1acme", false},
		{"-acme", false},
		{"acme-", false},
		{"ac_me", false},
		{"ac.me", false},
		{"ac me", false},
		{"acmé", false},
		{"platform", false},
		{"admin", false},
		{"edugrid", false},
	}
	for _, tc := range tests {
		err := tenant.ValidateSlug(tc.slug)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidateSlug(%q): %v", tc.slug, err)
			}
			continue
		}
		if e := apperr.As(err); e == nil || e.Code != apperr.Invalid || e.Fields["slug"] == "" {
			t.Errorf("ValidateSlug(%q) = %v, want Invalid naming slug", tc.slug, err)
		}
	}
}

func TestDatabaseName(t *testing.T) {
	for slug, want := range map[string]string{
		"acme":            "edu_acme",
		"st-marys-school": "edu_st_marys_school",
		"school42":        "edu_school42",
	} {
		if got := tenant.DatabaseName(slug); got != want {
			t.Errorf("DatabaseName(%q) = %q, want %q", slug, got, want)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	type change func(*tenant.Settings)
	tests := []struct {
		name  string
		edit  change
		field string // "" means valid
	}{
		{"defaults", func(*tenant.Settings) {}, ""},
		{"other zone and currency", func(s *tenant.Settings) { s.Timezone, s.Currency = "America/New_York", "USD" }, ""},
		{"UTC", func(s *tenant.Settings) { s.Timezone = "UTC" }, ""},
		{"flat fee", func(s *tenant.Settings) { s.LateFee = tenant.LateFeeRule{Kind: "flat", Amount: 5000, GraceDays: 3} }, ""},
		{"per-day fee with cap", func(s *tenant.Settings) { s.LateFee = tenant.LateFeeRule{Kind: "per_day", Amount: 100, Cap: 3000} }, ""},
		{"no reminders", func(s *tenant.Settings) { s.Reminders = tenant.ReminderPolicy{} }, ""},
		{"reminder bounds", func(s *tenant.Settings) { s.Reminders.DaysBefore, s.Reminders.DaysOverdue = []int{1}, []int{365} }, ""},
		{"lower-case currency", func(s *tenant.Settings) { s.Currency = "inr" }, "settings.currency"},
		{"empty currency", func(s *tenant.Settings) { s.Currency = "" }, "settings.currency"},
		{"long currency", func(s *tenant.Settings) { s.Currency = "RUPEE" }, "settings.currency"},
		{"empty zone", func(s *tenant.Settings) { s.Timezone = "" }, "settings.timezone"},
		{"Local zone", func(s *tenant.Settings) { s.Timezone = "Local" }, "settings.timezone"},
		{"unknown zone", func(s *tenant.Settings) { s.Timezone = "Mars/Olympus_Mons" }, "settings.timezone"},
		{"path as zone", func(s *tenant.Settings) { s.Timezone = "../../etc/passwd" }, "settings.timezone"},
		{"zero days before", func(s *tenant.Settings) { s.Reminders.DaysBefore = []int{0} }, "settings.reminders"},
		{"366 days overdue", func(s *tenant.Settings) { s.Reminders.DaysOverdue = []int{7, 366} }, "settings.reminders"},
		{"negative days overdue", func(s *tenant.Settings) { s.Reminders.DaysOverdue = []int{-1} }, "settings.reminders"},
		{"empty fee kind", func(s *tenant.Settings) { s.LateFee.Kind = "" }, "settings.late_fee.kind"},
		{"unknown fee kind", func(s *tenant.Settings) { s.LateFee.Kind = "weekly" }, "settings.late_fee.kind"},
		{"flat fee without amount", func(s *tenant.Settings) { s.LateFee = tenant.LateFeeRule{Kind: "flat"} }, "settings.late_fee.amount"},
		{"negative per-day amount", func(s *tenant.Settings) { s.LateFee = tenant.LateFeeRule{Kind: "per_day", Amount: -1} }, "settings.late_fee.amount"},
		{"negative grace", func(s *tenant.Settings) { s.LateFee.GraceDays = -1 }, "settings.late_fee"},
		{"grace over a year", func(s *tenant.Settings) { s.LateFee.GraceDays = 366 }, "settings.late_fee"},
		{"negative cap", func(s *tenant.Settings) { s.LateFee = tenant.LateFeeRule{Kind: "per_day", Amount: 100, Cap: -1} }, "settings.late_fee"},
		{"origins", func(s *tenant.Settings) {
			s.Origins = []string{"https://app.sunrise.example.edu", "https://sunrise.example.edu:8443", "http://localhost:5173", "http://127.0.0.1"}
		}, ""},
		{"ten origins", func(s *tenant.Settings) { s.Origins = origins(10) }, ""},
		{"eleven origins", func(s *tenant.Settings) { s.Origins = origins(11) }, "settings.origins"},
		{"origin twice", func(s *tenant.Settings) { s.Origins = []string{"https://a.example.edu", "https://a.example.edu"} }, "settings.origins"},
		{"http origin", func(s *tenant.Settings) { s.Origins = []string{"http://app.example.edu"} }, "settings.origins"},
		{"origin with a path", func(s *tenant.Settings) { s.Origins = []string{"https://app.example.edu/login"} }, "settings.origins"},
		{"origin with a slash", func(s *tenant.Settings) { s.Origins = []string{"https://app.example.edu/"} }, "settings.origins"},
		{"wildcard origin", func(s *tenant.Settings) { s.Origins = []string{"*"} }, "settings.origins"},
		{"wildcard subdomain", func(s *tenant.Settings) { s.Origins = []string{"https://*.example.edu"} }, "settings.origins"},
		{"null origin", func(s *tenant.Settings) { s.Origins = []string{"null"} }, "settings.origins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tenant.DefaultSettings()
			tc.edit(&s)
			err := s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantInvalidField(t, err, tc.field)
		})
	}
}

func TestSettingsValidateNamesEveryBadField(t *testing.T) {
	s := tenant.DefaultSettings()
	s.Currency, s.Timezone, s.LateFee.Kind, s.Origins = "rupee", "Mars/Olympus", "weekly", []string{"https://a.example.edu", "https://a.example.edu"}
	e := apperr.As(s.Validate())
	if e == nil {
		t.Fatal("Validate() = nil")
	}
	want := map[string]apperr.FieldCode{"settings.currency": apperr.FieldFormat, "settings.timezone": apperr.FieldNotAllowed,
		"settings.late_fee.kind": apperr.FieldNotAllowed, "settings.origins": apperr.FieldDuplicate}
	got := map[string]apperr.FieldCode{}
	for _, fe := range e.Errors {
		got[fe.Field] = fe.Code
	}
	if !maps.Equal(got, want) {
		t.Errorf("errors = %v, want %v", got, want)
	}
}

func origins(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://app%d.example.edu", i)
	}
	return out
}

func TestBrandingValidate(t *testing.T) {
	tests := []struct {
		name  string
		b     tenant.Branding
		field string // "" means valid
	}{
		{"name only", tenant.Branding{DisplayName: "Acme Academy"}, ""},
		{"everything", tenant.Branding{DisplayName: "Acme", LogoURL: "https://cdn.example.com/logo.png", PrimaryColor: "#1A73e8", SupportEmail: "help@acme.example"}, ""},
		{"120 characters", tenant.Branding{DisplayName: strings.Repeat("a", 120)}, ""},
		// The bound is in characters as the message says: an Indian institution's name in Devanagari takes
		// three bytes a letter.
		{"120 Devanagari characters", tenant.Branding{DisplayName: strings.Repeat("क", 120)}, ""},
		{"empty name", tenant.Branding{}, "branding.display_name"},
		{"121 characters", tenant.Branding{DisplayName: strings.Repeat("a", 121)}, "branding.display_name"},
		{"121 Devanagari characters", tenant.Branding{DisplayName: strings.Repeat("क", 121)}, "branding.display_name"},
		{"http logo", tenant.Branding{DisplayName: "A", LogoURL: "http://cdn.example.com/logo.png"}, "branding.logo_url"},
		{"logo without host", tenant.Branding{DisplayName: "A", LogoURL: "https:///logo.png"}, "branding.logo_url"},
		{"javascript logo", tenant.Branding{DisplayName: "A", LogoURL: "javascript:alert(1)"}, "branding.logo_url"},
		{"relative logo", tenant.Branding{DisplayName: "A", LogoURL: "/logo.png"}, "branding.logo_url"},
		{"long logo", tenant.Branding{DisplayName: "A", LogoURL: "https://cdn.example.com/" + strings.Repeat("a", 500)}, "branding.logo_url"},
		{"colour without hash", tenant.Branding{DisplayName: "A", PrimaryColor: "1a73e8"}, "branding.primary_color"},
		{"short colour", tenant.Branding{DisplayName: "A", PrimaryColor: "#1a73e"}, "branding.primary_color"},
		{"named colour", tenant.Branding{DisplayName: "A", PrimaryColor: "red"}, "branding.primary_color"},
		{"colour with CSS", tenant.Branding{DisplayName: "A", PrimaryColor: "#1a73e8;x"}, "branding.primary_color"},
		{"long email", tenant.Branding{DisplayName: "A", SupportEmail: strings.Repeat("a", 190) + "@example.com"}, "branding.support_email"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantInvalidField(t, err, tc.field)
		})
	}
}

func TestTenantContext(t *testing.T) {
	ten := &tenant.Tenant{Slug: "acme"}
	if got := tenant.FromContext(tenant.WithTenant(context.Background(), ten)); got != ten {
		t.Errorf("FromContext = %v", got)
	}
	// A route that is not tenant-scoped reaching for a tenant is a programming error, not a silent nil.
	defer func() {
		if recover() == nil {
			t.Error("FromContext without a tenant did not panic")
		}
	}()
	tenant.FromContext(context.Background())
}

func TestLocation(t *testing.T) {
	ten := &tenant.Tenant{Settings: tenant.DefaultSettings()}
	if got := ten.Location().String(); got != "Asia/Kolkata" {
		t.Errorf("Location = %s", got)
	}
	// The embedded zoneinfo makes this work on a base image without /usr/share/zoneinfo.
	if _, off := time.Date(2030, 1, 1, 0, 0, 0, 0, ten.Location()).Zone(); off != 5*3600+1800 {
		t.Errorf("offset %d, want +05:30", off)
	}
	ten.Settings.Timezone = "Nowhere/Atlantis"
	if got := ten.Location(); got != time.UTC {
		t.Errorf("unusable zone gave %s, want UTC", got)
	}
}

// 20:00 UTC on 1 June is already 2 June in Kolkata: days are the institution's own.
func TestTodayIsTenantLocal(t *testing.T) {
	now := time.Date(2026, 6, 1, 20, 0, 0, 0, time.UTC)
	cases := map[string]string{"Asia/Kolkata": "2026-06-02", "America/New_York": "2026-06-01", "UTC": "2026-06-01"}
	for zone, want := range cases {
		ten := &tenant.Tenant{Settings: tenant.Settings{Timezone: zone}}
		if got := ten.Today(now); got != want {
			t.Errorf("%s: Today = %s, want %s", zone, got, want)
		}
	}
}
