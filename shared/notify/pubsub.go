package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Message attributes every published notification carries.
const (
	AttrEventID = "event_id" // the notification ID; consumers drop repeats by it
	AttrTenant  = "tenant"
	AttrKind    = "kind"
)

// EmulatorProject is the project of the in-process emulator.
const EmulatorProject = "edugrid-local"

// TopicConfig says where a Topic publishes.
type TopicConfig struct {
	// Project is the Google Cloud project of the topic; "" runs an in-process Pub/Sub emulator (pstest),
	// owned by the Topic, with the topic created in it.
	Project string
	// Topic is the topic id, e.g. "edugrid-notifications".
	Topic string
	// Options are extra client options (endpoint, credentials) for a real project.
	Options []option.ClientOption
}

// Topic is the Pub/Sub Publisher. It connects on its first use, not when it is built, so a function
// instance that never notifies never dials; a failed connect is retried on the next use. Safe for
// concurrent use.
type Topic struct {
	cfg TopicConfig

	mu     sync.Mutex
	client *pubsub.Client
	pub    *pubsub.Publisher
	server *pstest.Server // the emulator, when cfg.Project is ""; the client owns the connection to it
	closed bool
}

// NewTopic returns a Topic for cfg without connecting.
func NewTopic(cfg TopicConfig) *Topic { return &Topic{cfg: cfg} }

// Emulated reports whether the topic lives in an in-process emulator.
func (t *Topic) Emulated() bool { return t.cfg.Project == "" }

func (t *Topic) connect(ctx context.Context) (*pubsub.Publisher, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("notify: topic closed")
	}
	if t.pub != nil {
		return t.pub, nil
	}
	project, opts := t.cfg.Project, t.cfg.Options
	var (
		server *pstest.Server
		conn   *grpc.ClientConn
	)
	if project == "" {
		project = EmulatorProject
		server = pstest.NewServer()
		var err error
		conn, err = grpc.NewClient(server.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			_ = server.Close()
			return nil, fmt.Errorf("notify: connect to the emulator: %w", err)
		}
		opts = []option.ClientOption{option.WithGRPCConn(conn)}
	}
	// context.WithoutCancel: the client outlives the request that happened to connect it.
	client, err := pubsub.NewClient(context.WithoutCancel(ctx), project, opts...)
	if err == nil && server != nil {
		_, err = client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: topicName(project, t.cfg.Topic)})
	}
	if err != nil {
		if client != nil {
			_ = client.Close()
		}
		if server != nil {
			_ = conn.Close()
			_ = server.Close()
		}
		return nil, fmt.Errorf("notify: connect to topic %s: %w", t.cfg.Topic, err)
	}
	t.client, t.server = client, server
	t.pub = client.Publisher(t.cfg.Topic)
	return t.pub, nil
}

func topicName(project, topic string) string { return "projects/" + project + "/topics/" + topic }

// Publish implements Publisher: it publishes n as JSON with its ID as the event_id attribute and waits
// for the server's acknowledgement.
func (t *Topic) Publish(ctx context.Context, n Notification) error {
	p, err := t.connect(ctx)
	if err != nil {
		return err
	}
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("notify: encode %s: %w", n.ID, err)
	}
	_, err = p.Publish(ctx, &pubsub.Message{
		Data:       data,
		Attributes: map[string]string{AttrEventID: n.ID, AttrTenant: n.Tenant, AttrKind: n.Kind},
	}).Get(ctx)
	if err != nil {
		return fmt.Errorf("notify: publish %s: %w", n.ID, err)
	}
	return nil
}

// Subscribe creates subscription name on the topic if it does not exist yet, so that what is published
// from then on can be pulled (local stack, tests).
func (t *Topic) Subscribe(ctx context.Context, name string) error {
	if _, err := t.connect(ctx); err != nil {
		return err
	}
	_, err := t.client.SubscriptionAdminClient.CreateSubscription(ctx, &pb.Subscription{
		Name:  t.subscriptionName(name),
		Topic: topicName(t.client.Project(), t.cfg.Topic),
	})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify: subscribe %s: %w", name, err)
	}
	return nil
}

func (t *Topic) subscriptionName(name string) string {
	return "projects/" + t.client.Project() + "/subscriptions/" + name
}

// Pull returns and acknowledges up to max notifications waiting on subscription name (created with
// Subscribe), without waiting for more: an empty result means none is waiting. Messages that are not
// notifications are acknowledged and dropped.
func (t *Topic) Pull(ctx context.Context, name string, max int) ([]Notification, error) {
	if _, err := t.connect(ctx); err != nil {
		return nil, err
	}
	resp, err := t.client.SubscriptionAdminClient.Pull(ctx, &pb.PullRequest{
		Subscription: t.subscriptionName(name), MaxMessages: int32(max),
		// Deprecated for production use, where a pull should wait; here "nothing waiting" is the answer.
		ReturnImmediately: true,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: pull %s: %w", name, err)
	}
	out := make([]Notification, 0, len(resp.ReceivedMessages))
	ackIDs := make([]string, 0, len(resp.ReceivedMessages))
	for _, m := range resp.ReceivedMessages {
		ackIDs = append(ackIDs, m.AckId)
		var n Notification
		if err := json.Unmarshal(m.Message.Data, &n); err == nil {
			out = append(out, n)
		}
	}
	if len(ackIDs) > 0 {
		err := t.client.SubscriptionAdminClient.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: t.subscriptionName(name), AckIds: ackIDs})
		if err != nil {
			return nil, fmt.Errorf("notify: acknowledge %s: %w", name, err)
		}
	}
	return out, nil
}

// Close flushes pending publishes and releases the client and the emulator. Publish fails afterwards.
func (t *Topic) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if t.pub != nil {
		t.pub.Stop()
	}
	if t.client != nil {
		errs = append(errs, t.client.Close())
	}
	if t.server != nil {
		errs = append(errs, t.server.Close())
	}
	return errors.Join(errs...)
}
