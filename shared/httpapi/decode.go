package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edugrid/edugrid/shared/apperr"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// Validator is implemented by request types that check their own fields after decoding. Validate returns an
// *apperr.Error (code Invalid) describing the first problem.
type Validator interface {
	Validate() error
}

// Decode reads r's JSON body strictly into dst, a pointer to a typed struct: the content type must be JSON,
// unknown fields, trailing data and bodies over MaxBodyBytes are refused, and a value of the wrong JSON type
// (such as an operator object {"$ne": …} where a string belongs) is refused by the type itself. Because
// bodies only ever land in typed structs, client JSON can never become a database filter or update. If
// dst implements Validator, Validate runs last. Errors are *apperr.Error with codes Invalid, TooLarge or
// UnsupportedType.
func Decode(r *http.Request, dst any) error {
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
	if v, ok := dst.(Validator); ok {
		return v.Validate()
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooBig    *http.MaxBytesError
		invalidUM *json.InvalidUnmarshalError
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
		return apperr.InvalidField(typeErr.Field, fmt.Sprintf("must be a JSON %s", jsonKind(typeErr)))
	case errors.As(err, &invalidUM):
		panic(err) // a programming error: dst is not a pointer
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return apperr.InvalidField(strings.Trim(field, `"`), "unknown field")
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

// Text trims s and returns it, or an Invalid error naming field when it is empty or longer than max
// characters.
func Text(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > max {
		return "", apperr.InvalidField(field, fmt.Sprintf("must be 1 to %d characters", max))
	}
	return s, nil
}

// OptionalDate returns an Invalid error naming field unless s is empty or a date YYYY-MM-DD.
func OptionalDate(field, s string) error {
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return apperr.InvalidField(field, "must be a date YYYY-MM-DD")
	}
	return nil
}
