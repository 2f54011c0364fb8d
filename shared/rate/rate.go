// Package rate is edugrid's one representation of a rate: a share between 0 and 1 (attendance, completion,
// drop-off), rounded to four decimal places (0.8333 for 5 of 6), so that the same counts read the same in
// every area and report.
package rate

import "math"

// Places is how many decimal places a rate keeps.
const Places = 4

// Of returns n/d rounded to Places decimal places, or nil when d is 0 (nothing counts, so there is no
// rate, which is not the same as a rate of 0).
func Of(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	r := Round(float64(n) / float64(d))
	return &r
}

// Round rounds a rate to Places decimal places, halves away from zero.
func Round(r float64) float64 {
	const scale = 10000 // 10^Places
	return math.Round(r*scale) / scale
}
