package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	pubsubapi "cloud.google.com/go/pubsub/v2/apiv1"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/edugrid/edugrid/shared/events"
)

// PullBatch is how many messages one pull asks for.
const PullBatch = 1000

// idlePause is how long PullLoop waits after an empty pull.
var idlePause = 20 * time.Millisecond

// pacer keeps PullLoop's share of a core near 1/(1+restFactor) while events keep coming, without
// delaying the odd event of a quiet stack. An Apply costs about the same for 5 events as for 200 (a merge
// per table): pulling straight after each small batch spent a fifth of two cores on ingest under the load
// script's writes, and the bursts took a core from the API in the local stack. The pacer earns busy time
// at 1/(1+restFactor) of the wall clock, up to burst; each pull spends what it took; once in debt the
// loop rests until the debt is earned back, so the next batch gathers the events of that time. A full
// batch never rests: the loop is behind.
type pacer struct {
	credit time.Duration // busy time the loop may spend before it must rest
	last   time.Time     // when credit was last earned
}

const (
	restFactor = 8
	burst      = 100 * time.Millisecond // what a quiet stack may spend at once without resting
	maxRest    = time.Second
	// maxDebt is the debt one longest rest repays (rounded up, so that it repays all of it).
	maxDebt = (maxRest + restFactor) / (1 + restFactor)
)

// rest returns how long PullLoop waits after a pull of n messages that took took and ended at now.
func (p *pacer) rest(n int, took time.Duration, now time.Time) time.Duration {
	if p.last.IsZero() {
		p.credit, p.last = burst, now.Add(-took)
	}
	// Debt beyond one longest rest is forgiven: time spent catching up on a backlog (full batches) is
	// not paid back in slow pulls afterwards.
	p.credit = max(min(p.credit+now.Sub(p.last)/(1+restFactor), burst)-took, -maxDebt)
	p.last = now
	switch {
	case n >= PullBatch:
		return 0
	case p.credit < 0:
		return min(max(idlePause, -p.credit*(1+restFactor)), maxRest)
	}
	// The emulator answers an empty pull at once when asked to; a short pause keeps idling cheap.
	return idlePause
}

// Puller is the unary part of the Pub/Sub subscriber API; *pubsubapi.SubscriptionAdminClient is one.
// Streaming pull is avoided on purpose: the emulator hands a stream one message every 10 ms.
type Puller interface {
	Pull(ctx context.Context, req *pb.PullRequest, opts ...gax.CallOption) (*pb.PullResponse, error)
	Acknowledge(ctx context.Context, req *pb.AcknowledgeRequest, opts ...gax.CallOption) error
	ModifyAckDeadline(ctx context.Context, req *pb.ModifyAckDeadlineRequest, opts ...gax.CallOption) error
}

var _ Puller = (*pubsubapi.SubscriptionAdminClient)(nil)

// PullLoop pulls subscription (a full name, projects/…/subscriptions/…) in batches until ctx ends: each
// batch is committed with one Apply and acknowledged with one Acknowledge. Poison messages are logged and
// acknowledged with their batch; a failed Apply gives the batch back (a deadline of zero), so it is
// delivered again at once, to the next pull after the loop's backoff. It returns nil when ctx ends.
func PullLoop(ctx context.Context, p Puller, subscription string, in *Ingester, logger *slog.Logger) error {
	backoff := 100 * time.Millisecond
	var pace pacer
	for ctx.Err() == nil {
		started := time.Now()
		n, err := PullOnce(ctx, p, subscription, in, logger)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			logger.Warn("ingest pull failed; retrying", slog.String("error", err.Error()), slog.Duration("backoff", backoff))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if d := pace.rest(n, time.Since(started), time.Now()); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
	return nil
}

// PullOnce pulls, commits and acknowledges one batch and returns how many messages it held. An empty
// subscription makes the server wait briefly before answering none.
func PullOnce(ctx context.Context, p Puller, subscription string, in *Ingester, logger *slog.Logger) (int, error) {
	// ReturnImmediately: the emulator otherwise sits out 500 ms on an empty subscription even when
	// messages arrive meanwhile; PullLoop paces empty pulls itself.
	// The pull itself is not cancelled either: messages the server hands to a call whose caller has gone
	// stay unacknowledged until their deadline, and an emulator closing meanwhile would lose them.
	pullCtx, cancelPull := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancelPull()
	resp, err := p.Pull(pullCtx, &pb.PullRequest{Subscription: subscription, MaxMessages: PullBatch, ReturnImmediately: true})
	if err != nil {
		if s, ok := status.FromError(err); ok && s.Code() == codes.DeadlineExceeded {
			return 0, nil
		}
		return 0, fmt.Errorf("pull %s: %w", subscription, err)
	}
	msgs := resp.GetReceivedMessages()
	if len(msgs) == 0 {
		return 0, nil
	}
	evs := make([]*events.Event, 0, len(msgs))
	ackIDs := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ackIDs = append(ackIDs, m.GetAckId())
		ev, err := events.Decode(m.GetMessage().GetData())
		if err != nil {
			logger.Error("poison message: not a change event; acknowledged", slog.String("message_id", m.GetMessage().GetMessageId()), slog.String("error", err.Error()))
			continue
		}
		evs = append(evs, ev)
	}
	// A batch in hand is finished even when ctx ends: stopping between batches keeps a shutdown from
	// leaving messages unacknowledged until their deadline.
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := in.Apply(done, evs); err != nil {
		// Without this the batch would wait out its ack deadline (30 s and more) before anyone retried it.
		if nackErr := p.ModifyAckDeadline(done, &pb.ModifyAckDeadlineRequest{Subscription: subscription, AckIds: ackIDs, AckDeadlineSeconds: 0}); nackErr != nil {
			logger.Warn("ingest: giving a failed batch back failed; it is delivered again after its ack deadline", slog.String("error", nackErr.Error()))
		}
		return 0, err
	}
	err = p.Acknowledge(done, &pb.AcknowledgeRequest{Subscription: subscription, AckIds: ackIDs})
	if err != nil && !errors.Is(err, context.Canceled) {
		// Stored already; the redelivery this causes is harmless.
		return len(msgs), fmt.Errorf("acknowledge %d messages: %w", len(ackIDs), err)
	}
	return len(msgs), nil
}
