package esdbstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lushan-dpf/ledger/domain"
)

// The answers the client leaves uncoded when the server goes away mid-call
// — the ones TestServerDownIsUnavailable meets only when the stop lands
// in the middle of a request — are unavailable, carrying the client's
// error; an EOF on a small append is a lost connection, not the size
// limit.
func TestUncodedAnswersOfAServerGoneAreUnavailable(t *testing.T) {
	eof, _ := esdb.FromError(io.EOF) // as the client's handleError wraps it
	sendEOF := fmt.Errorf("could not send append request. Reason: %w", eof)
	rawUnavailable := status.Error(codes.Unavailable, "connection error: connection refused")
	for name, err := range map[string]error{"EOF during an append": sendEOF, "raw gRPC Unavailable": rawUnavailable} {
		got := translate(context.Background(), err)
		var ce *esdb.Error
		if !errors.Is(got, domain.ErrUnavailable) || !errors.As(got, &ce) {
			t.Errorf("%s: %v; want domain.ErrUnavailable wrapping the client's *esdb.Error", name, got)
		}
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		if got := translate(cancelled, err); errors.Is(got, domain.ErrUnavailable) {
			t.Errorf("%s after the caller cancelled: %v; want not unavailable", name, got)
		}
	}
	if tooLarge(sendEOF, 38) {
		t.Error("an EOF on a 38-byte append read as the size limit")
	}
	if !tooLarge(sendEOF, domain.MaxAppendBytes+1) {
		t.Error("an EOF on an append over the ledger's bound not read as the size limit")
	}
	if got := translate(context.Background(), errors.New("something else")); errors.Is(got, domain.ErrUnavailable) {
		t.Errorf("an unknown error read as unavailable: %v", got)
	}
}
