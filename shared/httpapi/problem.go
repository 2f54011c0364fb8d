package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/store"
)

// statusOf is the one place an application error code becomes an HTTP status.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:          http.StatusBadRequest,
	apperr.Unauthenticated:  http.StatusUnauthorized,
	apperr.Forbidden:        http.StatusForbidden,
	apperr.NotFound:         http.StatusNotFound,
	apperr.Conflict:         http.StatusConflict,
	apperr.TooLarge:         http.StatusRequestEntityTooLarge,
	apperr.UnsupportedType:  http.StatusUnsupportedMediaType,
	apperr.MethodNotAllowed: http.StatusMethodNotAllowed,
	apperr.RateLimited:      http.StatusTooManyRequests,
	apperr.Suspended:        http.StatusForbidden,
	apperr.Unavailable:      http.StatusServiceUnavailable,
	apperr.Internal:         http.StatusInternalServerError,
}

var titleOf = map[apperr.Code]string{
	apperr.Invalid:          "Invalid request",
	apperr.Unauthenticated:  "Authentication required",
	apperr.Forbidden:        "Forbidden",
	apperr.NotFound:         "Not found",
	apperr.Conflict:         "Conflict",
	apperr.TooLarge:         "Request body too large",
	apperr.UnsupportedType:  "Unsupported media type",
	apperr.MethodNotAllowed: "Method not allowed",
	apperr.RateLimited:      "Too many requests",
	apperr.Suspended:        "Institution suspended",
	apperr.Unavailable:      "Service unavailable",
	apperr.Internal:         "Internal error",
}

// StatusOf returns the HTTP status for an error code (500 for an unknown one).
func StatusOf(code apperr.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem document with edugrid's stable code. A 400 invalid lists every offending
// field in Errors, each with a stable apperr.FieldCode; Fields is the same as a map from field to
// message (and, on a 409, may name the object the request conflicts with).
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Code      apperr.Code         `json:"code"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []apperr.FieldError `json:"errors,omitempty"`
	Fields    map[string]string   `json:"fields,omitempty"`
}

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503: long enough for a held lock or a slow
// dependency to clear, short enough that a user retrying by hand does not notice.
const RetryAfterUnavailable = "2"

// ProblemType returns the problem type URI for a code.
func ProblemType(code apperr.Code) string { return "urn:edugrid:problem:" + string(code) }

// WriteError writes err as problem+json. An *apperr.Error shows its code and message; anything else is
// logged with its detail and shown only as "Internal error." so internals never reach the caller.
//
// A failure of a request whose deadline has passed, or a database timeout, is Unavailable (503 with
// Retry-After): the service is overloaded or a dependency is slow, and the same request may well succeed
// shortly. This is the one place timeouts become a status.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeAuthError(w, r, err, false)
}

// writeAuthError is WriteError for a failed authentication: tokenRejected says a bearer token was
// presented, so a 401 challenges it as invalid.
func writeAuthError(w http.ResponseWriter, r *http.Request, err error, tokenRejected bool) {
	ae := apperr.As(err)
	if ae == nil && (errors.Is(r.Context().Err(), context.DeadlineExceeded) || store.IsTimeout(err)) {
		ae = apperr.Errorf(apperr.Unavailable, "The service took too long to answer; please try again shortly.")
	}
	if ae == nil {
		Logger(r.Context()).Error("request failed", slog.String("error", err.Error()))
		ae = &apperr.Error{Code: apperr.Internal, Message: "Internal error."}
	}
	status := StatusOf(ae.Code)
	if status >= 500 && ae.Code != apperr.Internal {
		Logger(r.Context()).Warn("request unavailable", slog.String("error", err.Error()))
	}
	writeProblem(w, r, status, ae, tokenRejected)
}

// BearerToken returns the token of an "Authorization: Bearer …" header, or "".
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// writeProblem writes ae as problem+json. tokenRejected says that a bearer token came with the request
// and authentication refused it, which the WWW-Authenticate challenge of a 401 then says (RFC 6750):
// a client drops that token and signs in again, while a plain challenge only asks for credentials.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, ae *apperr.Error, tokenRejected bool) {
	instance, _ := r.Context().Value(requestPathKey{}).(string)
	if instance == "" {
		instance = r.URL.Path
	}
	p := Problem{
		Type:      ProblemType(ae.Code),
		Title:     titleOf[ae.Code],
		Status:    status,
		Detail:    ae.Message,
		Code:      ae.Code,
		Instance:  instance,
		RequestID: RequestID(r.Context()),
		Errors:    fieldErrors(ae),
		Fields:    ae.Fields,
	}
	if p.Title == "" {
		p.Title = http.StatusText(status)
	}
	switch ae.Code {
	case apperr.Unauthenticated:
		w.Header().Set("WWW-Authenticate", bearerChallenge(ae.Message, tokenRejected))
	case apperr.RateLimited:
		w.Header().Set("Retry-After", "60")
	case apperr.Unavailable:
		w.Header().Set("Retry-After", RetryAfterUnavailable)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// fieldErrors is the errors list of ae's problem document: its own list, or for an Invalid error built
// with a bare Fields map, one entry per field (code invalid) in field order.
func fieldErrors(ae *apperr.Error) []apperr.FieldError {
	if len(ae.Errors) > 0 || ae.Code != apperr.Invalid || len(ae.Fields) == 0 {
		return ae.Errors
	}
	out := make([]apperr.FieldError, 0, len(ae.Fields))
	for f, m := range ae.Fields {
		out = append(out, apperr.FieldError{Field: f, Code: apperr.FieldInvalid, Message: m})
	}
	slices.SortFunc(out, func(a, b apperr.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// bearerChallenge is the WWW-Authenticate value of a 401 (RFC 6750, section 3).
func bearerChallenge(message string, tokenRejected bool) string {
	if !tokenRejected {
		return `Bearer realm="edugrid"`
	}
	// error_description allows printable ASCII except '"' and '\'; messages are plain sentences.
	desc := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return ' '
		}
		return r
	}, message)
	return `Bearer realm="edugrid", error="invalid_token", error_description="` + desc + `"`
}
