// Package pushmsg reads the Pub/Sub message inside the CloudEvent a push subscription delivers: the
// Functions Framework turns such a push (its path ends in projects/<project>/topics/<topic>) into the
// same CloudEvent an Eventarc trigger would deliver. The ingest and delivery entry points read their
// messages through it.
package pushmsg

import (
	"encoding/json"
	"fmt"
)

// Envelope is the data of the CloudEvent a Pub/Sub message becomes.
type Envelope struct {
	Message struct {
		Data       []byte            `json:"data"` // base64 in JSON
		Attributes map[string]string `json:"attributes"`
		ID         string            `json:"messageId"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

// Decode reads a CloudEvent's data as a Pub/Sub push envelope. An error means the event is not one, and
// redelivering it can never succeed.
func Decode(data []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return env, fmt.Errorf("not a Pub/Sub push envelope: %w", err)
	}
	return env, nil
}
