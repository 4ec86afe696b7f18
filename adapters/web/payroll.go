package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// The finance desk: the payroll month per program — draft a batch, have
// another finance user approve it, download the bank file, upload the
// bank's return file and see every line classified — on the payroll use
// cases the CLI and the API run (app.Payroll).

// PayrollDesk is what the finance desk runs (app.Payroll implements it).
type PayrollDesk interface {
	Draft(ctx context.Context, meta domain.CommandMeta, req app.DraftRequest) (app.DraftResult, error)
	Approve(ctx context.Context, meta domain.CommandMeta, batchID string) (app.ApproveResult, error)
	Export(ctx context.Context, meta domain.CommandMeta, req app.ExportRequest) (app.ExportResult, error)
	Reconcile(ctx context.Context, meta domain.CommandMeta, req app.ReconcileRequest) (app.ReconcileResult, error)
	SettleClaim(ctx context.Context, meta domain.CommandMeta, req app.SettleClaimRequest) (app.SettleClaimResult, error)
	Batches(ctx context.Context, program domain.ProgramCode) ([]domain.Batch, error)
	Batch(ctx context.Context, batchID string) (domain.Batch, error)
	Report(ctx context.Context, batchID string) (domain.BatchReport, error)
}

// finance acts on payrolls; seesMoney may look at them.
func finance(role string) bool { return role == "finance" || role == "admin" }

// maxReturnFile bounds an uploaded return file, as the CLI's reader does.
const maxReturnFile = 32 << 20

type programBatches struct {
	Program domain.Program
	Batches []domain.Batch
}

type payrollData struct {
	Programs []programBatches
	Form     string
	Period   string
	Err      string
}

func (k *desk) payrollPage(w http.ResponseWriter, r *http.Request) {
	k.showPayroll(w, r, http.StatusOK, "")
}

func (k *desk) showPayroll(w http.ResponseWriter, r *http.Request, status int, refused string) {
	d := payrollData{Form: formKey(), Err: refused, Period: domain.BusinessDate(k.Now()).Time().Format("2006-01")}
	for _, code := range domain.PayablePrograms() {
		p, _ := domain.LookupProgram(code)
		bs, err := k.Payroll.Batches(r.Context(), code)
		if err != nil {
			k.failErr(w, r, err)
			return
		}
		slices.Reverse(bs) // latest first
		d.Programs = append(d.Programs, programBatches{Program: p, Batches: bs[:min(len(bs), 12)]})
	}
	k.render(w, r, status, "payroll", "发放", d)
}

// draftBatch drafts a program's batch for a month.
func (k *desk) draftBatch(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	program, err := domain.PayableProgram("program", domain.ProgramCode(r.PostFormValue("program")))
	var period domain.Period
	if err == nil {
		period, err = domain.ParsePeriod("period", strings.TrimSpace(r.PostFormValue("period")))
	}
	var meta domain.CommandMeta
	if err == nil {
		meta, err = k.meta(r, s)
	}
	var res app.DraftResult
	if err == nil {
		res, err = k.Payroll.Draft(r.Context(), meta, app.DraftRequest{Program: program.Code, Period: period})
	}
	switch {
	case err == nil:
		k.settle(r.Context(), res.Position) // its lines, listed from a read model
		http.Redirect(w, r, "/payroll/batches/"+res.Batch.BatchID, http.StatusSeeOther)
	case refusal(err):
		k.showPayroll(w, r, http.StatusUnprocessableEntity, plainError(err))
	default:
		k.failErr(w, r, err)
	}
}

type batchData struct {
	Batch          domain.Batch
	Program        domain.Program
	Reconciliation *app.ReconcileResult
	Err            string
}

func (k *desk) batchPage(w http.ResponseWriter, r *http.Request) {
	k.showBatch(w, r, chi.URLParam(r, "batch"), http.StatusOK, batchData{})
}

func (k *desk) showBatch(w http.ResponseWriter, r *http.Request, id string, status int, d batchData) {
	b, err := k.Payroll.Batch(r.Context(), id)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	d.Batch = b
	d.Program, _ = domain.LookupProgram(b.Opened.Program)
	k.render(w, r, status, "batch", "发放批次 "+id, d)
}

func (k *desk) approveBatch(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := chi.URLParam(r, "batch")
	meta, err := k.meta(r, s)
	if err == nil {
		var res app.ApproveResult
		if res, err = k.Payroll.Approve(r.Context(), meta, id); err == nil {
			k.settle(r.Context(), res.Position)
		}
	}
	k.afterBatch(w, r, id, err, batchData{})
}

// exportBatch records the batch's bank payment file and sends it.
func (k *desk) exportBatch(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := chi.URLParam(r, "batch")
	meta, err := k.meta(r, s)
	var res app.ExportResult
	if err == nil {
		res, err = k.Payroll.Export(r.Context(), meta, app.ExportRequest{BatchID: id, Format: r.PostFormValue("format"), Encoding: r.PostFormValue("encoding")})
	}
	if err != nil {
		k.afterBatch(w, r, id, err, batchData{})
		return
	}
	ct := "text/csv; charset=" + res.Encoding
	if res.Format == "xlsx" {
		ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="`+res.Name+`"`)
	w.Header().Set("X-Ledger-File-SHA256", res.SHA256)
	_, _ = w.Write(res.File)
}

// reconcileBatch reads an uploaded return file and shows every line
// classified.
func (k *desk) reconcileBatch(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := chi.URLParam(r, "batch")
	meta, err := k.meta(r, s)
	var raw []byte
	var name string
	if err == nil {
		f, h, ferr := r.FormFile("file")
		if ferr != nil {
			err = domain.Invalid("file", "choose the bank's return file")
		} else {
			defer f.Close()
			name = h.Filename
			raw, err = io.ReadAll(io.LimitReader(f, maxReturnFile+1))
			if err == nil && len(raw) > maxReturnFile {
				err = domain.Invalid("file", "is larger than 32 MiB")
			}
		}
	}
	var res app.ReconcileResult
	if err == nil {
		if res, err = k.Payroll.Reconcile(r.Context(), meta, app.ReconcileRequest{BatchID: id, Name: name, Raw: raw}); err == nil {
			k.settle(r.Context(), res.Position)
		}
	}
	k.afterBatch(w, r, id, err, batchData{Reconciliation: &res})
}

// afterBatch shows the batch's page: after a refusal with the reason.
func (k *desk) afterBatch(w http.ResponseWriter, r *http.Request, id string, err error, d batchData) {
	switch {
	case err == nil && d.Reconciliation != nil:
		k.showBatch(w, r, id, http.StatusOK, d)
	case err == nil:
		http.Redirect(w, r, "/payroll/batches/"+id, http.StatusSeeOther)
	case refusal(err) || errors.Is(err, domain.ErrConflict):
		k.showBatch(w, r, id, http.StatusUnprocessableEntity, batchData{Err: plainError(err)})
	default:
		k.failErr(w, r, err)
	}
}

// The lines of a batch, to review before approving and after the bank's
// return: all of them, or only the exceptions — arrears and reissues (not
// this month's regular payment), lines withheld at approval (no longer
// owed), failed (reissued by the next batch), reversed or rejected — 50 a
// page, with the batch's totals, from the read model of batches' lines
// (projections.BatchLines): the same at any size and in any state.

var kindNames = map[domain.PaymentKind]string{domain.PaymentRegular: "当月", domain.PaymentArrears: "补发", domain.PaymentReissue: "重发"}

var lineStatusNames = map[string]string{
	"drafted": "待批准", "withheld": "暂缓（已不应发）", "rejected": "随批次退回", "issued": "已发放，待回盘",
	"settled": "银行已确认", "failed": "发放失败（下一批次重发）", "reversed": "已冲回",
}

type linesData struct {
	Report           domain.BatchReport // its totals; Lines unset
	Lines            []lineRow          // the page's
	Exceptions       bool
	Withheld         bool // lines were withheld at approval
	Behind           bool // the read model has not yet applied the batch's last step
	Page, Pages, All int
}

type lineRow struct {
	domain.BatchReportLine
	Name, Kind, Status string
}

func (k *desk) batchLines(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "batch")
	d := linesData{Exceptions: r.URL.Query().Get("show") != "all"}
	var err error
	if d.Page, err = pageParam(r); err != nil {
		k.badQuery(w, r, err)
		return
	}
	b, err := k.Payroll.Batch(r.Context(), id)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	lines, matching, totals, err := k.Finance.BatchLines(r.Context(), id, d.Exceptions, pageSize, (d.Page-1)*pageSize)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	d.Report = domain.BatchReport{BatchID: id, Program: b.Opened.Program, Period: b.Opened.Period, State: b.State}
	for _, t := range totals {
		d.Report.Count(b.ReportStatus(t.Status), t.CountTotal)
	}
	d.All, d.Withheld = matching, d.Report.Withheld.Count > 0
	last := b.DraftedAt
	for _, p := range []domain.Position{b.IssuedAt, b.ReleasedAt} {
		if last.Less(p) {
			last = p
		}
	}
	d.Behind = !k.reached(r.Context(), last)
	d.Pages = max((d.All+pageSize-1)/pageSize, 1)
	if d.Page > d.Pages {
		k.badQuery(w, r, domain.Invalid("page", "%d is not a page between 1 and %d", d.Page, d.Pages))
		return
	}
	ids := make([]domain.PersonID, len(lines))
	for i, l := range lines {
		ids[i] = l.PersonID
	}
	persons, err := k.Persons.PersonsByID(r.Context(), ids)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	names := make(map[domain.PersonID]string, len(persons))
	for _, p := range persons {
		names[p.PersonID] = p.Name
	}
	for _, l := range lines {
		l.Status = b.ReportStatus(l.Status)
		d.Lines = append(d.Lines, lineRow{BatchReportLine: l, Name: names[l.PersonID], Kind: kindNames[l.Kind], Status: lineStatusNames[l.Status]})
	}
	p, _ := domain.LookupProgram(b.Opened.Program)
	k.render(w, r, http.StatusOK, "lines", p.Name+" · "+monthText(b.Opened.Period)+" · 逐笔", d)
}
