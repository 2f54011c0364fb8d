package fees_test

import (
	"encoding/json"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/edugrid/edugrid/functions/fees"
)

// The typed statuses, methods and kinds are stored and served as the plain strings they always were.
func TestTypedValuesSerialiseAsStrings(t *testing.T) {
	for _, tt := range []struct {
		name  string
		doc   any
		field string
		want  string
	}{
		{"instalment status", fees.Instalment{Status: fees.InstalmentSettled}, "status", "settled"},
		{"payment method", fees.Payment{Method: fees.MethodBankTransfer}, "method", "bank_transfer"},
		{"refund method", fees.Refund{Method: fees.MethodOnline}, "method", "online"},
		{"concession kind", fees.Concession{Kind: fees.ConcessionPercent}, "kind", "percent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := bson.Marshal(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := bson.Raw(raw).Lookup(tt.field).StringValueOK(); !ok || v != tt.want {
				t.Errorf("BSON %s = %v, want the string %q", tt.field, bson.Raw(raw).Lookup(tt.field), tt.want)
			}
			js, err := json.Marshal(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(js, &m); err != nil {
				t.Fatal(err)
			}
			if m[tt.field] != tt.want {
				t.Errorf("JSON %s = %#v, want the string %q", tt.field, m[tt.field], tt.want)
			}
		})
	}
}
