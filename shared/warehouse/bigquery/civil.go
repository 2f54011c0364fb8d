package bigquery

import (
	"time"

	"cloud.google.com/go/civil"
)

func civilDate(y, m, d int) civil.Date { return civil.Date{Year: y, Month: time.Month(m), Day: d} }

// normalise gives query results the types the DuckDB engine gives: int64, float64, string, bool,
// time.Time (dates at midnight UTC).
func normalise(v any) any {
	switch x := v.(type) {
	case civil.Date:
		return time.Date(x.Year, x.Month, x.Day, 0, 0, 0, 0, time.UTC)
	case int:
		return int64(x)
	}
	return v
}
