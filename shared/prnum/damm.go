package prnum

import "github.com/edugrid/edugrid/shared/apperr"

// dammTable is the standard totally anti-symmetric quasigroup of order 10 from H. Michael Damm's 2004
// thesis. Its zero diagonal is what lets the check digit be verified by running the same fold over the
// whole number and expecting 0; its weak total anti-symmetry is what catches adjacent transpositions.
var dammTable = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// damm folds ASCII digits through the quasigroup; callers have checked that every byte is a digit.
func damm(digits []byte) byte {
	var interim byte
	for _, c := range digits {
		interim = dammTable[interim][c-'0']
	}
	return interim
}

// CheckDigit returns the Damm check digit of digits as a number 0..9 (not an ASCII character): appending
// it makes the Damm fold of the whole string 0. For example CheckDigit("572") is 4.
//
// digits must be one or more ASCII digits '0'..'9' with no separators; otherwise CheckDigit returns an
// *apperr.Error with code Invalid on field "digits".
func CheckDigit(digits string) (byte, error) {
	if digits == "" {
		return 0, apperr.Field("digits", apperr.FieldRequired, "must not be empty")
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, apperr.Field("digits", apperr.FieldFormat, "must contain only the digits 0-9")
		}
	}
	return damm([]byte(digits)), nil
}
