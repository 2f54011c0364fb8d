package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/id"
	"github.com/edugrid/edugrid/shared/text"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// Validator is implemented by request types that check their own fields after decoding. Validate returns an
// *apperr.Error (code Invalid) listing every bad field (collect them with apperr.Problems).
type Validator interface {
	Validate() error
}

// Decode reads r's JSON body strictly into dst, a pointer to a typed struct: the content type must be JSON;
// unknown fields, trailing data, bodies over MaxBodyBytes, NUL characters and text another parser could
// read differently (duplicate keys, invalid UTF-8, lone surrogates) are refused; and a value of the wrong
// JSON type (such as an operator object {"$ne": …} where a string belongs) is refused by the type itself. Because
// bodies only ever land in typed structs, client JSON can never become a database filter or update. If
// dst implements Validator, Validate runs last. Errors are *apperr.Error with codes Invalid, TooLarge or
// UnsupportedType.
func Decode(r *http.Request, dst any) error {
	if err := DecodeOnly(r, dst); err != nil {
		return err
	}
	if v, ok := dst.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// DecodeOnly reads r's body into dst as strictly as Decode does, without running Validate: for handlers
// whose service method validates its input itself, so the request is checked once.
func DecodeOnly(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.Errorf(apperr.UnsupportedType, "the request body must be application/json")
		}
	}
	body := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	// A bare null would decode into the zero struct without a word; a body must be an object.
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return decodeError(err)
	}
	if t := bytes.TrimSpace(first); len(t) == 0 || t[0] != '{' {
		return apperr.Errorf(apperr.Invalid, "the request body must be a JSON object")
	}
	if err := checkJSONText(first); err != nil {
		return err
	}
	inner := json.NewDecoder(bytes.NewReader(first))
	inner.DisallowUnknownFields()
	if err := inner.Decode(dst); err != nil {
		return decodeError(err)
	}
	// Anything after the first value, even another valid value, is refused: "{} {}" is not one request.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err)
		}
		return apperr.Errorf(apperr.Invalid, "the request body must hold a single JSON value")
	}
	return nil
}

// CheckJSON checks a body its handler reads raw (a signed webhook: the signature covers these exact bytes)
// as strictly as DecodeOnly checks one, without decoding it into a type: a JSON content type when one is
// given, a single JSON object, and text every parser reads alike (checkJSONText). Errors are
// *apperr.Error with codes Invalid or UnsupportedType.
func CheckJSON(contentType string, raw []byte) error {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return apperr.Errorf(apperr.UnsupportedType, "the request body must be application/json")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var first json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return decodeError(err)
	}
	if t := bytes.TrimSpace(first); len(t) == 0 || t[0] != '{' {
		return apperr.Errorf(apperr.Invalid, "the request body must be a JSON object")
	}
	if err := checkJSONText(first); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.Errorf(apperr.Invalid, "the request body must hold a single JSON value")
	}
	return nil
}

// checkJSONText refuses what encoding/json would accept silently but read differently from other parsers
// (a proxy, a log pipeline, the frontend's own validation): invalid UTF-8 and lone UTF-16 surrogate
// escapes, which it turns into U+FFFD, an object naming a key twice, where it keeps the last value and
// matches keys without regard to letter case ({"name":"a","NAME":"b"}), and NUL characters. raw is one
// syntactically valid JSON value.
func checkJSONText(raw []byte) error {
	if !utf8.Valid(raw) {
		return apperr.Errorf(apperr.Invalid, "the request body is not valid UTF-8")
	}
	type object struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*object // nil entries are arrays
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '{':
			stack = append(stack, &object{keys: map[string]bool{}, wantKey: true})
		case '[':
			stack = append(stack, nil)
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := stack[len(stack)-1]; top != nil {
				top.wantKey = true
			}
		case '"':
			end, ok := scanString(raw, i)
			if !ok {
				return apperr.Errorf(apperr.Invalid, "the request body holds a NUL character or an unpaired UTF-16 surrogate escape")
			}
			if top := stack[len(stack)-1]; top != nil && top.wantKey {
				top.wantKey = false
				var key string
				_ = json.Unmarshal(raw[i:end], &key) // valid JSON string, checked above
				folded := strings.ToLower(strings.ToUpper(key))
				if top.keys[folded] {
					if len(key) > 64 {
						return apperr.Errorf(apperr.Invalid, "an object in the request body names a key twice")
					}
					return apperr.Field(key, apperr.FieldDuplicate, "appears twice (keys are matched regardless of letter case)")
				}
				top.keys[folded] = true
			}
			i = end
			continue
		}
		i++
	}
	return nil
}

// scanString returns the index just after the JSON string starting at raw[i] (a quote), and false when the
// string escapes a UTF-16 surrogate that is not part of a high-low pair, or a NUL: no field of this API
// means to hold one, and tools downstream that treat text as C strings would cut the value short there.
func scanString(raw []byte, i int) (int, bool) {
	j := i + 1
	for raw[j] != '"' {
		if raw[j] != '\\' {
			j++
			continue
		}
		if raw[j+1] != 'u' {
			j += 2
			continue
		}
		r := hex4(raw[j+2 : j+6])
		switch {
		case r == 0, r >= 0xDC00 && r <= 0xDFFF:
			return 0, false
		case r >= 0xD800 && r <= 0xDBFF:
			if j+12 > len(raw) || raw[j+6] != '\\' || raw[j+7] != 'u' {
				return 0, false
			}
			if lo := hex4(raw[j+8 : j+12]); lo < 0xDC00 || lo > 0xDFFF {
				return 0, false
			}
			j += 12
		default:
			j += 6
		}
	}
	return j + 1, true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}

func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooBig    *http.MaxBytesError
		invalidUM *json.InvalidUnmarshalError
		badTime   *time.ParseError
	)
	switch {
	case errors.Is(err, io.EOF):
		return apperr.Errorf(apperr.Invalid, "the request body is empty; a JSON object is required")
	case errors.As(err, &tooBig):
		return apperr.Errorf(apperr.TooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
	case errors.As(err, &syntax):
		return apperr.Errorf(apperr.Invalid, "malformed JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Errorf(apperr.Invalid, "malformed JSON: the body ends too early")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return apperr.Errorf(apperr.Invalid, "the request body must be a JSON %s", jsonKind(typeErr))
		}
		return apperr.Field(typeErr.Field, apperr.FieldType, fmt.Sprintf("must be a JSON %s", jsonKind(typeErr)))
	case errors.As(err, &invalidUM):
		panic(err) // a programming error: dst is not a pointer
	case errors.As(err, &badTime):
		// encoding/json does not say which field a time came from, and the value is not echoed back.
		return apperr.Errorf(apperr.Invalid, "a date-time value is not RFC 3339: write it as 2026-06-01T09:30:00+05:30")
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return apperr.Field(strings.Trim(field, `"`), apperr.FieldUnknown, "unknown field")
	}
	return apperr.Errorf(apperr.Invalid, "the request body is not valid JSON")
}

func jsonKind(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "number"
	}
	return "value of another type"
}

// Reply is the tail of a handler that calls its service and answers with the result: it returns err when
// there is one (the Area maps it to a problem+json answer) and otherwise writes v as JSON with status.
func Reply(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	JSON(w, status, v)
	return nil
}

// JSON writes v as a JSON response with status.
func JSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		// Every response type is a plain struct; failing here is a programming error.
		panic(fmt.Sprintf("encode response: %v", err))
	}
	w.Header().Set("Content-Type", "application/json")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Text is the rule of a required text field of a request (text.Field): s trimmed, or an Invalid error
// naming field when it is empty, longer than max characters, or holds control or bidi override characters.
func Text(field, s string, max int) (string, error) { return text.Field(field, s, max) }

// OptionalText is Text for a field that may be left out (text.Optional): "" when s is empty or only spaces.
func OptionalText(field, s string, max int) (string, error) { return text.Optional(field, s, max) }

// OptionalDate returns an Invalid error naming field unless s is empty or a date YYYY-MM-DD.
func OptionalDate(field, s string) error {
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return apperr.Field(field, apperr.FieldFormat, "must be a date YYYY-MM-DD")
	}
	return nil
}

// CheckPattern records in bad that field is missing (required) or does not match pattern (format) unless
// v matches it. message says what the field must be.
func CheckPattern(bad *apperr.Problems, field, v string, pattern *regexp.Regexp, message string) {
	switch {
	case v == "":
		bad.Add(field, apperr.FieldRequired, message)
	case !pattern.MatchString(v):
		bad.Add(field, apperr.FieldFormat, message)
	}
}

// CheckID records in bad that field is missing (required) or is not an id (format) unless v is an id.
// message says what the field must be ("must be a student id").
func CheckID(bad *apperr.Problems, field, v, message string) {
	switch {
	case v == "":
		bad.Add(field, apperr.FieldRequired, message)
	case !id.Valid(v):
		bad.Add(field, apperr.FieldFormat, message)
	}
}
