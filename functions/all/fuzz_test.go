package all_test

import (
	"net/http"
	"testing"
)

// FuzzWriteRoutes sends fuzzed JSON bodies to every route that takes one (every area in the route tables,
// found anew each run), with a token that may call the route and path parameters naming the demo
// institution's objects. Whatever the body: never a 5xx; a refusal is problem+json with a documented
// code; and a refusal wrote nothing to any database (the platform's or any institution's).
//
// The seed corpus (an example body of each route's request type, in full and with only the required
// fields, and an empty object) runs with every go test. Fuzz it for real with:
//
//	go test ./functions/all -run '^$' -fuzz '^FuzzWriteRoutes$' -fuzztime 10m
//
// route picks the route (modulo their number) and pick the object a path parameter names.
func FuzzWriteRoutes(f *testing.F) {
	h := newHostileEnv(f)
	for i, r := range h.routes {
		f.Add(uint16(i), uint8(0), mustJSON(f, h.example(r.reqType, true)))
		f.Add(uint16(i), uint8(1), mustJSON(f, h.example(r.reqType, false)))
		f.Add(uint16(i), uint8(2), []byte(`{}`))
	}
	successes := map[string]int{}
	f.Cleanup(func() {
		if testing.Verbose() {
			f.Logf("routes answering 2xx to a seed: %d of %d: %v", len(successes), len(h.routes), successes)
		}
	})
	f.Fuzz(func(t *testing.T, route uint16, pick uint8, body []byte) {
		r := h.routes[int(route)%len(h.routes)]
		path := h.concrete(r, pick)
		what := r.String() + " (" + path + ")"
		rec := h.post(r, path, body)
		p, err := h.verdict(t, what, rec)
		if err != nil {
			t.Fatalf("%v\nbody: %q", err, body)
		}
		if p == nil {
			successes[r.String()]++
		} else if p.Code == "unauthenticated" {
			// A wrong password or refresh token is refused with 401; a token that stopped working would
			// make every later iteration a 401 that proves nothing.
			for _, tok := range []string{h.owner, h.admin} {
				if me := h.send("GET", "/auth/me", tok, "", nil); me.Code != http.StatusOK {
					t.Fatalf("after %s answered 401 the fuzz tokens stopped working: %d %s\nbody: %q", what, me.Code, me.Body, body)
				}
			}
		}
	})
}
