package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// bulkLoading is implemented by the read models whose rebuild folds many
// pages of events in memory and writes them in a few large flushes,
// rather than applying page by page: spending writes each key once and
// COPYs its person counts, the payments register COPYs its rows. The
// incremental path (Apply) and the loader fold events alike and must give
// the same tables (TestRebuildEqualsIncrementalApply).
type bulkLoading interface {
	Projection
	bulkLoader(limits bulkLimits) bulkLoader
}

// bulkLimits bound a rebuild's loaders. Zero fields take the defaults;
// tests set small ones, to flush often and COPY small batches.
type bulkLimits struct {
	// spendingKeys: the person keys (program, month, township, person) a
	// spending loader holds before it flushes; each costs about 22 bytes
	// while folded (a million from a million payments to 83,333 persons:
	// 21.6 MB) and 12 more while it is written.
	spendingKeys int
	// paymentRows: the payments a payments loader holds before it
	// flushes, each about 450 bytes.
	paymentRows int
	// copyMin: the new rows from which a write COPYs them rather than
	// inserting them from arrays in its pipeline.
	copyMin int
}

func (l bulkLimits) withDefaults() bulkLimits {
	if l.spendingKeys <= 0 {
		l.spendingKeys = 2 << 20
	}
	if l.paymentRows <= 0 {
		l.paymentRows = 64 << 10
	}
	if l.copyMin <= 0 {
		l.copyMin = 2000
	}
	return l
}

// bulkLoader is one rebuild's (or verification's) loader: it folds the
// pages of the log from its start, in order, and writes what it has
// folded when flushed. Its first flush writes into the empty tables that
// the rebuild has just created; later ones merge with what earlier ones
// wrote.
//
// The envelopes it folds carry no metadata (Meta is zero): decoding it
// would cost a rebuild about as much as decoding the events, and the
// loaders read none. Their handlers must not read it.
type bulkLoader interface {
	// fold folds a page of events into memory.
	fold(batch []domain.Envelope) error
	// full reports whether the loader holds as much as it should before
	// it is flushed.
	full() bool
	// flush writes what the loader holds within tx (whose search_path
	// selects the shadow schema) and lets it go.
	flush(ctx context.Context, tx pgx.Tx) error
}

func (SpendingProjection) bulkLoader(limits bulkLimits) bulkLoader {
	limits = limits.withDefaults()
	return &spendingLoader{f: spendingFold{copyMin: limits.copyMin}, limit: limits.spendingKeys}
}

// spendingLoader folds a rebuild of spending in memory: the totals of
// every (program, month, township) key and (program, year) budget, and
// every person key's net count, which is what keeps distinct persons
// exact. A flush writes each spending key and budget once, and COPYs the
// person counts into spending_persons in its index order — the rows the
// incremental path reads to count persons who cross zero.
type spendingLoader struct {
	f       spendingFold
	limit   int  // person keys
	written bool // a flush has written: later ones merge with it
}

func (l *spendingLoader) fold(batch []domain.Envelope) error { return l.f.fold(batch) }

func (l *spendingLoader) full() bool { return l.f.personKeys() >= l.limit }

func (l *spendingLoader) flush(ctx context.Context, tx pgx.Tx) error {
	if err := l.f.write(ctx, tx, !l.written); err != nil {
		return fmt.Errorf("spending: %w", err)
	}
	l.f, l.written = spendingFold{copyMin: l.f.copyMin}, true
	return nil
}

func (PaymentsProjection) bulkLoader(limits bulkLimits) bulkLoader {
	limits = limits.withDefaults()
	return &paymentsLoader{b: paymentsBatch{copyMin: limits.copyMin}, limit: limits.paymentRows}
}

// paymentsLoader folds a rebuild of the payments register in memory, up
// to a limit of payments: each flush COPYs the payments issued since the
// last one, in their state at the end of it, and updates the status of
// those issued before.
type paymentsLoader struct {
	b       paymentsBatch
	limit   int  // payments
	written bool // a flush has written: later ones merge with it
}

func (l *paymentsLoader) fold(batch []domain.Envelope) error { return l.b.add(batch) }

func (l *paymentsLoader) full() bool { return len(l.b.folds) >= l.limit }

func (l *paymentsLoader) flush(ctx context.Context, tx pgx.Tx) error {
	if err := l.b.write(ctx, tx, !l.written); err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	// Keep the memory for the next flush's payments.
	clear(l.b.index)
	clear(l.b.folds)
	l.b.folds, l.b.nNew, l.written = l.b.folds[:0], 0, true
	return nil
}
