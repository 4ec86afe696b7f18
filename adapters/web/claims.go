package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Overpayment claims (多发追回): every month paid more than owed — after a
// death recorded late, a payment the bank paid after reporting it failed —
// is claimed back from the person. Finance records what was recovered, or
// writes off what cannot be (with a reason), on the same use case as
// `ledger payroll recover|write-off` and the API (app.Payroll.SettleClaim):
// never more than the claim still asks.

// FinanceQueries are the finance desk's read models (projections.ReadModels
// implements them): overpayment claims, and a batch's lines.
type FinanceQueries interface {
	Claims(ctx context.Context, open bool, limit, offset int) ([]projections.ClaimRow, int, error)
	BatchLines(ctx context.Context, batchID string, exceptions bool, limit, offset int) ([]domain.BatchReportLine, int, []projections.BatchLineTotal, error)
}

type claimsData struct {
	Claims           []projections.ClaimRow
	Open             bool // only those still asking something
	Page, Pages, All int
	Err, Done        string
}

func (k *desk) claimsPage(w http.ResponseWriter, r *http.Request) {
	k.showClaims(w, r, http.StatusOK, claimsData{Done: doneMessage(r.URL.Query().Get("done"))})
}

func (k *desk) showClaims(w http.ResponseWriter, r *http.Request, status int, d claimsData) {
	q := r.URL.Query()
	d.Open = q.Get("all") == ""
	var err error
	if d.Page, err = pageParam(r); err != nil {
		k.badQuery(w, r, err)
		return
	}
	rows, total, err := k.Finance.Claims(r.Context(), d.Open, pageSize, (d.Page-1)*pageSize)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	d.Claims, d.All, d.Pages = rows, total, max((total+pageSize-1)/pageSize, 1)
	k.render(w, r, status, "claims", "多发追回", d)
}

var claimDone = map[string]string{"recover": "已登记追回。", "write-off": "已核销。"}

func doneMessage(code string) string { return claimDone[code] }

// settleClaim records a recovery or a write-off of a claim.
func (k *desk) settleClaim(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	action := chi.URLParam(r, "action")
	if action != "recover" && action != "write-off" {
		k.fail(w, r, http.StatusNotFound, "页面不存在", "没有这个页面。")
		return
	}
	meta, err := k.meta(r, s)
	var amount domain.Money
	if err == nil {
		amount, err = domain.ParseMoney("amount", strings.TrimSpace(r.PostFormValue("amount")))
	}
	var res app.SettleClaimResult
	if err == nil {
		res, err = k.Payroll.SettleClaim(r.Context(), meta, app.SettleClaimRequest{ClaimID: chi.URLParam(r, "claim"), Amount: amount,
			WriteOff: action == "write-off", Reason: meta.Reason})
	}
	switch {
	case err == nil:
		k.settle(r.Context(), res.Position)
		http.Redirect(w, r, fmt.Sprintf("/payroll/claims?done=%s", action), http.StatusSeeOther)
	case refusal(err):
		k.showClaims(w, r, http.StatusUnprocessableEntity, claimsData{Err: chi.URLParam(r, "claim") + "：" + plainError(err)})
	default:
		k.failErr(w, r, err)
	}
}
