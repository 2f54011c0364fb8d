package relay

import (
	"context"

	"cloud.google.com/go/pubsub/v2"
)

// PubSub adapts a Pub/Sub publisher to Publisher. The publisher must have EnableMessageOrdering set.
type PubSub struct{ P *pubsub.Publisher }

// NewPubSub returns the adapter for the topic, with message ordering enabled.
func NewPubSub(c *pubsub.Client, topic string) PubSub {
	p := c.Publisher(topic)
	p.EnableMessageOrdering = true
	return PubSub{P: p}
}

// Publish implements Publisher.
func (p PubSub) Publish(ctx context.Context, key string, data []byte, attrs map[string]string) Result {
	return p.P.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs, OrderingKey: key})
}

// ResumePublish implements Publisher.
func (p PubSub) ResumePublish(key string) { p.P.ResumePublish(key) }
