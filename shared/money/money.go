// Package money does edugrid's arithmetic on amounts of money. An amount is an int64 count of the
// currency's minor units (paise, cents) and never a float; the currency is the tenant's ISO 4217 code.
// Every split of a total into parts rounds so the parts sum exactly to the total: no paisa appears or
// vanishes between a fee plan and its instalments.
package money

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Errors returned for inputs no split can honour.
var (
	ErrNegative = errors.New("money: amount must not be negative")
	ErrNoParts  = errors.New("money: at least one part is required")
	ErrWeights  = errors.New("money: weights must be non-negative and sum to more than zero")
)

// Split divides total into n parts that differ by at most one minor unit and sum to total; the earlier
// parts carry the remainder, so a first instalment is never the smallest.
func Split(total int64, n int) ([]int64, error) {
	if total < 0 {
		return nil, ErrNegative
	}
	if n < 1 {
		return nil, ErrNoParts
	}
	base, rem := total/int64(n), total%int64(n)
	out := make([]int64, n)
	for i := range out {
		out[i] = base
		if int64(i) < rem {
			out[i]++
		}
	}
	return out, nil
}

// Allocate divides total in proportion to weights (for example percentages in basis points) by the
// largest-remainder method: each part is its exact share rounded down, and the minor units left over go
// to the parts with the largest fractional remainders (earlier parts first on ties). The parts sum to
// total exactly, and each is within one minor unit of its exact share. Arithmetic is exact for any int64
// inputs.
func Allocate(total int64, weights []int64) ([]int64, error) {
	if total < 0 {
		return nil, ErrNegative
	}
	if len(weights) == 0 {
		return nil, ErrNoParts
	}
	sum := new(big.Int)
	for _, w := range weights {
		if w < 0 {
			return nil, ErrWeights
		}
		sum.Add(sum, big.NewInt(w))
	}
	if sum.Sign() == 0 {
		return nil, ErrWeights
	}
	out := make([]int64, len(weights))
	rems := make([]*big.Int, len(weights))
	var given int64
	bt := big.NewInt(total)
	for i, w := range weights {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(bt, big.NewInt(w)), sum, new(big.Int))
		out[i] = q.Int64() // q <= total, so it fits
		rems[i] = r
		given += out[i]
	}
	for left := total - given; left > 0; left-- {
		best := -1
		for i, r := range rems {
			if r.Sign() > 0 && (best < 0 || r.Cmp(rems[best]) > 0) {
				best = i
			}
		}
		out[best]++
		rems[best] = new(big.Int) // at most one extra unit per part
	}
	return out, nil
}

// PercentBP returns basisPoints/10000 of amount (12.5% = 1250), rounded half up, for concessions and
// percentage fees. It fails on a negative amount or a rate outside 0..10000.
func PercentBP(amount int64, basisPoints int64) (int64, error) {
	if amount < 0 {
		return 0, ErrNegative
	}
	if basisPoints < 0 || basisPoints > 10_000 {
		return 0, fmt.Errorf("money: rate %d basis points is outside 0..10000", basisPoints)
	}
	p := new(big.Int).Mul(big.NewInt(amount), big.NewInt(basisPoints))
	p.Add(p, big.NewInt(5_000))
	return p.Quo(p, big.NewInt(10_000)).Int64(), nil
}

// minorDigits lists currencies whose minor unit is not a hundredth.
var minorDigits = map[string]int{
	"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XAF": 0, "XOF": 0,
	"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "IQD": 3, "LYD": 3,
}

// Digits returns how many decimal digits currency's minor unit has (2 unless listed otherwise).
func Digits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// Format renders amount in currency for people: "INR 1234.50", "JPY 500", "-USD 3.07".
func Format(amount int64, currency string) string {
	d := Digits(currency)
	sign := ""
	u := uint64(amount)
	if amount < 0 {
		sign, u = "-", uint64(-(amount+1))+1
	}
	s := strconv.FormatUint(u, 10)
	if d > 0 {
		if len(s) <= d {
			s = strings.Repeat("0", d-len(s)+1) + s
		}
		s = s[:len(s)-d] + "." + s[len(s)-d:]
	}
	return sign + currency + " " + s
}
