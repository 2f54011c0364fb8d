package exams

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/edugrid/edugrid/shared/apperr"
	"github.com/edugrid/edugrid/shared/audit"
	"github.com/edugrid/edugrid/shared/httpapi"
	"github.com/edugrid/edugrid/shared/rbac"
	"github.com/edugrid/edugrid/shared/store"
)

// MaxBands bounds a grading scale.
const MaxBands = 20

// ScaleDocumentID is the _id of the one grading scale document in gradingCollection.
const ScaleDocumentID = "scale"

// Band is one grade of a scale: a percentage of MinPercent or more (up to the next band's minimum) earns
// Grade.
type Band struct {
	Grade string `json:"grade"`
	// MinPercent is 0..100 with at most two decimals.
	MinPercent float64 `json:"min_percent"`
}

// Scale maps percentages to grades: its bands run from the highest minimum down to a band starting at 0, so
// every percentage from 0 to 100 has exactly one grade.
type Scale struct {
	Bands []Band `json:"bands"`
	// Default is true when the institution has set no scale of its own and DefaultScale applies.
	Default   bool       `json:"default"`
	UpdatedBy string     `json:"updated_by,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Example implements httpapi.Exampler: the default scale's bands, as set by an owner.
func (Scale) Example() any {
	s := DefaultScale()
	at := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	s.Default, s.UpdatedBy, s.UpdatedAt = false, "6650f1c2a9e4b0a1b2c3d4e5", &at
	return s
}

// DefaultScale is the grading scale of an institution that has not set one.
func DefaultScale() Scale {
	return Scale{Default: true, Bands: []Band{
		{"A+", 90}, {"A", 80}, {"B+", 70}, {"B", 60}, {"C", 50}, {"D", 40}, {"F", 0},
	}}
}

// storedScale is the grading scale document. Minimums are kept in basis points (hundredths of a percent),
// the unit the report card compares in.
type storedScale struct {
	ID        string       `bson:"_id"`
	Bands     []storedBand `bson:"bands"`
	UpdatedBy string       `bson:"updated_by"`
	UpdatedAt time.Time    `bson:"updated_at"`
}

type storedBand struct {
	Grade string `bson:"grade"`
	MinBP int64  `bson:"min_bp"`
}

// ScaleInput sets the grading scale.
type ScaleInput struct {
	Bands []Band `json:"bands"`
}

// Example implements httpapi.Exampler: the default scale's bands, which end at 0 as every scale must.
func (ScaleInput) Example() any { return ScaleInput{Bands: DefaultScale().Bands} }

// Validate implements httpapi.Validator: 1 to MaxBands bands with distinct grades of 1 to 20 characters,
// minimums from 0 to 100 with at most two decimals, strictly descending (so no two bands overlap), the last
// one 0 (so the scale covers 0 to 100).
func (in ScaleInput) Validate() error {
	if len(in.Bands) == 0 || len(in.Bands) > MaxBands {
		code := apperr.FieldTooLong
		if len(in.Bands) == 0 {
			code = apperr.FieldRequired
		}
		return apperr.Field("bands", code, fmt.Sprintf("must list 1 to %d bands", MaxBands))
	}
	var bad apperr.Problems
	seen := map[string]bool{}
	var prev int64
	for i := range in.Bands {
		b := &in.Bands[i]
		field := fmt.Sprintf("bands[%d]", i)
		if v, err := httpapi.Text(field+".grade", b.Grade, 20); bad.Check(err) {
			b.Grade = v
			if seen[b.Grade] {
				bad.Add(field+".grade", apperr.FieldDuplicate, "names a grade a second time")
			}
			seen[b.Grade] = true
		}
		bp, ok := hundredths(b.MinPercent)
		switch {
		case !ok || bp < 0 || bp > 100_00:
			bad.Add(field+".min_percent", apperr.FieldOutOfRange, "must be 0 to 100, with at most two decimals")
			continue // the order below needs a good minimum
		case i > 0 && bp >= prev:
			bad.Add(field+".min_percent", apperr.FieldOutOfRange, "must be below the band before it: bands run from the highest minimum down")
		}
		prev = bp
	}
	if last := fmt.Sprintf("bands[%d].min_percent", len(in.Bands)-1); prev != 0 && !bad.Has(last) {
		bad.Add(last, apperr.FieldOutOfRange, "must be 0: the last band starts at 0, so every percentage has a grade")
	}
	return bad.Err()
}

// grade returns the grade of a percentage in basis points: the first band whose minimum it reaches.
func (sc Scale) grade(bp int64) string {
	for _, b := range sc.Bands {
		if floor, _ := hundredths(b.MinPercent); bp >= floor {
			return b.Grade
		}
	}
	return "" // unreachable for a validated scale, whose last band starts at 0
}

// loadScale returns the institution's grading scale, or DefaultScale when it has set none.
func loadScale(ctx context.Context) (Scale, error) {
	var st storedScale
	err := store.Database(ctx).Collection(gradingCollection).FindOne(ctx, bson.M{"_id": ScaleDocumentID}).Decode(&st)
	if store.IsNotFound(err) {
		return DefaultScale(), nil
	}
	if err != nil {
		return Scale{}, fmt.Errorf("grading scale: %w", err)
	}
	return st.scale(), nil
}

func (st storedScale) scale() Scale {
	at := st.UpdatedAt
	sc := Scale{Bands: make([]Band, len(st.Bands)), UpdatedBy: st.UpdatedBy, UpdatedAt: &at}
	for i, b := range st.Bands {
		sc.Bands[i] = Band{Grade: b.Grade, MinPercent: fromHundredths(b.MinBP)}
	}
	return sc
}

// GradingScale returns the institution's grading scale (DefaultScale when it has set none). Every caller
// with reportcards.read may read it: grades mean nothing without it.
func (s *Service) GradingScale(ctx context.Context) (Scale, error) {
	return loadScale(ctx)
}

// SetGradingScale replaces the institution's grading scale (owners: grading.write) and records the change,
// with the scale before and after, in the audit log in the same transaction. Invalid as ScaleInput.Validate
// says. Report cards use the new scale from then on; nothing stored holds a grade, so none goes stale.
func (s *Service) SetGradingScale(ctx context.Context, in ScaleInput) (Scale, error) {
	if err := in.Validate(); err != nil {
		return Scale{}, err
	}
	db := store.Database(ctx)
	now := s.deps.Clock.Now().UTC().Truncate(time.Millisecond)
	var out Scale
	err := store.Tx(ctx, db, func(tc context.Context) error {
		before, err := loadScale(tc)
		if err != nil {
			return err
		}
		st := storedScale{ID: ScaleDocumentID, Bands: make([]storedBand, len(in.Bands)), UpdatedBy: rbac.Must(tc).Subject, UpdatedAt: now}
		for i, b := range in.Bands {
			bp, _ := hundredths(b.MinPercent)
			st.Bands[i] = storedBand{Grade: b.Grade, MinBP: bp}
		}
		if _, err := db.Collection(gradingCollection).ReplaceOne(tc, bson.M{"_id": ScaleDocumentID}, st, options.Replace().SetUpsert(true)); err != nil {
			return fmt.Errorf("set grading scale: %w", err)
		}
		out = st.scale()
		return s.deps.Audit.Record(tc, store.Database(tc), audit.By(rbac.Must(tc)), "exams.grading_scale.changed", audit.Target{Kind: "grading_scale", ID: ScaleDocumentID},
			map[string]any{"before": before, "after": out.Bands})
	})
	if err != nil {
		return Scale{}, err
	}
	return out, nil
}
