package esdbstore

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/lushan-dpf/ledger/domain"
)

// bulkConcurrency is how many streams AppendMany appends at a time.
const bulkConcurrency = 8

// AppendMany implements domain.EventStore. EventStoreDB has no
// transaction spanning streams, so each stream is appended on its own
// with Append — atomic within the stream, at its exact expected revision,
// idempotent by event ID — up to bulkConcurrency streams at a time.
//
// After the first failure no further stream is started; appends already
// in flight finish. The call then returns the error of the first failing
// stream in the order given. Streams appended before it (and any in
// flight that succeeded) stay appended: retrying the call with the same
// events is safe, since those streams answer with their original results.
//
// Each stream's events go in one append request, so one stream's events
// may not exceed the server's maximum append size (1 MiB by default).
func (s *Store) AppendMany(ctx context.Context, appends []domain.StreamAppend) ([]domain.AppendResult, error) {
	if err := domain.ValidateAppends(appends); err != nil {
		return nil, err
	}
	results := make([]domain.AppendResult, len(appends))
	errs := make([]error, len(appends))
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(bulkConcurrency, len(appends)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(appends) {
					return
				}
				a := appends[i]
				results[i], errs[i] = s.Append(ctx, a.Stream, a.Expected, a.Events...)
				if errs[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}
