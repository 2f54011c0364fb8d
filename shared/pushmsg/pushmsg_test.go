package pushmsg_test

import (
	"testing"

	"github.com/edugrid/edugrid/shared/pushmsg"
)

func TestDecode(t *testing.T) {
	env, err := pushmsg.Decode([]byte(`{"message":{"data":"eyJhIjoxfQ==","attributes":{"kind":"x"},"messageId":"42"},"subscription":"projects/p/subscriptions/s"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(env.Message.Data) != `{"a":1}` || env.Message.Attributes["kind"] != "x" || env.Message.ID != "42" || env.Subscription != "projects/p/subscriptions/s" {
		t.Errorf("decoded %+v", env)
	}
	for _, bad := range []string{"", "{", `{"message":{"data":"not base64!"}}`, `[]`} {
		if _, err := pushmsg.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) accepted it", bad)
		}
	}
}
