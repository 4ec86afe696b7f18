package app

import (
	"context"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// VerifyRun is one run of `ledger verify` as recorded for the auditors'
// desk: when it finished, who ran it, what it found and the log's digest.
type VerifyRun struct {
	FinishedAt time.Time
	RanBy      string
	// Problems counts everything found: broken links, a digest that
	// differs from the one expected, rows that differ from a rebuild,
	// months paid twice.
	Problems int64
	// Chains is the hash chains' check, nil when it did not run
	// (--projections-only).
	Chains *VerifiedChains
	// ReadModels are the read models compared with a rebuild (none with
	// --chains-only).
	ReadModels []VerifiedReadModel
	// OverpaidMonths counts the months paid more than owed; nil when the
	// check did not run.
	OverpaidMonths *int
	// Report is the whole report, as `ledger verify --json` prints it.
	Report []byte
}

// VerifiedChains is the outcome of the hash chains' check.
type VerifiedChains struct {
	Events  int64
	Streams int
	Broken  int // streams with a broken link
	Digest  domain.Digest
}

// VerifiedReadModel is a read model compared with a rebuild of it.
type VerifiedReadModel struct {
	Name     string `json:"name"`
	Status   string `json:"status,omitempty"`
	Events   int64  `json:"events"`
	Problems int64  `json:"problems"`
	Skipped  string `json:"skipped,omitempty"`
}

// VerifyRuns keeps the runs of `ledger verify` (adapters/postgres
// implements it).
type VerifyRuns interface {
	Record(ctx context.Context, run VerifyRun) error
	// Latest returns the last run recorded; domain.ErrNotFound when there
	// is none.
	Latest(ctx context.Context) (VerifyRun, error)
}
