// Package prnum issues and reads edugrid's person registration numbers.
//
// A PRN is 14 decimal digits, shown grouped on ID cards as TTTT-R-YY-SSSSSS-C:
//
//	TTTT    tenant number, 0001..9999
//	R       role code: 1 owner, 2 branch admin, 3 teacher, 4 accountant, 5 counsellor, 8 guardian,
//	        9 student (0, 6 and 7 are never issued)
//	YY      year of issue modulo 100
//	SSSSSS  sequence within (tenant, role, year), 000001..999999
//	C       Damm check digit over the first 13 digits
//
// The tenant sits in the first four digits so that a login can be routed to its tenant's database with a
// string operation, before any lookup. The Damm check digit catches every single mistyped digit and every
// swap of two adjacent digits, so a typo is refused locally instead of becoming a failed login against
// somebody else's account. Students log in with PRN and password.
//
// (The directory is prnum, not prn: PRN is a reserved device name on Windows and the go command refuses it
// as an import path element on every system.)
package prnum

import (
	"fmt"

	"github.com/edugrid/edugrid/shared/apperr"
)

// length is the number of digits in a PRN, without separators.
const length = 14

// maxInputLen bounds what Parse will look at, so that a hostile multi-megabyte "PRN" is rejected without
// being scanned. It is generous enough for any sensible use of separators.
const maxInputLen = 64

// Limits of the PRN parts.
const (
	maxTenant = 9999
	maxSeq    = 999999
)

// PRN is a person registration number in its canonical form: exactly 14 ASCII digits, no separators.
// Values obtained from New, Parse or Allocate are always valid; the accessor methods return zero values
// for a malformed PRN built by conversion rather than panicking.
type PRN string

// Role is the role code embedded in a PRN. Codes 0, 6 and 7 are not roles.
type Role int

// The role codes a PRN may carry. The values are part of every issued PRN; never renumber them.
const (
	Owner       Role = 1
	BranchAdmin Role = 2
	Teacher     Role = 3
	Accountant  Role = 4
	Counsellor  Role = 5
	Guardian    Role = 8
	Student     Role = 9
)

// Valid reports whether r is one of the defined role codes.
func (r Role) Valid() bool {
	switch r {
	case Owner, BranchAdmin, Teacher, Accountant, Counsellor, Guardian, Student:
		return true
	}
	return false
}

// New builds the PRN for the given parts and computes its check digit.
//
// tenant must be 1..9999, role a valid Role, seq 1..999999. year is either a two-digit year 0..99 or a
// four-digit year 1000..9999, of which only year mod 100 is kept (2026 becomes 26). Any other value gives an
// *apperr.Error with code Invalid naming the offending field ("tenant", "role", "year" or "seq").
func New(tenant int, role Role, year int, seq int) (PRN, error) {
	yy, err := checkParts(tenant, role, year)
	if err != nil {
		return "", err
	}
	if seq < 1 || seq > maxSeq {
		return "", apperr.Field("seq", apperr.FieldOutOfRange, fmt.Sprintf("must be 1..%d, got %d", maxSeq, seq))
	}
	body := fmt.Sprintf("%04d%d%02d%06d", tenant, role, yy, seq)
	// body is all digits by construction, so CheckDigit cannot fail here.
	c, _ := CheckDigit(body)
	return PRN(body + string('0'+c)), nil
}

// checkParts validates the parts shared by New and Allocate and returns the two-digit year. Allocate
// checks them before touching the database so that bad input never burns a sequence number.
func checkParts(tenant int, role Role, year int) (int, error) {
	if tenant < 1 || tenant > maxTenant {
		return 0, apperr.Field("tenant", apperr.FieldOutOfRange, fmt.Sprintf("must be 1..%d, got %d", maxTenant, tenant))
	}
	if !role.Valid() {
		return 0, apperr.Field("role", apperr.FieldNotAllowed, fmt.Sprintf("%d is not a role code", int(role)))
	}
	// Three-digit years are refused because they are almost certainly a bug, not a calendar year.
	if !(year >= 0 && year <= 99) && !(year >= 1000 && year <= 9999) {
		return 0, apperr.Field("year", apperr.FieldOutOfRange, fmt.Sprintf("must be 0..99 or a four-digit year, got %d", year))
	}
	return year % 100, nil
}

// Parse reads a PRN as a human typed it. Spaces and hyphens anywhere are ignored, so "0001-9-26-000123-4"
// and "0001 9 26 000123 4" parse like "00019260001234". The result is in canonical form.
//
// Every failure is an *apperr.Error with code Invalid on field "prn", with a distinct message for each
// class: not 14 digits, check digit mismatch, tenant 0000, a role code that is not a role, sequence
// 000000. The check digit is verified before the parts, so a typo is reported as a typo rather than as
// whatever invalid part it happened to produce. Parse never panics.
func Parse(s string) (PRN, error) {
	if len(s) > maxInputLen {
		return "", errFormat
	}
	var buf [length]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case c < '0' || c > '9':
			return "", errFormat
		case n == length:
			return "", errFormat
		}
		buf[n] = c
		n++
	}
	if n != length {
		return "", errFormat
	}
	p := PRN(buf[:])
	// Running Damm over all 14 digits yields 0 exactly when the last digit is the check digit of the rest.
	if damm(buf[:]) != 0 {
		return "", apperr.Field("prn", apperr.FieldFormat, "check digit does not match: mistyped PRN?")
	}
	if p.Tenant() == 0 {
		return "", apperr.Field("prn", apperr.FieldOutOfRange, "tenant number 0000 does not exist")
	}
	if !p.Role().Valid() {
		return "", apperr.Field("prn", apperr.FieldNotAllowed, fmt.Sprintf("role code %d is not a role", int(p.Role())))
	}
	if p.Seq() == 0 {
		return "", apperr.Field("prn", apperr.FieldOutOfRange, "sequence number 000000 is never issued")
	}
	return p, nil
}

var errFormat = apperr.Field("prn", apperr.FieldFormat, fmt.Sprintf("must be %d digits, optionally grouped with spaces or hyphens", length))

// Tenant returns the tenant number (the first four digits), or 0 if p is malformed.
func (p PRN) Tenant() int { return p.num(0, 4) }

// Role returns the role code (the fifth digit), or 0 if p is malformed. The code is returned as found;
// only PRNs from New, Parse or Allocate are guaranteed to carry a valid one.
func (p PRN) Role() Role { return Role(p.num(4, 5)) }

// Year returns the two-digit year of issue, 0..99, or 0 if p is malformed.
func (p PRN) Year() int { return p.num(5, 7) }

// Seq returns the sequence number, or 0 if p is malformed.
func (p PRN) Seq() int { return p.num(7, 13) }

// String returns the canonical 14-digit form, the one to store and compare.
func (p PRN) String() string { return string(p) }

// Display returns the grouped form printed on ID cards, e.g. "0001-9-26-000123-4". Parse accepts it back.
// A malformed p is returned unchanged.
func (p PRN) Display() string {
	if !p.wellFormed() {
		return string(p)
	}
	s := string(p)
	return s[0:4] + "-" + s[4:5] + "-" + s[5:7] + "-" + s[7:13] + "-" + s[13:14]
}

// num decodes digits [i, j) of p. It guards against malformed values because PRN is a plain string type
// and the accessors must not panic on, say, PRN("") read from an old document.
func (p PRN) num(i, j int) int {
	if !p.wellFormed() {
		return 0
	}
	v := 0
	for k := i; k < j; k++ {
		v = v*10 + int(p[k]-'0')
	}
	return v
}

func (p PRN) wellFormed() bool {
	if len(p) != length {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}
