package relay

import (
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Both engines' resume tokens give a position that orders events of one cluster time; a token of
// neither shape gives none rather than a wrong one.
func TestPositionFromToken(t *testing.T) {
	raw := func(v any) bson.Raw {
		t.Helper()
		b, err := bson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name  string
		token bson.Raw
		want  string
	}{
		{"mongodb", raw(bson.M{"_data": "826A1B2C3D000000072B022C0100296E5A1004"}), "826A1B2C3D000000072B022C0100296E5A1004"},
		{"mongodb lower case", raw(bson.M{"_data": "826a1b2c3d00000007"}), "826A1B2C3D00000007"},
		{"lungo", raw(bson.M{"ts": primitive.Timestamp{T: 0x6a1b2c3d, I: 7}}), "826A1B2C3D00000007"},
		{"not hex", raw(bson.M{"_data": "82zz"}), ""},
		{"odd length", raw(bson.M{"_data": "826"}), ""},
		{"binary (MongoDB 3.6)", raw(bson.M{"_data": primitive.Binary{Data: []byte{1}}}), ""},
		{"unknown", raw(bson.M{"other": 1}), ""},
	} {
		if got := position(c.token); got != c.want {
			t.Errorf("%s: position = %q, want %q", c.name, got, c.want)
		}
	}
	// Within one transaction's cluster time, a later write's token sorts after an earlier one's.
	first := position(raw(bson.M{"_data": "826A1B2C3D000000072B0229296E5A1004"}))
	second := position(raw(bson.M{"_data": "826A1B2C3D000000072B022B296E5A1004"}))
	if !(first < second) {
		t.Fatalf("positions %s and %s out of order", first, second)
	}
}
