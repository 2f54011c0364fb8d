package relay

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
)

// neverPublished are collections whose documents are secrets as a whole, whatever the configuration says.
var neverPublished = map[string]bool{"refresh_tokens": true}

// secretWords mark a field as a secret wherever it appears in a document: password hashes, tokens of any
// kind, secrets, one-time codes, keys.
var secretWords = []string{"password", "token", "secret", "otp", "api_key", "apikey", "private_key"}

// secretName reports whether a field name looks like it holds a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// secretPath reports whether any segment of a dotted field path is a secret name.
func secretPath(path string) bool {
	for _, seg := range strings.Split(path, ".") {
		if secretName(seg) {
			return true
		}
	}
	return false
}

// redactedJSON returns doc without secret fields, at any depth, as relaxed Extended JSON.
func redactedJSON(doc bson.Raw) ([]byte, error) {
	var d bson.D
	if err := bson.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read document: %w", err)
	}
	b, err := bson.MarshalExtJSON(redactDoc(d), false, false)
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return b, nil
}

func redactDoc(d bson.D) bson.D {
	out := make(bson.D, 0, len(d))
	for _, e := range d {
		if secretPath(e.Key) { // update descriptions use dotted paths as keys
			continue
		}
		out = append(out, bson.E{Key: e.Key, Value: redactValue(e.Value)})
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case bson.D:
		return redactDoc(x)
	case bson.A:
		out := make(bson.A, len(x))
		for i, e := range x {
			out[i] = redactValue(e)
		}
		return out
	}
	return v
}
