package relay

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Both engines' resume tokens, of events and post-batch positions alike, tell the cluster time they
// stand for; anything else tells none rather than a wrong one.
func TestTokenTime(t *testing.T) {
	raw := func(v any) bson.Raw {
		t.Helper()
		b, err := bson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	at := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	secs := uint32(at.Unix())
	for _, c := range []struct {
		name   string
		token  bson.Raw
		want   time.Time
		wantOK bool
	}{
		{"MongoDB event", raw(bson.M{"_data": "82" + hex8(secs) + "00000001" + "2B042C0100296E5A1004"}), at, true},
		{"MongoDB post-batch, lower case", raw(bson.M{"_data": "82" + lower(hex8(secs)) + "00000007" + "0000296E5A1004"}), at, true},
		{"embedded engine", raw(bson.M{"ts": primitive.Timestamp{T: secs, I: 3}}), at, true},
		{"not a KeyString timestamp", raw(bson.M{"_data": "83" + hex8(secs) + "00000001"}), time.Time{}, false},
		{"too short", raw(bson.M{"_data": "82AB"}), time.Time{}, false},
		{"not hex", raw(bson.M{"_data": "82ZZZZZZZZ00000001"}), time.Time{}, false},
		{"no token", nil, time.Time{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := tokenTime(c.token)
			if ok != c.wantOK || !got.Equal(c.want) {
				t.Fatalf("tokenTime = %v, %v; want %v, %v", got, ok, c.want, c.wantOK)
			}
		})
	}
}

func hex8(v uint32) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
	return string(b)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
