package relay

import (
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/mongo"
)

// Only MongoDB's refusal for want of a post-image turns the relay to looking documents up; another error
// that mentions post-images, or a NoMatchingDocument about something else, does not.
func TestMissingPostImageIsRecognised(t *testing.T) {
	const wording = "Executor error during getMore :: caused by :: Change stream was configured to require a post-image for all update events, but the post-image was not found for event: {...}"
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"the server's refusal", mongo.CommandError{Code: 47, Name: "NoMatchingDocument", Message: wording}, true},
		{"wrapped", fmt.Errorf("read change stream: %w", mongo.CommandError{Code: 47, Name: "NoMatchingDocument", Message: wording}), true},
		{"NoMatchingDocument about something else", mongo.CommandError{Code: 47, Name: "NoMatchingDocument", Message: "no document matched"}, false},
		{"another code with the words", mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost", Message: "post-image history lost"}, false},
		{"not a server error", errors.New("the post-image was not found"), false},
		{"no error", nil, false},
	}
	for _, tc := range tests {
		if got := isMissingPostImage(tc.err); got != tc.want {
			t.Errorf("%s: isMissingPostImage = %v, want %v", tc.name, got, tc.want)
		}
	}
}
