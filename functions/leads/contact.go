package leads

import (
	"strings"

	"github.com/edugrid/edugrid/shared/account"
	"github.com/edugrid/edugrid/shared/apperr"
)

// callingCodes gives the country calling code assumed for a phone written without one, by the
// institution's currency: the tenant settings have no country, and the currency is where the institution
// bills, so it is where its enquiries phone from. A currency not listed assumes no code, and numbers are
// then compared as written.
var callingCodes = map[string]string{
	"INR": "91", "USD": "1", "CAD": "1", "GBP": "44", "AED": "971", "SGD": "65", "AUD": "61",
	"NPR": "977", "LKR": "94", "BDT": "880", "SAR": "966", "QAR": "974", "KWD": "965", "OMR": "968",
}

// nationalDigits is the most digits a number without a country code has (India, North America: 10).
const nationalDigits = 10

// NormalisePhone returns a phone as duplicate detection compares it: digits only, with a country calling
// code. "+91 98765-43210", "0091 9876543210", "098765 43210" and "9876543210" (for an institution billing
// in INR) are all "919876543210". A number written with + or 00 keeps its own code; a trunk 0 is dropped;
// a number of at most 10 digits gets the institution's code (callingCodes). Invalid names field unless
// the input is 6 to 15 digits with spaces, dashes, dots or brackets and an optional leading +.
func NormalisePhone(field, raw, currency string) (string, error) {
	var b strings.Builder
	plus := false
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", apperr.Field(field, apperr.FieldFormat, "must be a phone number")
		}
	}
	d := b.String()
	if len(d) < 6 || len(d) > 15 {
		return "", apperr.Field(field, apperr.FieldFormat, "must be a phone number of 6 to 15 digits")
	}
	switch {
	case plus:
		return d, nil
	case strings.HasPrefix(d, "00"):
		return d[2:], nil
	}
	d = strings.TrimLeft(d, "0")
	if len(d) <= nationalDigits {
		d = callingCodes[currency] + d
	}
	return d, nil
}

// NormaliseEmail returns an email as duplicate detection compares it: trimmed and lower-case. Invalid
// names field when it is not an address.
func NormaliseEmail(field, raw string) (string, error) {
	return account.NormalizeEmail(field, raw)
}
