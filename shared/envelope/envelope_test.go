package envelope_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/api/option"

	"github.com/edugrid/edugrid/shared/envelope"
)

func mustLocal(t *testing.T) *envelope.LocalKey {
	t.Helper()
	k, err := envelope.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	ctx := context.Background()
	box := envelope.New(mustLocal(t))
	other := envelope.New(mustLocal(t))
	secret := []byte("rzp_test_secret_0123456789")
	sealed, err := box.Seal(ctx, secret, []byte("alpha/razorpay/key_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed value carries the plaintext")
	}
	again, _ := box.Seal(ctx, secret, []byte("alpha/razorpay/key_secret"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one secret are equal: the data key or nonce is reused")
	}
	got, err := box.Open(ctx, sealed, []byte("alpha/razorpay/key_secret"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	damaged := append([]byte{}, sealed...)
	damaged[len(damaged)-1] ^= 1
	tests := []struct {
		name   string
		box    *envelope.Box
		sealed []byte
		aad    string
	}{
		{"another institution's associated data", box, sealed, "beta/razorpay/key_secret"},
		{"another field", box, sealed, "alpha/razorpay/webhook_secret"},
		{"another key", other, sealed, "alpha/razorpay/key_secret"},
		{"damaged", box, damaged, "alpha/razorpay/key_secret"},
		{"truncated", box, sealed[:10], "alpha/razorpay/key_secret"},
		{"empty", box, nil, "alpha/razorpay/key_secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.box.Open(ctx, tc.sealed, []byte(tc.aad)); !errors.Is(err, envelope.ErrOpen) {
				t.Fatalf("open: %v, want ErrOpen", err)
			}
		})
	}
}

func TestLocalKeyFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys", "secrets.key")
	k1, err := envelope.LoadOrCreateLocalKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", st, err)
	}
	sealed, err := envelope.New(k1).Seal(ctx, []byte("s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := envelope.LoadOrCreateLocalKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := envelope.New(k2).Open(ctx, sealed, nil); err != nil || string(got) != "s" {
		t.Fatalf("the key read back does not open what the first sealed: %q %v", got, err)
	}
	if err := os.WriteFile(path, []byte("not base64!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := envelope.LoadOrCreateLocalKey(path); err == nil {
		t.Fatal("a damaged key file was accepted")
	}
}

// TestCloudKMS runs the KMS wrapper against a loopback server answering as the Cloud KMS REST API
// documents encrypt and decrypt (base64 fields; a ciphertext it did not make is 400).
func TestCloudKMS(t *testing.T) {
	const name = "projects/p/locations/global/keyRings/edugrid/cryptoKeys/gateway-secrets"
	inner := mustLocal(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in map[string]string
		_ = json.Unmarshal(body, &in)
		aad, _ := base64.StdEncoding.DecodeString(in["additionalAuthenticatedData"])
		switch {
		case r.URL.Path == "/v1/"+name+":encrypt":
			pt, _ := base64.StdEncoding.DecodeString(in["plaintext"])
			ct, _ := inner.Wrap(r.Context(), pt, aad)
			_ = json.NewEncoder(w).Encode(map[string]string{"name": name + "/cryptoKeyVersions/1", "ciphertext": base64.StdEncoding.EncodeToString(ct)})
		case r.URL.Path == "/v1/"+name+":decrypt":
			ct, _ := base64.StdEncoding.DecodeString(in["ciphertext"])
			pt, err := inner.Unwrap(r.Context(), ct, aad)
			if err != nil {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = io.WriteString(w, `{"error":{"code":400,"message":"Decryption failed","status":"INVALID_ARGUMENT"}}`)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"plaintext": base64.StdEncoding.EncodeToString(pt)})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	kms, err := envelope.NewCloudKMS(ctx, name, option.WithEndpoint(srv.URL+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	box := envelope.New(kms)
	sealed, err := box.Seal(ctx, []byte("whsec_123"), []byte("alpha/stripe/webhook_secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := box.Open(ctx, sealed, []byte("alpha/stripe/webhook_secret")); err != nil || string(got) != "whsec_123" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := box.Open(ctx, sealed, []byte("beta/stripe/webhook_secret")); !errors.Is(err, envelope.ErrOpen) {
		t.Fatalf("open with other associated data: %v, want ErrOpen", err)
	}
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1") {
		t.Fatalf("the stand-in is not on loopback: %s", srv.URL)
	}
}
