//go:build tools

// Package stripemock pins Stripe's own mock server, github.com/stripe/stripe-mock, for scripts/stripemock.sh
// to build into .cache/stripe-mock. It is its own module, outside the main module's build graph.
package stripemock

import _ "github.com/stripe/stripe-mock"
