// Package config reads edugrid's configuration from the environment. Every setting has an embedded
// default, so nothing needs to be set to run locally; EDUGRID_ENV=production refuses the defaults that are
// only safe on a developer's machine (embedded engine, generated keys).
//
// This package is the one reader of edugrid's environment: the other packages take their settings as
// plain values (a Config field, or a Config struct of their own that the wiring fills from this one).
package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edugrid/edugrid/shared/httpapi"
)

// Config is the whole runtime configuration.
type Config struct {
	// Env is "local" (default) or "production".
	Env string
	// PlatformURI is the cluster holding the platform database (registry, platform admins).
	PlatformURI string
	PlatformDB  string
	// Clusters maps cluster names, as tenants record them, to URIs.
	Clusters map[string]string
	// DefaultCluster is where new tenants are provisioned.
	DefaultCluster string
	// ClusterNamespaces is each cluster's budget of namespaces (collections plus indexes) for tenant
	// databases; provisioning places an institution only where its namespaces fit. Clusters not listed get
	// DefaultNamespaceBudget.
	ClusterNamespaces map[string]int
	SigningKeys       []byte
	VerifyKeys        []byte
	Issuer            string
	Audience          string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	TenantCacheTTL    time.Duration
	ClusterCacheSize  int
	// RequestTimeout bounds each API request's work: a database call still waiting at the deadline gives
	// up, and the caller gets 503 "unavailable" with Retry-After instead of a hung connection.
	RequestTimeout time.Duration
	// AdminEmail and AdminPassword bootstrap the first platform admin when none exists.
	AdminEmail    string
	AdminPassword string
	LogLevel      string
	Project       string
	// ClientIPHops is how many trusted proxies append to X-Forwarded-For in front of the service; 0 uses
	// the connection's address. Login rate limits key on the client address found this way.
	ClientIPHops int
	// PubSubProject is the project of the notifications topic; "" uses an in-process emulator (local only).
	PubSubProject string
	// ChangesTopic is the topic the relay publishes change events to.
	ChangesTopic string
	// RelayClusters names the clusters one relay instance watches; empty means all.
	RelayClusters []string
	// RelayMaxLag is how far a relay's change stream may fall behind the cluster (now minus the cluster
	// time it has read up to) before its health check answers 503.
	RelayMaxLag        time.Duration
	NotificationsTopic string
	// WarehouseProject and WarehouseDataset name the BigQuery dataset of the analytics warehouse, for the
	// analytics and ingest functions; empty leaves analytics unconfigured. WarehouseLocation is where
	// ingest creates the dataset when it does not exist.
	WarehouseProject  string
	WarehouseDataset  string
	WarehouseLocation string
	// SchedulerAudience and SchedulerServiceAccount are what the reminders trigger demands of the Google
	// OIDC token Cloud Scheduler sends: its aud and its email. Required in production.
	SchedulerAudience       string
	SchedulerServiceAccount string
	// CORSOrigins are the browser origins allowed to call the API besides each institution's own
	// (tenant settings): exact origins, https (http only for localhost and 127.0.0.1), never a wildcard.
	CORSOrigins []string
	// CORSAllowLoopback also allows any http://localhost:<port> and http://127.0.0.1:<port>, for a
	// frontend's dev server. No variable sets it: the local stack does, and production ignores it.
	CORSAllowLoopback bool
	// Delivery holds the notification providers' settings and credentials. Nothing logs or returns them.
	Delivery Delivery
	// Payments configures online fee payments.
	Payments Payments
}

// Payments configures online fee payments: how gateway secrets are sealed at rest, where the gateways'
// APIs are, and who may start a reconciliation.
type Payments struct {
	// KMSKey names the Cloud KMS key that wraps the data keys of gateway secrets
	// (projects/…/locations/…/keyRings/…/cryptoKeys/…); production seals with nothing else.
	KMSKey string
	// KeyFile is a local key file (created when missing) used instead, off production.
	KeyFile string
	// RazorpayURL and StripeURL are the gateways' API base URLs (stand-ins locally and in tests).
	RazorpayURL, StripeURL string
	// ReconcileAudience is the aud the reconciliation trigger requires of Cloud Scheduler's OIDC token
	// (its URL); the signer must be SchedulerServiceAccount.
	ReconcileAudience string
}

// Delivery configures the notification providers of a deployment. A provider whose credentials are not
// all set is not used; a channel without a provider is not offered.
type Delivery struct {
	// PublicURL is the API's public base URL (https://api.example.edu): status callbacks are addressed and
	// verified under it.
	PublicURL string
	// SMTP: submission server host:port (465 implicit TLS, any other port STARTTLS), login, sender.
	SMTPAddr, SMTPUsername, SMTPPassword, SMTPFrom string
	// SMSProvider picks the SMS provider when both are configured: "msg91" or "twilio".
	SMSProvider string
	// MSG91: auth key and DLT-registered sender id.
	MSG91AuthKey, MSG91Sender string
	// Twilio: account SID, auth token (also the key of its callback signatures), sending number or
	// Messaging Service SID.
	TwilioAccountSID, TwilioAuthToken, TwilioFrom string
	// WhatsApp Cloud API: access token, business phone number id, the Meta app's secret (the key of its
	// webhook signatures) and the webhook verify token.
	WhatsAppToken, WhatsAppPhoneNumberID, WhatsAppAppSecret, WhatsAppVerifyToken string
}

// DefaultNamespaceBudget is a cluster's namespace budget unless EDUGRID_CLUSTER_NAMESPACES sets one:
// MongoDB Atlas recommends at most 5,000 collections plus indexes on an M10 (10,000 on M20/M30, 100,000
// on M40 and above).
const DefaultNamespaceBudget = 5000

// NamespaceBudget is cluster's namespace budget.
func (c Config) NamespaceBudget(cluster string) int {
	if n, ok := c.ClusterNamespaces[cluster]; ok {
		return n
	}
	return DefaultNamespaceBudget
}

// Production reports whether embedded defaults are refused.
func (c Config) Production() bool { return c.Env == "production" }

// Variable documents one environment variable; Variables lists them all for the README and the tests.
type Variable struct {
	Name, Default, Meaning string
}

// Variables is every environment variable the functions read.
var Variables = []Variable{
	{"EDUGRID_ENV", "local", "`production` refuses the embedded engine and generated keys"},
	{"EDUGRID_PLATFORM_URI", "lungo:memory:platform", "cluster holding the platform database (mongodb://, mongodb+srv://, lungo:memory:<name>, lungo:file:<path>)"},
	{"EDUGRID_PLATFORM_DB", "edugrid_platform", "name of the platform database"},
	{"EDUGRID_CLUSTERS", `{"default": <platform URI>}`, "JSON object: cluster name -> URI; tenants name their cluster"},
	{"EDUGRID_DEFAULT_CLUSTER", "default", "cluster new tenants are provisioned on"},
	{"EDUGRID_CLUSTER_NAMESPACES", "none", "JSON object: cluster name -> namespace budget (collections plus indexes of its tenant databases); a cluster not listed has 5,000; a full cluster takes no new institutions"},
	{"EDUGRID_SIGNING_KEYS", "generated per process (local only)", "PEM PKCS#8 Ed25519 private keys; the first signs, all verify"},
	{"EDUGRID_VERIFY_KEYS", "none", "PEM public keys of retired signing keys, accepted until their tokens expire"},
	{"EDUGRID_JWT_ISSUER", "edugrid", "iss of access tokens"},
	{"EDUGRID_JWT_AUDIENCE", "edugrid-api", "aud of access tokens"},
	{"EDUGRID_ACCESS_TTL", "15m", "access token lifetime"},
	{"EDUGRID_REFRESH_TTL", "720h", "refresh token lifetime"},
	{"EDUGRID_TENANT_CACHE_TTL", "30s", "how long a warm instance trusts its cached tenant and account states"},
	{"EDUGRID_CLUSTER_CACHE_SIZE", "16", "cluster clients kept per instance (LRU)"},
	{"EDUGRID_REQUEST_TIMEOUT", "30s", "deadline of each API request's work; a request still waiting on the database then answers 503 `unavailable` with Retry-After"},
	{"EDUGRID_PLATFORM_ADMIN_EMAIL", "none", "email of the first platform admin, created when none exists"},
	{"EDUGRID_PLATFORM_ADMIN_PASSWORD", "none", "that admin's initial password (no default in production)"},
	{"EDUGRID_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"EDUGRID_CLIENT_IP_HOPS", "0", "trusted proxies appending to X-Forwarded-For (2 behind the Google load balancer)"},
	{"GOOGLE_CLOUD_PROJECT", "none", "project id, links log lines to traces"},
	{"EDUGRID_PUBSUB_PROJECT", "none", "project of the notifications topic; none runs an in-process Pub/Sub emulator (production refuses to publish without it)"},
	{"EDUGRID_NOTIFICATIONS_TOPIC", "edugrid-notifications", "Pub/Sub topic id that notifications (absence alerts, fee reminders) are published to"},
	{"EDUGRID_CHANGES_TOPIC", "edugrid-changes", "relay only: Pub/Sub topic id change events are published to"},
	{"EDUGRID_RELAY_CLUSTERS", "none", "relay only: comma-separated cluster names this relay instance watches; none means every configured cluster"},
	{"EDUGRID_RELAY_MAX_LAG", "5m", "relay only: how far a change stream may fall behind its cluster before the relay's health check answers 503"},
	{"EDUGRID_BQ_PROJECT", "none", "project of the analytics warehouse's BigQuery dataset (analytics and ingest functions; the local stack uses DuckDB)"},
	{"EDUGRID_BQ_DATASET", "none", "the analytics warehouse's BigQuery dataset"},
	{"EDUGRID_BQ_LOCATION", "US", "location of the dataset when ingest creates it"},
	{"EDUGRID_SCHEDULER_AUDIENCE", "none", "aud the reminders trigger requires of Cloud Scheduler's OIDC token (its URL); required in production"},
	{"EDUGRID_SCHEDULER_SERVICE_ACCOUNT", "none", "email of the service account Cloud Scheduler signs as; the reminders trigger accepts no other"},
	{"EDUGRID_PUBLIC_URL", "none", "the API's public base URL (https://api.example.edu); provider status callbacks are addressed and verified under it"},
	{"EDUGRID_SMTP_ADDR", "none", "email: submission server host:port (465: implicit TLS; any other port must offer STARTTLS); none sends no email"},
	{"EDUGRID_SMTP_USERNAME", "none", "email: SMTP login"},
	{"EDUGRID_SMTP_PASSWORD", "none", "email: SMTP password (a secret)"},
	{"EDUGRID_SMTP_FROM", "none", "email: sender, e.g. `edugrid <no-reply@example.edu>`"},
	{"EDUGRID_SMS_PROVIDER", "msg91", "SMS provider when both are configured: msg91 or twilio"},
	{"EDUGRID_MSG91_AUTHKEY", "none", "SMS through MSG91: auth key (a secret)"},
	{"EDUGRID_MSG91_SENDER", "none", "SMS through MSG91: DLT-registered sender id"},
	{"EDUGRID_TWILIO_ACCOUNT_SID", "none", "SMS through Twilio: account SID"},
	{"EDUGRID_TWILIO_AUTH_TOKEN", "none", "SMS through Twilio: auth token (a secret; also verifies its status callbacks)"},
	{"EDUGRID_TWILIO_FROM", "none", "SMS through Twilio: sending number (E.164) or Messaging Service SID"},
	{"EDUGRID_WHATSAPP_TOKEN", "none", "WhatsApp Cloud API: access token (a secret)"},
	{"EDUGRID_WHATSAPP_PHONE_NUMBER_ID", "none", "WhatsApp Cloud API: the business phone number's id"},
	{"EDUGRID_WHATSAPP_APP_SECRET", "none", "WhatsApp Cloud API: the Meta app's secret, which verifies webhook signatures (a secret)"},
	{"EDUGRID_WHATSAPP_VERIFY_TOKEN", "none", "WhatsApp Cloud API: the token Meta's webhook subscription handshake presents (a secret)"},
	{"EDUGRID_SECRETS_KMS_KEY", "none", "Cloud KMS key (projects/…/cryptoKeys/…) wrapping the data keys of gateway secrets; required in production for online payments"},
	{"EDUGRID_SECRETS_KEY_FILE", "none", "local key file (the local stack: `<data dir>/secrets.key`) sealing gateway secrets instead of KMS (created when missing; not in production); without either a key lives as long as the process"},
	{"EDUGRID_RAZORPAY_API_URL", "https://api.razorpay.com", "Razorpay's API base URL (the local stack and tests use a loopback stand-in)"},
	{"EDUGRID_STRIPE_API_URL", "https://api.stripe.com", "Stripe's API base URL (the local stack and tests use stripe-mock)"},
	{"EDUGRID_RECONCILE_AUDIENCE", "none", "aud the payments reconciliation trigger requires of Cloud Scheduler's OIDC token (its URL); required in production"},
	{"EDUGRID_CORS_ORIGINS", "none", "comma-separated browser origins allowed to call the API (https://app.example.edu), besides each institution's own; no wildcard"},
}

// FromEnv reads the configuration with getenv (os.Getenv in production, a map in tests), as Read does,
// and in production refuses what is only safe on a developer's machine: the embedded engine and a platform
// admin without a strong password. It is the reader of every process that opens the databases: the API
// functions, the reminders trigger, the relay, the local stack. Token keys are not demanded here: the relay
// handles no tokens and is deployed without them; shared/app, which signs and verifies, refuses to
// generate keys in production.
func FromEnv(getenv func(string) string) (Config, error) {
	c, err := Read(getenv)
	if err != nil {
		return c, err
	}
	if c.Production() {
		if err := c.refuseLocalDefaults(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Read reads and checks every variable with getenv, without the production refusals of FromEnv: it is
// the reader of a process that opens no database and handles no tokens (the ingest function, which is
// deployed with none of those settings).
func Read(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Env:            get("EDUGRID_ENV", "local"),
		PlatformURI:    get("EDUGRID_PLATFORM_URI", "lungo:memory:platform"),
		PlatformDB:     get("EDUGRID_PLATFORM_DB", "edugrid_platform"),
		DefaultCluster: get("EDUGRID_DEFAULT_CLUSTER", "default"),
		SigningKeys:    []byte(getenv("EDUGRID_SIGNING_KEYS")),
		VerifyKeys:     []byte(getenv("EDUGRID_VERIFY_KEYS")),
		Issuer:         get("EDUGRID_JWT_ISSUER", "edugrid"),
		Audience:       get("EDUGRID_JWT_AUDIENCE", "edugrid-api"),
		AdminEmail:     get("EDUGRID_PLATFORM_ADMIN_EMAIL", ""),
		AdminPassword:  getenv("EDUGRID_PLATFORM_ADMIN_PASSWORD"),
		LogLevel:       get("EDUGRID_LOG_LEVEL", "info"),
		Project:        get("GOOGLE_CLOUD_PROJECT", ""),

		PubSubProject:           get("EDUGRID_PUBSUB_PROJECT", ""),
		ChangesTopic:            get("EDUGRID_CHANGES_TOPIC", "edugrid-changes"),
		NotificationsTopic:      get("EDUGRID_NOTIFICATIONS_TOPIC", "edugrid-notifications"),
		WarehouseProject:        get("EDUGRID_BQ_PROJECT", ""),
		WarehouseDataset:        get("EDUGRID_BQ_DATASET", ""),
		WarehouseLocation:       get("EDUGRID_BQ_LOCATION", "US"),
		SchedulerAudience:       get("EDUGRID_SCHEDULER_AUDIENCE", ""),
		SchedulerServiceAccount: get("EDUGRID_SCHEDULER_SERVICE_ACCOUNT", ""),
		Delivery: Delivery{
			PublicURL: get("EDUGRID_PUBLIC_URL", ""),
			SMTPAddr:  get("EDUGRID_SMTP_ADDR", ""), SMTPUsername: get("EDUGRID_SMTP_USERNAME", ""),
			SMTPPassword: getenv("EDUGRID_SMTP_PASSWORD"), SMTPFrom: get("EDUGRID_SMTP_FROM", ""),
			SMSProvider:  get("EDUGRID_SMS_PROVIDER", "msg91"),
			MSG91AuthKey: getenv("EDUGRID_MSG91_AUTHKEY"), MSG91Sender: get("EDUGRID_MSG91_SENDER", ""),
			TwilioAccountSID: get("EDUGRID_TWILIO_ACCOUNT_SID", ""), TwilioAuthToken: getenv("EDUGRID_TWILIO_AUTH_TOKEN"),
			TwilioFrom:    get("EDUGRID_TWILIO_FROM", ""),
			WhatsAppToken: getenv("EDUGRID_WHATSAPP_TOKEN"), WhatsAppPhoneNumberID: get("EDUGRID_WHATSAPP_PHONE_NUMBER_ID", ""),
			WhatsAppAppSecret: getenv("EDUGRID_WHATSAPP_APP_SECRET"), WhatsAppVerifyToken: getenv("EDUGRID_WHATSAPP_VERIFY_TOKEN"),
		},
	}
	c.Payments = Payments{KMSKey: get("EDUGRID_SECRETS_KMS_KEY", ""), KeyFile: get("EDUGRID_SECRETS_KEY_FILE", ""),
		RazorpayURL: get("EDUGRID_RAZORPAY_API_URL", "https://api.razorpay.com"), StripeURL: get("EDUGRID_STRIPE_API_URL", "https://api.stripe.com"),
		ReconcileAudience: get("EDUGRID_RECONCILE_AUDIENCE", "")}
	if p := c.Delivery.SMSProvider; p != "msg91" && p != "twilio" {
		return c, fmt.Errorf("EDUGRID_SMS_PROVIDER must be msg91 or twilio, not %q", p)
	}
	if u := c.Delivery.PublicURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://127.0.0.1") && !strings.HasPrefix(u, "http://localhost") {
		return c, fmt.Errorf("EDUGRID_PUBLIC_URL must be an https URL such as https://api.example.edu")
	}
	if c.Env != "local" && c.Env != "production" {
		return c, fmt.Errorf("EDUGRID_ENV must be local or production, not %q", c.Env)
	}
	var err error
	durations := []struct {
		dst       *time.Duration
		name, def string
	}{
		{&c.AccessTTL, "EDUGRID_ACCESS_TTL", "15m"},
		{&c.RefreshTTL, "EDUGRID_REFRESH_TTL", "720h"},
		{&c.TenantCacheTTL, "EDUGRID_TENANT_CACHE_TTL", "30s"},
		{&c.RequestTimeout, "EDUGRID_REQUEST_TIMEOUT", "30s"},
		{&c.RelayMaxLag, "EDUGRID_RELAY_MAX_LAG", "5m"},
	}
	for _, d := range durations {
		if *d.dst, err = time.ParseDuration(get(d.name, d.def)); err != nil || *d.dst <= 0 {
			return c, fmt.Errorf("%s must be a positive duration such as %s", d.name, d.def)
		}
	}
	if c.ClusterCacheSize, err = strconv.Atoi(get("EDUGRID_CLUSTER_CACHE_SIZE", "16")); err != nil || c.ClusterCacheSize < 1 {
		return c, fmt.Errorf("EDUGRID_CLUSTER_CACHE_SIZE must be a whole number from 1")
	}
	if c.ClientIPHops, err = strconv.Atoi(get("EDUGRID_CLIENT_IP_HOPS", "0")); err != nil || c.ClientIPHops < 0 {
		return c, fmt.Errorf("EDUGRID_CLIENT_IP_HOPS must be a whole number from 0")
	}
	for _, o := range strings.Split(get("EDUGRID_CORS_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if _, err := httpapi.ParseOrigin("EDUGRID_CORS_ORIGINS", o); err != nil {
			return c, fmt.Errorf("EDUGRID_CORS_ORIGINS: %q is not an origin such as https://app.example.edu (https, or http only for localhost and 127.0.0.1; lowercase; no path, no wildcard)", o)
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	for _, name := range strings.Split(get("EDUGRID_RELAY_CLUSTERS", ""), ",") {
		if name = strings.TrimSpace(name); name != "" {
			c.RelayClusters = append(c.RelayClusters, name)
		}
	}
	c.ClusterNamespaces = map[string]int{}
	if raw := getenv("EDUGRID_CLUSTER_NAMESPACES"); strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &c.ClusterNamespaces); err != nil || c.ClusterNamespaces == nil {
			return c, fmt.Errorf("EDUGRID_CLUSTER_NAMESPACES must be a JSON object of cluster name to a whole number")
		}
		for name, n := range c.ClusterNamespaces {
			if n < 1 {
				return c, fmt.Errorf("EDUGRID_CLUSTER_NAMESPACES: cluster %q needs a budget of at least 1", name)
			}
		}
	}
	c.Clusters = map[string]string{}
	if raw := getenv("EDUGRID_CLUSTERS"); strings.TrimSpace(raw) != "" {
		// "null" unmarshals without error into a nil map, which the default-cluster step below would panic on.
		if err := json.Unmarshal([]byte(raw), &c.Clusters); err != nil || c.Clusters == nil {
			return c, fmt.Errorf("EDUGRID_CLUSTERS must be a JSON object of cluster name to URI")
		}
	}
	if _, ok := c.Clusters[c.DefaultCluster]; !ok {
		if c.DefaultCluster != "default" || len(c.Clusters) > 0 && c.Production() {
			return c, fmt.Errorf("EDUGRID_DEFAULT_CLUSTER %q is not in EDUGRID_CLUSTERS", c.DefaultCluster)
		}
		c.Clusters["default"] = c.PlatformURI
	}
	return c, nil
}

// refuseLocalDefaults returns why c may not run in production, or nil.
func (c Config) refuseLocalDefaults() error {
	for name, uri := range c.Clusters {
		if strings.HasPrefix(uri, "lungo:") {
			return fmt.Errorf("cluster %q uses the embedded engine, which production refuses", name)
		}
	}
	if strings.HasPrefix(c.PlatformURI, "lungo:") {
		return fmt.Errorf("EDUGRID_PLATFORM_URI must name a MongoDB cluster in production")
	}
	if c.AdminEmail != "" && len(c.AdminPassword) < 12 {
		return fmt.Errorf("EDUGRID_PLATFORM_ADMIN_PASSWORD must be set (12+ characters) with EDUGRID_PLATFORM_ADMIN_EMAIL in production")
	}
	return nil
}
