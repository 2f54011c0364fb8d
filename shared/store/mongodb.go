package store

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readconcern"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

// What the official driver is given when the cluster URI does not say otherwise. A serverless instance
// serves a handful of concurrent requests, so a small pool per instance keeps the cluster's connection
// count within its limit as instances multiply (infra/README.md, "Connection budget"); idle connections
// are closed before the platform freezes an idle instance; a cluster that cannot be reached fails a
// request in seconds, well inside its deadline, instead of after the driver's 30 s default; and work with
// no deadline of its own (the relay's backfill reads) is bounded per operation.
const (
	DefaultMaxPoolSize            = 10
	DefaultMaxIdleTime            = 60 * time.Second
	DefaultServerSelectionTimeout = 5 * time.Second
	DefaultConnectTimeout         = 5 * time.Second
	DefaultOperationTimeout       = 30 * time.Second
)

// mongoOptions returns the client options for a MongoDB cluster URI: the URI's own options, the
// defaults above wherever the URI sets nothing, and writes acknowledged by a majority with journaling.
// It refuses a URI that weakens what the product relies on (a write acknowledged by fewer than a
// majority could be rolled back after a failover, and the change stream would then have published a
// change that never happened): w=0, w=1, journal=false, or a read concern weaker than majority.
// Errors never quote the URI, which may hold credentials.
func mongoOptions(uri string) (*options.ClientOptions, error) {
	opts := options.Client().ApplyURI(uri).SetAppName("edugrid")
	if opts.Validate() != nil {
		// The driver's parse errors can quote pieces of the URI, credentials included.
		return nil, errors.New("the cluster URI is malformed")
	}
	wc := opts.WriteConcern
	if wc == nil {
		wc = &writeconcern.WriteConcern{}
	}
	switch w := wc.W.(type) {
	case nil:
		wc.W = "majority"
	case int:
		if w < 2 {
			return nil, fmt.Errorf("the cluster URI sets w=%d: writes must be acknowledged by a majority (remove w, or set w=majority)", w)
		}
	}
	if journalOff(uri) {
		return nil, errors.New("the cluster URI sets journal=false: writes must be journaled (remove the option)")
	}
	wc.Journal = ptr(true)
	opts.SetWriteConcern(wc)
	if rc := opts.ReadConcern; rc != nil && (rc.Level == "local" || rc.Level == "available") {
		return nil, fmt.Errorf("the cluster URI sets readConcernLevel=%s: reads must not be weaker than majority (remove the option)", rc.Level)
	}
	if opts.MaxPoolSize == nil {
		opts.SetMaxPoolSize(DefaultMaxPoolSize)
	}
	if opts.MaxConnIdleTime == nil {
		opts.SetMaxConnIdleTime(DefaultMaxIdleTime)
	}
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(DefaultServerSelectionTimeout)
	}
	if opts.ConnectTimeout == nil {
		opts.SetConnectTimeout(DefaultConnectTimeout)
	}
	// The driver documents a client timeout together with socketTimeoutMS or wtimeoutMS as undefined, so
	// a URI setting either keeps its own.
	if opts.Timeout == nil && opts.SocketTimeout == nil && wc.WTimeout == 0 {
		opts.SetTimeout(DefaultOperationTimeout)
	}
	return opts, nil
}

// journalOff reports whether uri sets journal=false. The driver drops that option silently (its write
// concern then omits j), so it is read from the URI's own query.
func journalOff(uri string) bool {
	_, query, _ := strings.Cut(uri, "?")
	vals, err := url.ParseQuery(query)
	if err != nil {
		return false
	}
	for k, v := range vals {
		if strings.EqualFold(k, "journal") && slices.ContainsFunc(v, func(s string) bool { return strings.EqualFold(s, "false") }) {
			return true
		}
	}
	return false
}

// txOptions are every transaction's: it reads a snapshot and commits with a majority's
// acknowledgement, whatever the client's defaults. The embedded engine ignores both (its transactions
// are serialised and durable as soon as they commit).
func txOptions() *options.TransactionOptions {
	return options.Transaction().SetReadConcern(readconcern.Snapshot()).
		SetWriteConcern(&writeconcern.WriteConcern{W: "majority", Journal: ptr(true)})
}

func ptr[T any](v T) *T { return &v }
