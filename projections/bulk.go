package projections

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// bulkLoading is implemented by the read models whose rebuild folds many
// pages of events in memory and writes them in a few large writes, rather
// than applying page by page: spending writes each key once and COPYs its
// person counts, the payments register COPYs its rows. The incremental
// path (Apply) and the loader fold events alike and must give the same
// tables (TestRebuildEqualsIncrementalApply).
type bulkLoading interface {
	Projection
	bulkLoader(limits bulkLimits) bulkLoader
}

// bulkLimits bound a rebuild's loaders, which hold up to two windows: the
// one being written and the one being folded. Zero fields take the
// defaults; tests set small ones, to write often and COPY small batches.
type bulkLimits struct {
	// spendingMarks: the payments (each a mark of its person row and
	// month: program, year, person, township, month) in a spending
	// window (default 4 Mi); each costs 8 bytes while folded and about 56
	// more, per person row, while it is written.
	spendingMarks int
	// paymentRows: the payments in a payments window (default 64 Ki),
	// each about 450 bytes.
	paymentRows int
	// copyMin: the new rows from which a write COPYs them rather than
	// inserting them from arrays in its pipeline (default 2,000).
	copyMin int
}

func (l bulkLimits) withDefaults() bulkLimits {
	if l.spendingMarks <= 0 {
		l.spendingMarks = 4 << 20
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
// pages of the log from its start, in order, and hands what it holds over
// as a write when full and at the end. The rebuild runs the writes in the
// order taken, each in a transaction of its own, while the loader folds
// the next pages: the database writes one window while the next is read,
// decoded and folded, and a loader holds at most two windows. The first
// write goes into the empty tables the rebuild has just created; later
// ones merge with what earlier ones wrote.
//
// The envelopes it folds carry no metadata (Meta is zero) unless it says
// it needs it: decoding metadata would cost a rebuild about as much as
// decoding the events, and spending and the payments register read none.
type bulkLoader interface {
	// meta reports whether the loader reads the events' metadata.
	meta() bool
	// fold folds a page of events into memory.
	fold(batch []domain.Envelope) error
	// full reports whether the loader holds as much as it should before
	// it hands it over.
	full() bool
	// take hands over what the loader holds, as a write into tx (whose
	// search_path selects the shadow schema), and starts afresh; last
	// says that no write will follow.
	take(last bool) bulkWrite
}

// bulkWrite writes what a loader folded.
type bulkWrite func(ctx context.Context, tx pgx.Tx) error

func (SpendingProjection) bulkLoader(limits bulkLimits) bulkLoader {
	limits = limits.withDefaults()
	return &spendingLoader{f: spendingFold{copyMin: limits.copyMin}, limit: limits.spendingMarks}
}

// spendingLoader folds a rebuild of spending in memory: the totals of
// every (program, month, township) key and (program, year) budget, and
// every person row's net counts by month, which is what keeps distinct persons
// exact. A write writes each spending key and budget once, and COPYs the
// person counts into spending_persons in its index order — the rows the
// incremental path reads to count persons who cross zero.
type spendingLoader struct {
	f     spendingFold
	limit int  // marks
	taken bool // a write was handed over: later ones merge with it
}

func (l *spendingLoader) fold(batch []domain.Envelope) error { return l.f.fold(batch) }

func (l *spendingLoader) meta() bool { return false }

func (l *spendingLoader) full() bool { return l.f.personMarks() >= l.limit }

func (l *spendingLoader) take(bool) bulkWrite {
	f, fresh := l.f, !l.taken
	l.f, l.taken = spendingFold{copyMin: f.copyMin}, true
	return func(ctx context.Context, tx pgx.Tx) error {
		if err := f.write(ctx, tx, fresh); err != nil {
			return fmt.Errorf("spending: %w", err)
		}
		return nil
	}
}

func (PaymentsProjection) bulkLoader(limits bulkLimits) bulkLoader {
	limits = limits.withDefaults()
	return &paymentsLoader{copyMin: limits.copyMin, limit: limits.paymentRows}
}

// paymentsLoader folds a rebuild of the payments register in memory, up
// to a limit of payments: each write COPYs the payments issued since the
// last one, in their state at the end of it, and updates the status of
// those issued before. The first write leaves the register's indexes but
// the primary key to the last one, which builds them over all the rows
// at once.
type paymentsLoader struct {
	b              paymentsBatch
	copyMin, limit int
	taken          bool      // a write was handed over: later ones merge with it
	later          *[]string // the indexes the first write left to the last
}

func (l *paymentsLoader) fold(batch []domain.Envelope) error { return l.b.add(batch) }

func (l *paymentsLoader) meta() bool { return false }

func (l *paymentsLoader) full() bool { return len(l.b.folds) >= l.limit }

func (l *paymentsLoader) take(last bool) bulkWrite {
	if l.later == nil {
		l.later = new([]string)
	}
	b, fresh, later := l.b, !l.taken, l.later
	b.copyMin, b.later = l.copyMin, later
	l.b, l.taken = paymentsBatch{}, true
	return func(ctx context.Context, tx pgx.Tx) error {
		if err := b.write(ctx, tx, fresh); err != nil {
			return fmt.Errorf("payments: %w", err)
		}
		if last {
			return createIndexes(ctx, tx, "payments", *later)
		}
		return nil
	}
}
