package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// The auditor's desk beside a person's history: the latest run of
// `ledger verify` — the hash chains, the log's digest, each read model
// compared with a rebuild, months paid twice — as recorded by the command
// (app.VerifyRuns; adapters/postgres keeps them).

// VerifyRecords are the recorded runs of `ledger verify`.
type VerifyRecords interface {
	// Latest returns the last run; domain.ErrNotFound when there is none.
	Latest(ctx context.Context) (app.VerifyRun, error)
}

type auditData struct {
	Run        *app.VerifyRun // nil: no run recorded
	NeverTwice bool           // the run checked for months paid twice
	Overpaid   int            // months paid more than owed
}

func (k *desk) auditPage(w http.ResponseWriter, r *http.Request) {
	run, err := k.Verifications.Latest(r.Context())
	var d auditData
	switch {
	case err == nil:
		d.Run = &run
		if run.OverpaidMonths != nil {
			d.NeverTwice, d.Overpaid = true, *run.OverpaidMonths
		}
	case errors.Is(err, domain.ErrNotFound):
	default:
		k.failErr(w, r, err)
		return
	}
	k.render(w, r, http.StatusOK, "audit", "核验记录", d)
}
