package envelope

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"

	cloudkms "google.golang.org/api/cloudkms/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// CloudKMS wraps data keys with a Cloud KMS symmetric key
// (projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>). The key material never leaves KMS; the
// function's service account needs roles/cloudkms.cryptoKeyEncrypterDecrypter on that key alone. KMS
// records the key version inside each ciphertext, so rotating the key (a new primary version) keeps
// every earlier wrap unwrappable.
type CloudKMS struct {
	name string
	keys *cloudkms.ProjectsLocationsKeyRingsCryptoKeysService
}

// NewCloudKMS returns a CloudKMS over the key named keyName, authenticating with the instance's
// default credentials unless opts say otherwise. It makes no call until the first Wrap or Unwrap.
func NewCloudKMS(ctx context.Context, keyName string, opts ...option.ClientOption) (*CloudKMS, error) {
	svc, err := cloudkms.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("envelope: Cloud KMS client: %w", err)
	}
	return &CloudKMS{name: keyName, keys: svc.Projects.Locations.KeyRings.CryptoKeys}, nil
}

// Wrap implements Wrapper.
func (k *CloudKMS) Wrap(ctx context.Context, dataKey, aad []byte) ([]byte, error) {
	resp, err := k.keys.Encrypt(k.name, &cloudkms.EncryptRequest{
		Plaintext:                   base64.StdEncoding.EncodeToString(dataKey),
		AdditionalAuthenticatedData: base64.StdEncoding.EncodeToString(aad),
	}).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("envelope: KMS encrypt with %s: %w", k.name, err)
	}
	return base64.StdEncoding.DecodeString(resp.Ciphertext)
}

// Unwrap implements Wrapper; ErrOpen when KMS refuses the ciphertext as not its own or not for aad.
func (k *CloudKMS) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	resp, err := k.keys.Decrypt(k.name, &cloudkms.DecryptRequest{
		Ciphertext:                  base64.StdEncoding.EncodeToString(wrapped),
		AdditionalAuthenticatedData: base64.StdEncoding.EncodeToString(aad),
	}).Context(ctx).Do()
	if gerr, ok := err.(*googleapi.Error); ok && gerr.Code == http.StatusBadRequest {
		return nil, ErrOpen
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: KMS decrypt with %s: %w", k.name, err)
	}
	return base64.StdEncoding.DecodeString(resp.Plaintext)
}
