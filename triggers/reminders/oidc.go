package reminders

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/api/idtoken"
)

// TokenValidator decides whether a bearer token is the scheduler's. Validate returns nil only for a token
// the trigger should act on.
type TokenValidator interface {
	Validate(ctx context.Context, token string) error
}

// googleIssuers are the issuers Google writes into its ID tokens.
var googleIssuers = []string{"accounts.google.com", "https://accounts.google.com"}

// OIDC accepts only a Google-signed ID token for one audience whose verified email is the scheduler's
// service account, and not expired. The signature and expiry are checked by the idtoken package against
// Google's published keys; issuer, email and email_verified here, because idtoken leaves them to its
// caller.
type OIDC struct {
	Audience       string
	ServiceAccount string
	keys           *idtoken.Validator
}

// NewOIDC returns the production validator. opts configure how Google's keys are fetched: none in
// production; tests pass idtoken.WithHTTPClient with a transport serving their own key set, so the whole
// check runs offline.
func NewOIDC(ctx context.Context, audience, serviceAccount string, opts ...idtoken.ClientOption) (*OIDC, error) {
	if audience == "" || serviceAccount == "" {
		return nil, errors.New("reminders: the scheduler audience and service account are required")
	}
	v, err := idtoken.NewValidator(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("reminders: build token validator: %w", err)
	}
	return &OIDC{Audience: audience, ServiceAccount: serviceAccount, keys: v}, nil
}

// Validate implements TokenValidator.
func (o *OIDC) Validate(ctx context.Context, token string) error {
	if token == "" {
		return errors.New("no bearer token")
	}
	p, err := o.keys.Validate(ctx, token, o.Audience)
	if err != nil {
		return err
	}
	if !contains(googleIssuers, p.Issuer) {
		return fmt.Errorf("issuer %q is not Google", p.Issuer)
	}
	email, _ := p.Claims["email"].(string)
	if !strings.EqualFold(email, o.ServiceAccount) {
		return fmt.Errorf("token of %q, not the scheduler's service account", email)
	}
	if verified, _ := p.Claims["email_verified"].(bool); !verified {
		return errors.New("the token's email is not verified")
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
