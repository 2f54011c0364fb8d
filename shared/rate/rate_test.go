package rate

import "testing"

func TestOf(t *testing.T) {
	tests := []struct {
		n, d int64
		want *float64
	}{
		{0, 0, nil},
		{5, 0, nil},
		{0, 4, ptr(0)},
		{4, 4, ptr(1)},
		{5, 6, ptr(0.8333)},
		{1, 3, ptr(0.3333)},
		{2, 3, ptr(0.6667)},
		{1, 8, ptr(0.125)},
		{1, 20000, ptr(0.0001)}, // 0.00005 rounds half away from zero
		{1, 30000, ptr(0)},
	}
	for _, tt := range tests {
		got := Of(tt.n, tt.d)
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("Of(%d, %d) = %v, want %v", tt.n, tt.d, show(got), show(tt.want))
		}
	}
}

func ptr(f float64) *float64 { return &f }

func show(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
