package config

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over m, as FromEnv's callers in tests use it.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustFromEnv(t *testing.T, m map[string]string) Config {
	t.Helper()
	c, err := FromEnv(env(m))
	if err != nil {
		t.Fatalf("FromEnv(%v): %v", m, err)
	}
	return c
}

// production is a minimal environment production accepts; tests change one thing at a time.
func production() map[string]string {
	return map[string]string{
		"EDUGRID_ENV":          "production",
		"EDUGRID_PLATFORM_URI": "mongodb+srv://edugrid@platform.example.net/",
		"EDUGRID_SIGNING_KEYS": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n",
	}
}

// setting reads the Config field a variable sets, rendered the way Variables writes defaults, so the
// documentation table and FromEnv's defaults can be compared entry by entry.
func setting(c Config, name string) (string, bool) {
	switch name {
	case "EDUGRID_ENV":
		return c.Env, true
	case "EDUGRID_PLATFORM_URI":
		return c.PlatformURI, true
	case "EDUGRID_PLATFORM_DB":
		return c.PlatformDB, true
	case "EDUGRID_DEFAULT_CLUSTER":
		return c.DefaultCluster, true
	case "EDUGRID_SIGNING_KEYS":
		return string(c.SigningKeys), true
	case "EDUGRID_VERIFY_KEYS":
		return string(c.VerifyKeys), true
	case "EDUGRID_JWT_ISSUER":
		return c.Issuer, true
	case "EDUGRID_JWT_AUDIENCE":
		return c.Audience, true
	case "EDUGRID_ACCESS_TTL":
		return c.AccessTTL.String(), true
	case "EDUGRID_REFRESH_TTL":
		return c.RefreshTTL.String(), true
	case "EDUGRID_TENANT_CACHE_TTL":
		return c.TenantCacheTTL.String(), true
	case "EDUGRID_CLUSTER_CACHE_SIZE":
		return strconv.Itoa(c.ClusterCacheSize), true
	case "EDUGRID_REQUEST_TIMEOUT":
		return c.RequestTimeout.String(), true
	case "EDUGRID_PLATFORM_ADMIN_EMAIL":
		return c.AdminEmail, true
	case "EDUGRID_PLATFORM_ADMIN_PASSWORD":
		return c.AdminPassword, true
	case "EDUGRID_LOG_LEVEL":
		return c.LogLevel, true
	case "EDUGRID_CLIENT_IP_HOPS":
		return strconv.Itoa(c.ClientIPHops), true
	case "GOOGLE_CLOUD_PROJECT":
		return c.Project, true
	case "EDUGRID_PUBSUB_PROJECT":
		return c.PubSubProject, true
	case "EDUGRID_NOTIFICATIONS_TOPIC":
		return c.NotificationsTopic, true
	case "EDUGRID_SCHEDULER_AUDIENCE":
		return c.SchedulerAudience, true
	case "EDUGRID_SCHEDULER_SERVICE_ACCOUNT":
		return c.SchedulerServiceAccount, true
	case "EDUGRID_CHANGES_TOPIC":
		return c.ChangesTopic, true
	case "EDUGRID_RELAY_CLUSTERS":
		return strings.Join(c.RelayClusters, ","), true
	case "EDUGRID_RELAY_MAX_LAG":
		return c.RelayMaxLag.String(), true
	case "EDUGRID_BQ_PROJECT":
		return c.WarehouseProject, true
	case "EDUGRID_BQ_DATASET":
		return c.WarehouseDataset, true
	case "EDUGRID_CLUSTER_NAMESPACES":
		if len(c.ClusterNamespaces) == 0 {
			return "", true
		}
		return fmt.Sprint(c.ClusterNamespaces), true
	case "EDUGRID_CORS_ORIGINS":
		return strings.Join(c.CORSOrigins, ","), true
	case "EDUGRID_PUBLIC_URL":
		return c.Delivery.PublicURL, true
	case "EDUGRID_SMTP_ADDR":
		return c.Delivery.SMTPAddr, true
	case "EDUGRID_SMTP_USERNAME":
		return c.Delivery.SMTPUsername, true
	case "EDUGRID_SMTP_PASSWORD":
		return c.Delivery.SMTPPassword, true
	case "EDUGRID_SMTP_FROM":
		return c.Delivery.SMTPFrom, true
	case "EDUGRID_SMS_PROVIDER":
		return c.Delivery.SMSProvider, true
	case "EDUGRID_MSG91_AUTHKEY":
		return c.Delivery.MSG91AuthKey, true
	case "EDUGRID_MSG91_SENDER":
		return c.Delivery.MSG91Sender, true
	case "EDUGRID_TWILIO_ACCOUNT_SID":
		return c.Delivery.TwilioAccountSID, true
	case "EDUGRID_TWILIO_AUTH_TOKEN":
		return c.Delivery.TwilioAuthToken, true
	case "EDUGRID_TWILIO_FROM":
		return c.Delivery.TwilioFrom, true
	case "EDUGRID_WHATSAPP_TOKEN":
		return c.Delivery.WhatsAppToken, true
	case "EDUGRID_WHATSAPP_PHONE_NUMBER_ID":
		return c.Delivery.WhatsAppPhoneNumberID, true
	case "EDUGRID_WHATSAPP_APP_SECRET":
		return c.Delivery.WhatsAppAppSecret, true
	case "EDUGRID_WHATSAPP_VERIFY_TOKEN":
		return c.Delivery.WhatsAppVerifyToken, true
	case "EDUGRID_BQ_LOCATION":
		return c.WarehouseLocation, true
	case "EDUGRID_SECRETS_KMS_KEY":
		return c.Payments.KMSKey, true
	case "EDUGRID_SECRETS_KEY_FILE":
		return c.Payments.KeyFile, true
	case "EDUGRID_RAZORPAY_API_URL":
		return c.Payments.RazorpayURL, true
	case "EDUGRID_STRIPE_API_URL":
		return c.Payments.StripeURL, true
	case "EDUGRID_RECONCILE_AUDIENCE":
		return c.Payments.ReconcileAudience, true
	}
	return "", false
}

func TestDefaultsMatchVariables(t *testing.T) {
	c := mustFromEnv(t, nil)
	for _, v := range Variables {
		if v.Name == "EDUGRID_CLUSTERS" {
			continue // its default names another variable; TestClustersDefault covers it
		}
		got, ok := setting(c, v.Name)
		if !ok {
			t.Errorf("%s is documented but this test does not know its field", v.Name)
			continue
		}
		want := v.Default
		if want == "none" || strings.HasPrefix(want, "generated") {
			want = "" // "none" and "generated per process" both mean FromEnv leaves it empty
		}
		if strings.HasSuffix(v.Name, "_TTL") || strings.HasSuffix(v.Name, "_LAG") {
			d, err := time.ParseDuration(want)
			if err != nil {
				t.Fatalf("%s documents default %q, which is not a duration", v.Name, v.Default)
			}
			want = d.String()
		}
		if got != want {
			t.Errorf("%s defaults to %q, Variables documents %q", v.Name, got, v.Default)
		}
	}
	if c.Production() {
		t.Error("the default environment is production")
	}
}

func TestClustersDefault(t *testing.T) {
	c := mustFromEnv(t, nil)
	if len(c.Clusters) != 1 || c.Clusters["default"] != c.PlatformURI {
		t.Errorf("Clusters = %v, want {default: %s}", c.Clusters, c.PlatformURI)
	}

	c = mustFromEnv(t, map[string]string{"EDUGRID_PLATFORM_URI": "lungo:file:/tmp/edugrid.db"})
	if c.Clusters["default"] != "lungo:file:/tmp/edugrid.db" {
		t.Errorf("Clusters = %v, want default to follow EDUGRID_PLATFORM_URI", c.Clusters)
	}

	// Locally, naming other clusters keeps "default" pointing at the platform cluster.
	c = mustFromEnv(t, map[string]string{"EDUGRID_CLUSTERS": `{"eu": "lungo:memory:eu"}`})
	if c.Clusters["eu"] != "lungo:memory:eu" || c.Clusters["default"] != c.PlatformURI || len(c.Clusters) != 2 {
		t.Errorf("Clusters = %v, want eu plus default -> platform", c.Clusters)
	}
}

func TestOverrides(t *testing.T) {
	c := mustFromEnv(t, map[string]string{
		"EDUGRID_PLATFORM_URI":            "lungo:memory:p2",
		"EDUGRID_PLATFORM_DB":             "platform2",
		"EDUGRID_CLUSTERS":                `{"in-1": "lungo:memory:in1", "eu-1": "lungo:memory:eu1"}`,
		"EDUGRID_DEFAULT_CLUSTER":         "in-1",
		"EDUGRID_SIGNING_KEYS":            "signing-pem",
		"EDUGRID_VERIFY_KEYS":             "verify-pem",
		"EDUGRID_JWT_ISSUER":              "iss2",
		"EDUGRID_JWT_AUDIENCE":            "aud2",
		"EDUGRID_ACCESS_TTL":              "5m",
		"EDUGRID_REFRESH_TTL":             "24h",
		"EDUGRID_TENANT_CACHE_TTL":        "1s",
		"EDUGRID_CLUSTER_CACHE_SIZE":      "3",
		"EDUGRID_PLATFORM_ADMIN_EMAIL":    "root@example.com",
		"EDUGRID_PLATFORM_ADMIN_PASSWORD": "pw",
		"EDUGRID_LOG_LEVEL":               " debug ",
		"EDUGRID_CLIENT_IP_HOPS":          "2",
		"GOOGLE_CLOUD_PROJECT":            "edugrid-prod",
		"EDUGRID_CORS_ORIGINS":            " https://app.example.edu, ,http://localhost:5173 ",
	})
	want := map[string]string{
		"EDUGRID_PLATFORM_URI": "lungo:memory:p2", "EDUGRID_PLATFORM_DB": "platform2", "EDUGRID_DEFAULT_CLUSTER": "in-1",
		"EDUGRID_SIGNING_KEYS": "signing-pem", "EDUGRID_VERIFY_KEYS": "verify-pem", "EDUGRID_JWT_ISSUER": "iss2",
		"EDUGRID_JWT_AUDIENCE": "aud2", "EDUGRID_ACCESS_TTL": "5m0s", "EDUGRID_REFRESH_TTL": "24h0m0s",
		"EDUGRID_TENANT_CACHE_TTL": "1s", "EDUGRID_CLUSTER_CACHE_SIZE": "3", "EDUGRID_PLATFORM_ADMIN_EMAIL": "root@example.com",
		"EDUGRID_PLATFORM_ADMIN_PASSWORD": "pw", "EDUGRID_LOG_LEVEL": "debug", "EDUGRID_CLIENT_IP_HOPS": "2",
		"GOOGLE_CLOUD_PROJECT": "edugrid-prod", "EDUGRID_CORS_ORIGINS": "https://app.example.edu,http://localhost:5173",
	}
	for name, w := range want {
		if got, _ := setting(c, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	// The named default cluster exists, so the platform URI is not added as "default".
	if len(c.Clusters) != 2 || c.Clusters["in-1"] != "lungo:memory:in1" {
		t.Errorf("Clusters = %v", c.Clusters)
	}
}

func TestProduction(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string
		errHas string // "" = accepted
	}{
		{"minimal", nil, ""},
		{"verify keys alone", map[string]string{"EDUGRID_SIGNING_KEYS": "", "EDUGRID_VERIFY_KEYS": "pem"}, ""},
		{"admin with a long password", map[string]string{"EDUGRID_PLATFORM_ADMIN_EMAIL": "root@example.com", "EDUGRID_PLATFORM_ADMIN_PASSWORD": "correct horse battery"}, ""},
		{"named clusters", map[string]string{"EDUGRID_CLUSTERS": `{"in-1": "mongodb://in1/"}`, "EDUGRID_DEFAULT_CLUSTER": "in-1"}, ""},
		{"embedded platform", map[string]string{"EDUGRID_PLATFORM_URI": "lungo:memory:platform"}, "embedded engine"},
		{"embedded file platform", map[string]string{"EDUGRID_PLATFORM_URI": "lungo:file:/var/edugrid.db"}, "embedded engine"},
		{"embedded platform beside MongoDB clusters", map[string]string{"EDUGRID_PLATFORM_URI": "lungo:memory:platform", "EDUGRID_CLUSTERS": `{"default": "mongodb://a/"}`}, "EDUGRID_PLATFORM_URI"},
		{"embedded cluster", map[string]string{"EDUGRID_CLUSTERS": `{"default": "mongodb://a/", "eu": "lungo:memory:eu"}`}, `"eu"`},
		{"default cluster missing from clusters", map[string]string{"EDUGRID_CLUSTERS": `{"in-1": "mongodb://in1/"}`}, "EDUGRID_DEFAULT_CLUSTER"},
		// The relay runs without keys; shared/app refuses to generate them in production.
		{"no keys", map[string]string{"EDUGRID_SIGNING_KEYS": ""}, ""},
		{"admin without password", map[string]string{"EDUGRID_PLATFORM_ADMIN_EMAIL": "root@example.com"}, "EDUGRID_PLATFORM_ADMIN_PASSWORD"},
		{"short admin password", map[string]string{"EDUGRID_PLATFORM_ADMIN_EMAIL": "root@example.com", "EDUGRID_PLATFORM_ADMIN_PASSWORD": "elevenchars"}, "EDUGRID_PLATFORM_ADMIN_PASSWORD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := production()
			for k, v := range tt.change {
				m[k] = v
			}
			c, err := FromEnv(env(m))
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("FromEnv: %v", err)
				}
				if !c.Production() {
					t.Fatal("Production() = false")
				}
				return
			}
			if err == nil {
				t.Fatalf("FromEnv accepted %v in production", tt.change)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %q does not mention %s", err, tt.errHas)
			}
		})
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name, variable, value string
	}{
		{"unknown env", "EDUGRID_ENV", "staging"},
		{"duration without unit", "EDUGRID_ACCESS_TTL", "15"},
		{"duration garbage", "EDUGRID_REFRESH_TTL", "a month"},
		{"zero duration", "EDUGRID_TENANT_CACHE_TTL", "0s"},
		{"negative duration", "EDUGRID_ACCESS_TTL", "-1m"},
		{"zero request timeout", "EDUGRID_REQUEST_TIMEOUT", "0s"},
		{"cache size word", "EDUGRID_CLUSTER_CACHE_SIZE", "sixteen"},
		{"cache size zero", "EDUGRID_CLUSTER_CACHE_SIZE", "0"},
		{"hops negative", "EDUGRID_CLIENT_IP_HOPS", "-1"},
		{"hops fraction", "EDUGRID_CLIENT_IP_HOPS", "1.5"},
		{"clusters not JSON", "EDUGRID_CLUSTERS", "default=mongodb://a/"},
		{"clusters array", "EDUGRID_CLUSTERS", `["mongodb://a/"]`},
		{"clusters non-string URI", "EDUGRID_CLUSTERS", `{"default": 1}`},
		{"clusters null", "EDUGRID_CLUSTERS", `null`},
		{"default cluster unknown", "EDUGRID_DEFAULT_CLUSTER", "eu-1"},
		{"wildcard origin", "EDUGRID_CORS_ORIGINS", "*"},
		{"wildcard among origins", "EDUGRID_CORS_ORIGINS", "https://app.example.edu,*"},
		{"origin with a path", "EDUGRID_CORS_ORIGINS", "https://app.example.edu/app"},
		{"plain http origin", "EDUGRID_CORS_ORIGINS", "http://app.example.edu"},
		{"bare host as origin", "EDUGRID_CORS_ORIGINS", "app.example.edu"},
		{"unknown SMS provider", "EDUGRID_SMS_PROVIDER", "textlocal"},
		{"public URL over http", "EDUGRID_PUBLIC_URL", "http://api.example.edu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromEnv(env(map[string]string{tt.variable: tt.value}))
			if err == nil {
				t.Fatalf("FromEnv accepted %s=%q", tt.variable, tt.value)
			}
			if !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("error %q does not name %s", err, tt.variable)
			}
		})
	}
}

// Every variable FromEnv reads must be documented. The source is read rather than grepped by a script so
// the check runs with go test alone; only the source from FromEnv on (FromEnv, Read) counts, since
// Variables itself names them all.
func TestEveryVariableReadIsDocumented(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "func FromEnv(")
	if !ok {
		t.Fatal("config.go has no FromEnv")
	}
	documented := map[string]bool{}
	for _, v := range Variables {
		if documented[v.Name] {
			t.Errorf("%s is listed twice in Variables", v.Name)
		}
		documented[v.Name] = true
	}
	read := map[string]bool{}
	for _, name := range regexp.MustCompile(`"((?:EDUGRID|GOOGLE)_[A-Z0-9_]+)"`).FindAllStringSubmatch(body, -1) {
		read[name[1]] = true
		if !documented[name[1]] {
			t.Errorf("FromEnv reads %s, which Variables does not document", name[1])
		}
	}
	if len(read) < 10 {
		t.Fatalf("found only %d variable names in FromEnv; the pattern no longer matches the source", len(read))
	}
	for name := range documented {
		if !read[name] {
			t.Errorf("Variables documents %s, which FromEnv never reads", name)
		}
	}
}

// The same check at run time: every name FromEnv asks getenv for, on the local and the production path.
func TestEveryVariableAskedForIsDocumented(t *testing.T) {
	for _, base := range []map[string]string{nil, production()} {
		var asked []string
		_, err := FromEnv(func(k string) string {
			asked = append(asked, k)
			return base[k]
		})
		if err != nil {
			t.Fatalf("FromEnv: %v", err)
		}
		for _, v := range Variables {
			if !slices.Contains(asked, v.Name) {
				t.Errorf("Variables documents %s, but FromEnv did not ask for it", v.Name)
			}
		}
		for _, name := range asked {
			if !slices.ContainsFunc(Variables, func(v Variable) bool { return v.Name == name }) {
				t.Errorf("FromEnv asked for undocumented %s", name)
			}
		}
	}
}

// The ingest function is deployed in production mode with the warehouse settings and none of the
// database or key settings: Read accepts that, FromEnv (for the processes that open databases) does not.
func TestReadSkipsTheProductionRefusals(t *testing.T) {
	m := map[string]string{"EDUGRID_ENV": "production", "EDUGRID_LOG_LEVEL": "warn", "EDUGRID_BQ_PROJECT": "edugrid-prod",
		"EDUGRID_BQ_DATASET": "warehouse", "EDUGRID_BQ_LOCATION": "asia-south1"}
	c, err := Read(env(m))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !c.Production() || c.LogLevel != "warn" || c.WarehouseProject != "edugrid-prod" || c.WarehouseDataset != "warehouse" || c.WarehouseLocation != "asia-south1" {
		t.Errorf("Read = %+v", c)
	}
	if _, err := FromEnv(env(m)); err == nil {
		t.Error("FromEnv accepted production without a platform cluster")
	}
	m["EDUGRID_ACCESS_TTL"] = "soon"
	if _, err := Read(env(m)); err == nil || !strings.Contains(err.Error(), "EDUGRID_ACCESS_TTL") {
		t.Errorf("Read with a malformed duration = %v, want an error naming it", err)
	}
}
