package notifications

import (
	"bytes"
	"context"
	"errors"
	htmltemplate "html/template"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/money"
	"github.com/edugrid/edugrid/shared/tenant"
	"github.com/edugrid/edugrid/shared/text"
)

// Languages are the languages templates exist in.
var Languages = []string{"en", "hi"}

func validLanguage(l string) bool { return l == "en" || l == "hi" }

// Length rules, checked on the text a template renders with sample values.
const (
	// SMS: three concatenated segments at most: 3 × 153 GSM-7 characters, or 3 × 67 when the text needs
	// Unicode (Hindi).
	maxSMSGSM     = 459
	maxSMSUnicode = 201
	// WhatsApp: a template body holds at most 1,024 characters.
	maxWhatsApp     = 1024
	maxEmailSubject = 200
	maxEmailHTML    = 64 << 10
)

// Template is how one kind of notification reads in one language. Subject, SMS and WhatsApp texts are
// text/template; the email body is html/template (values are escaped) placed in the institution's
// branded layout. Fields are {{.student_name}}, {{.date}} and the other fields of the kind (Fields).
type Template struct {
	ID            string `bson:"_id" json:"id"`
	Kind          string `bson:"kind" json:"kind" example:"attendance.absence"`
	Language      string `bson:"language" json:"language" example:"en"`
	TemplateInput `bson:",inline"`
	// Default is true for a built-in template the institution has not replaced.
	Default   bool      `bson:"-" json:"default"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// TemplateInput is what an institution saves.
type TemplateInput struct {
	EmailSubject string `bson:"email_subject" json:"email_subject" example:"{{.student_name}} was absent on {{.date}}"`
	EmailHTML    string `bson:"email_html" json:"email_html" example:"<p>Dear {{.recipient_name}}, {{.student_name}} was marked absent on {{.date}}.</p>"`
	SMSText      string `bson:"sms_text" json:"sms_text" example:"{{.institution}}: {{.student_name}} was absent on {{.date}}."`
	// SMSTemplateID is the MSG91 template id registered against the DLT template of SMSText (India).
	SMSTemplateID string `bson:"sms_template_id" json:"sms_template_id,omitempty" example:"6571a2b3c4d5e6f7a8b9c0d1"`
	// WhatsAppTemplate is the name of the approved WhatsApp template; WhatsAppText its text as approved,
	// and WhatsAppParams the fields filling its {{1}}, {{2}}, ... in order.
	WhatsAppTemplate string   `bson:"whatsapp_template" json:"whatsapp_template,omitempty" example:"absence_alert"`
	WhatsAppText     string   `bson:"whatsapp_text" json:"whatsapp_text,omitempty" example:"{{.student_name}} was absent on {{.date}}."`
	WhatsAppParams   []string `bson:"whatsapp_params" json:"whatsapp_params,omitempty" example:"[\"student_name\",\"date\"]"`
}

// Fields lists the fields a kind's templates may use, besides the common ones (commonFields).
var Fields = map[string][]string{
	KindAbsence:       {"student_name", "date"},
	KindEscalation:    {"student_name", "count", "dates"},
	KindReminder:      {"amount", "due_date", "stage"},
	KindFeeEscalation: {"student_name", "amount", "due_date", "days_overdue"},
	KindVerification:  {"code"},
}

var commonFields = []string{"institution", "recipient_name", "subject", "body"}

// sample returns the values a kind's templates are checked with at save time.
func sample(kind string) map[string]string {
	out := map[string]string{"institution": "Sunrise Academy", "recipient_name": "Asha Verma",
		"subject": "A message from Sunrise Academy", "body": "Please contact the office."}
	for _, f := range Fields[kind] {
		out[f] = map[string]string{"student_name": "Rohan Verma", "date": "2026-07-14", "count": "3", "dates": "2026-07-10, 2026-07-13, 2026-07-14", "amount": "₹4,500.00",
			"due_date": "2026-07-10", "stage": "overdue_7", "days_overdue": "30", "code": "482913"}[f]
	}
	return out
}

// builtin holds the default templates by kind and language; "" is the kind any other kind falls back to.
var builtin = map[string]map[string]TemplateInput{
	KindAbsence: {
		"en": {EmailSubject: "{{.student_name}} was absent on {{.date}}",
			EmailHTML:        "<p>Dear {{.recipient_name}},</p><p>{{.student_name}} was marked absent on {{.date}}. If you did not expect this, please contact {{.institution}}.</p>",
			SMSText:          "{{.institution}}: {{.student_name}} was absent on {{.date}}. Please contact us if this is unexpected.",
			WhatsAppTemplate: "absence_alert", WhatsAppText: "{{.student_name}} was absent on {{.date}}. Please contact {{.institution}} if this is unexpected.",
			WhatsAppParams: []string{"student_name", "date", "institution"}},
		"hi": {EmailSubject: "{{.student_name}} {{.date}} को अनुपस्थित थे",
			EmailHTML:        "<p>प्रिय {{.recipient_name}},</p><p>{{.student_name}} {{.date}} को अनुपस्थित दर्ज किए गए। कृपया {{.institution}} से संपर्क करें।</p>",
			SMSText:          "{{.institution}}: {{.student_name}} {{.date}} को अनुपस्थित थे।",
			WhatsAppTemplate: "absence_alert", WhatsAppText: "{{.student_name}} {{.date}} को अनुपस्थित थे। कृपया {{.institution}} से संपर्क करें।",
			WhatsAppParams: []string{"student_name", "date", "institution"}},
	},
	KindEscalation: {
		"en": {EmailSubject: "{{.student_name}} was absent {{.count}} days in a row",
			EmailHTML:        "<p>Dear {{.recipient_name}},</p><p>{{.student_name}} has been absent {{.count}} days of classes in a row, on {{.dates}}. Please contact {{.institution}}.</p>",
			SMSText:          "{{.institution}}: {{.student_name}} absent {{.count}} days in a row ({{.dates}}). Please contact us.",
			WhatsAppTemplate: "absence_escalation", WhatsAppText: "{{.student_name}} has been absent {{.count}} days in a row, on {{.dates}}. Please contact {{.institution}}.",
			WhatsAppParams: []string{"student_name", "count", "dates", "institution"}},
		"hi": {EmailSubject: "{{.student_name}} लगातार {{.count}} दिन अनुपस्थित",
			EmailHTML:        "<p>प्रिय {{.recipient_name}},</p><p>{{.student_name}} लगातार {{.count}} दिन अनुपस्थित रहे: {{.dates}}। कृपया {{.institution}} से संपर्क करें।</p>",
			SMSText:          "{{.institution}}: {{.student_name}} लगातार {{.count}} दिन अनुपस्थित ({{.dates}})।",
			WhatsAppTemplate: "absence_escalation", WhatsAppText: "{{.student_name}} लगातार {{.count}} दिन अनुपस्थित रहे: {{.dates}}। कृपया {{.institution}} से संपर्क करें।",
			WhatsAppParams: []string{"student_name", "count", "dates", "institution"}},
	},
	KindReminder: {
		"en": {EmailSubject: "Fee of {{.amount}} due on {{.due_date}}",
			EmailHTML:        "<p>Dear {{.recipient_name}},</p><p>A fee instalment of {{.amount}} is due on {{.due_date}}. Please pay at the office or online.</p>",
			SMSText:          "{{.institution}}: fee of {{.amount}} due on {{.due_date}}. Please pay at the office or online.",
			WhatsAppTemplate: "fee_reminder", WhatsAppText: "A fee instalment of {{.amount}} is due on {{.due_date}} at {{.institution}}.",
			WhatsAppParams: []string{"amount", "due_date", "institution"}},
		"hi": {EmailSubject: "{{.due_date}} तक {{.amount}} शुल्क देय",
			EmailHTML:        "<p>प्रिय {{.recipient_name}},</p><p>{{.amount}} की शुल्क किस्त {{.due_date}} तक देय है। कृपया कार्यालय में या ऑनलाइन भुगतान करें।</p>",
			SMSText:          "{{.institution}}: {{.amount}} शुल्क {{.due_date}} तक देय है।",
			WhatsAppTemplate: "fee_reminder", WhatsAppText: "{{.institution}} में {{.amount}} की शुल्क किस्त {{.due_date}} तक देय है।",
			WhatsAppParams: []string{"amount", "due_date", "institution"}},
	},
	KindFeeEscalation: {
		"en": {EmailSubject: "{{.student_name}}: {{.amount}} unpaid {{.days_overdue}} days after its due date",
			EmailHTML:        "<p>Dear {{.recipient_name}},</p><p>The fee instalment of {{.student_name}}, {{.amount}}, due on {{.due_date}}, is still unpaid {{.days_overdue}} days later, after every reminder.</p>",
			SMSText:          "{{.institution}}: {{.student_name}}'s fee of {{.amount}} (due {{.due_date}}) is unpaid after {{.days_overdue}} days.",
			WhatsAppTemplate: "fee_escalation", WhatsAppText: "The fee of {{.student_name}}, {{.amount}}, due on {{.due_date}}, is unpaid after {{.days_overdue}} days.",
			WhatsAppParams: []string{"student_name", "amount", "due_date", "days_overdue"}},
		"hi": {EmailSubject: "{{.student_name}}: {{.amount}} देय तिथि के {{.days_overdue}} दिन बाद भी बकाया",
			EmailHTML:        "<p>प्रिय {{.recipient_name}},</p><p>{{.student_name}} की {{.amount}} की शुल्क किस्त, देय तिथि {{.due_date}}, {{.days_overdue}} दिन बाद भी बकाया है।</p>",
			SMSText:          "{{.institution}}: {{.student_name}} का {{.amount}} शुल्क {{.days_overdue}} दिन से बकाया।",
			WhatsAppTemplate: "fee_escalation", WhatsAppText: "{{.student_name}} का {{.amount}} शुल्क (देय {{.due_date}}) {{.days_overdue}} दिन से बकाया है।",
			WhatsAppParams: []string{"student_name", "amount", "due_date", "days_overdue"}},
	},
	KindVerification: {
		"en": {EmailSubject: "Your {{.institution}} verification code",
			EmailHTML:        "<p>Your verification code is <strong>{{.code}}</strong>. It expires in 10 minutes. If you did not ask for it, ignore this message.</p>",
			SMSText:          "{{.code}} is your {{.institution}} verification code. It expires in 10 minutes.",
			WhatsAppTemplate: "contact_verification", WhatsAppText: "{{.code}} is your verification code.", WhatsAppParams: []string{"code"}},
		"hi": {EmailSubject: "आपका {{.institution}} सत्यापन कोड",
			EmailHTML:        "<p>आपका सत्यापन कोड <strong>{{.code}}</strong> है। यह 10 मिनट में समाप्त हो जाएगा।</p>",
			SMSText:          "{{.code}} आपका {{.institution}} सत्यापन कोड है। यह 10 मिनट में समाप्त होगा।",
			WhatsAppTemplate: "contact_verification", WhatsAppText: "{{.code}} आपका सत्यापन कोड है।", WhatsAppParams: []string{"code"}},
	},
	"": {
		"en": {EmailSubject: "{{.subject}}", EmailHTML: "<p>{{.body}}</p>", SMSText: "{{.institution}}: {{.body}}",
			WhatsAppTemplate: "general_notice", WhatsAppText: "{{.body}}", WhatsAppParams: []string{"body"}},
		"hi": {EmailSubject: "{{.subject}}", EmailHTML: "<p>{{.body}}</p>", SMSText: "{{.institution}}: {{.body}}",
			WhatsAppTemplate: "general_notice", WhatsAppText: "{{.body}}", WhatsAppParams: []string{"body"}},
	},
}

// validKind reports whether templates may be saved for kind.
func validKind(kind string) bool { _, ok := Fields[kind]; return ok }

// validate checks a template for kind: every text parses, renders with the kind's sample values using only
// known fields, and keeps within its channel's length. It does not change in.
func (in TemplateInput) validate(kind string) error {
	var bad apperr.Problems
	data := sample(kind)
	check := func(field, src string, max int, unicodeMax int) {
		if src == "" {
			bad.Add(field, apperr.FieldRequired, "is required")
			return
		}
		if _, err := text.Field(field, src, 8000); err != nil {
			bad.Add(field, apperr.FieldFormat, "must be text without control characters")
			return
		}
		out, err := renderText(src, data, true)
		if err != nil {
			bad.Add(field, apperr.FieldInvalid, "does not render: "+cleanTemplateError(err))
			return
		}
		limit := max
		if unicodeMax > 0 && !gsm7(out) {
			limit = unicodeMax
		}
		if n := utf8.RuneCountInString(out); n > limit {
			bad.Add(field, apperr.FieldTooLong, "renders to "+strconv.Itoa(n)+" characters; at most "+strconv.Itoa(limit)+" fit")
		}
	}
	check("email_subject", in.EmailSubject, maxEmailSubject, 0)
	check("sms_text", in.SMSText, maxSMSGSM, maxSMSUnicode)
	check("whatsapp_text", in.WhatsAppText, maxWhatsApp, 0)
	if in.EmailHTML == "" {
		bad.Add("email_html", apperr.FieldRequired, "is required")
	} else if len(in.EmailHTML) > maxEmailHTML {
		bad.Add("email_html", apperr.FieldTooLong, "is longer than 64 KiB")
	} else if _, err := renderHTML(in.EmailHTML, data, true); err != nil {
		bad.Add("email_html", apperr.FieldInvalid, "does not render: "+cleanTemplateError(err))
	}
	if in.SMSTemplateID != "" && !providerRef.MatchString(in.SMSTemplateID) {
		bad.Add("sms_template_id", apperr.FieldFormat, "must be letters, digits, - or _ (up to 64)")
	}
	if in.WhatsAppTemplate != "" && !waName.MatchString(in.WhatsAppTemplate) {
		bad.Add("whatsapp_template", apperr.FieldFormat, "must be lower-case letters, digits and _ (up to 512), as WhatsApp names templates")
	}
	known := append(append([]string{}, commonFields...), Fields[kind]...)
	if len(in.WhatsAppParams) > 10 {
		bad.Add("whatsapp_params", apperr.FieldTooLong, "at most 10 parameters")
	}
	for _, p := range in.WhatsAppParams {
		if !contains(known, p) {
			bad.Add("whatsapp_params", apperr.FieldNotAllowed, "names an unknown field "+strconv.Quote(clip(p))+"; known: "+strings.Join(known, ", "))
			break
		}
	}
	return bad.Err()
}

var (
	providerRef = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	waName      = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)
	colorRe     = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// cleanTemplateError keeps a template error's message without the template's internal name.
func cleanTemplateError(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "template: ") {
		s = s[i+2:]
	}
	return clip(s)
}

// gsm7 reports whether s fits the GSM 03.38 basic character set (roughly: printable ASCII, with a few
// exceptions that we treat as Unicode to stay safe).
func gsm7(s string) bool {
	for _, r := range s {
		if r > 0x7e || (r < 0x20 && r != '\n' && r != '\r') || strings.ContainsRune("`^{}[]~|\\", r) {
			return false
		}
	}
	return true
}

func renderText(src string, data map[string]string, strict bool) (string, error) {
	t := texttemplate.New("t")
	if strict {
		t = t.Option("missingkey=error")
	} else {
		t = t.Option("missingkey=zero")
	}
	t, err := t.Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func renderHTML(src string, data map[string]string, strict bool) (htmltemplate.HTML, error) {
	t := htmltemplate.New("t")
	if strict {
		t = t.Option("missingkey=error")
	} else {
		t = t.Option("missingkey=zero")
	}
	t, err := t.Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return htmltemplate.HTML(b.String()), nil //nolint:gosec // produced by html/template, so escaped
}

// layout is the branded frame of every email.
var layout = htmltemplate.Must(htmltemplate.New("layout").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="margin:0;font-family:Arial,sans-serif;background:#f4f4f5">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="600" cellpadding="16" cellspacing="0" style="background:#ffffff">
<tr><td style="background:{{.Color}};color:#ffffff;font-size:20px">{{if .Logo}}<img src="{{.Logo}}" alt="" height="32" style="vertical-align:middle"> {{end}}{{.Name}}</td></tr>
<tr><td style="font-size:15px;line-height:1.5;color:#111827">{{.Body}}</td></tr>
<tr><td style="font-size:12px;color:#6b7280">{{.Name}}{{if .Support}} · <a href="mailto:{{.Support}}">{{.Support}}</a>{{end}}</td></tr>
</table></td></tr></table></body></html>`))

// Rendered is a notification as each channel shows it.
type Rendered struct {
	Subject  string   `json:"subject"`
	HTML     string   `json:"html"`
	Text     string   `json:"text"`
	SMS      string   `json:"sms"`
	WhatsApp string   `json:"whatsapp"`
	Params   []string `json:"whatsapp_params"`
	// SMSTemplateID and WhatsAppTemplate name the provider templates used.
	SMSTemplateID    string `json:"sms_template_id,omitempty"`
	WhatsAppTemplate string `json:"whatsapp_template,omitempty"`
}

// render fills tpl with data in t's branding.
func render(t *tenant.Tenant, tpl TemplateInput, data map[string]string) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = renderText(tpl.EmailSubject, data, false); err != nil {
		return r, err
	}
	body, err := renderHTML(tpl.EmailHTML, data, false)
	if err != nil {
		return r, err
	}
	name := t.Branding.DisplayName
	if name == "" {
		name = t.Name
	}
	color := t.Branding.PrimaryColor
	if !colorRe.MatchString(color) {
		color = "#1f2937"
	}
	logo := t.Branding.LogoURL
	if !strings.HasPrefix(logo, "https://") {
		logo = ""
	}
	var b bytes.Buffer
	if err := layout.Execute(&b, map[string]any{"Subject": r.Subject, "Name": name, "Color": htmltemplate.CSS(color),
		"Logo": logo, "Support": t.Branding.SupportEmail, "Body": body}); err != nil {
		return r, err
	}
	r.HTML = b.String()
	r.Text = htmlToText(string(body))
	if r.SMS, err = renderText(tpl.SMSText, data, false); err != nil {
		return r, err
	}
	if r.WhatsApp, err = renderText(tpl.WhatsAppText, data, false); err != nil {
		return r, err
	}
	for _, p := range tpl.WhatsAppParams {
		r.Params = append(r.Params, data[p])
	}
	r.SMSTemplateID, r.WhatsAppTemplate = tpl.SMSTemplateID, tpl.WhatsAppTemplate
	return r, nil
}

var tags = regexp.MustCompile(`<[^>]*>`)

// htmlToText is the email's plain-text part: the body without tags, entities decoded.
func htmlToText(h string) string {
	s := strings.NewReplacer("</p>", "\n\n", "<br>", "\n", "<br/>", "\n").Replace(h)
	s = tags.ReplaceAllString(s, "")
	s = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`).Replace(s)
	return strings.TrimSpace(s)
}

// dataOf is what a notification's templates are filled with.
func dataOf(t *tenant.Tenant, n Source, recipientName string) map[string]string {
	out := make(map[string]string, len(n.Data)+6)
	for k, v := range n.Data {
		out[k] = v
	}
	out["institution"] = t.Branding.DisplayName
	if out["institution"] == "" {
		out["institution"] = t.Name
	}
	out["recipient_name"] = recipientName
	out["subject"], out["body"] = n.Subject, n.Body
	if minor, err := strconv.ParseInt(n.Data["outstanding"], 10, 64); err == nil && n.Data["currency"] != "" {
		out["amount"] = money.Format(minor, n.Data["currency"])
	}
	return out
}

// templateFor returns the institution's template for kind and language, else the built-in one (English
// when the language has none).
func templateFor(ctx context.Context, db lungo.IDatabase, kind, lang string) (Template, error) {
	var t Template
	err := db.Collection(templatesCollection).FindOne(ctx, bson.M{"kind": kind, "language": lang}).Decode(&t)
	switch {
	case err == nil:
		return t, nil
	case !errors.Is(err, mongo.ErrNoDocuments):
		return t, err
	}
	byLang, ok := builtin[kind]
	if !ok {
		byLang = builtin[""]
	}
	in, ok := byLang[lang]
	if !ok {
		in = byLang["en"]
	}
	return Template{Kind: kind, Language: lang, TemplateInput: in, Default: true}, nil
}

// Template returns the template kind and language use now (the institution's, else the built-in one).
// Invalid for an unknown kind or language. Callers: notifications.read.
func (s *Service) Template(ctx context.Context, db lungo.IDatabase, kind, lang string) (Template, error) {
	if !validKind(kind) {
		return Template{}, apperr.Field("kind", apperr.FieldNotAllowed, "must be one of "+strings.Join(kindNames(), ", "))
	}
	if !validLanguage(lang) {
		return Template{}, apperr.Field("language", apperr.FieldNotAllowed, "must be en or hi")
	}
	return templateFor(ctx, db, kind, lang)
}

func kindNames() []string {
	return []string{KindAbsence, KindEscalation, KindReminder, KindFeeEscalation, KindVerification}
}

// SaveTemplate validates in and makes it the institution's template for kind and language. Invalid
// (naming the fields) when a text does not render or is too long. Callers: notifications.write.
func (s *Service) SaveTemplate(ctx context.Context, db lungo.IDatabase, kind, lang string, in TemplateInput) (Template, error) {
	if _, err := s.Template(ctx, db, kind, lang); err != nil {
		return Template{}, err
	}
	if err := in.validate(kind); err != nil {
		return Template{}, err
	}
	now := s.deps.Clock.Now()
	t := Template{ID: id.New(), Kind: kind, Language: lang, TemplateInput: in, UpdatedAt: now}
	_, err := db.Collection(templatesCollection).UpdateOne(ctx, bson.M{"kind": kind, "language": lang},
		bson.M{"$set": bson.M{"email_subject": in.EmailSubject, "email_html": in.EmailHTML, "sms_text": in.SMSText,
			"sms_template_id": in.SMSTemplateID, "whatsapp_template": in.WhatsAppTemplate, "whatsapp_text": in.WhatsAppText,
			"whatsapp_params": in.WhatsAppParams, "updated_at": now},
			"$setOnInsert": bson.M{"_id": t.ID}}, options.Update().SetUpsert(true))
	if err != nil {
		return Template{}, err
	}
	return templateFor(ctx, db, kind, lang)
}

// Preview renders in (validated first) with the kind's sample values in t's branding. Callers:
// notifications.read.
func (s *Service) Preview(t *tenant.Tenant, kind string, in TemplateInput) (Rendered, error) {
	if !validKind(kind) {
		return Rendered{}, apperr.Field("kind", apperr.FieldNotAllowed, "must be one of "+strings.Join(kindNames(), ", "))
	}
	if err := in.validate(kind); err != nil {
		return Rendered{}, err
	}
	data := sample(kind)
	data["institution"] = t.Branding.DisplayName
	if data["institution"] == "" {
		data["institution"] = t.Name
	}
	return render(t, in, data)
}
