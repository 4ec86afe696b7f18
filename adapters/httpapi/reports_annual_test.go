package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// GET /v1/reports/annual: the summary as JSON (the same bytes as the CLI's
// --format json), CSV and XLSX downloads, and 400s naming the field.
func TestAnnualSummaryOverHTTP(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	f := newFixture(l) // living_subsidy from 2024-02-01, one payment of 100.00 paid 2024-02-20
	f.must("clerk", "POST", "/v1/persons/"+f.pid+"/one-off-grants", map[string]any{
		"grant_id": "cond-1", "program": "condolence", "amount": "500.00", "effective_on": "2024-09-15"})
	f.must("clerk", "POST", "/v1/persons/"+f.pid+"/in-kind-issues", map[string]any{
		"issue_id": "chair-1", "item": "轮椅", "quantity": 3, "unit_value": "350.00", "effective_on": "2024-06-01"})
	// The bank settles February's payment, and the condolence payment is
	// paid and settled, as payroll and reconciliation append them: paid is
	// what settled.
	pid := domain.PersonID(f.pid)
	feb, sep := domain.MustDate("2024-02-01").Period(), domain.MustDate("2024-09-01").Period()
	livingLine := domain.PaymentLine{Reference: "LS-2024-02-" + f.pid, BatchID: "LS-2024-02", PersonID: pid, Program: domain.ProgramLivingSubsidy,
		Period: feb, Kind: domain.PaymentRegular, Amount: domain.MustMoney("100.00"), Township: "星子镇", PaidOn: feb.First().AddDays(19)}
	condLine := domain.PaymentLine{Reference: "CD-2024-09-" + f.pid, BatchID: "CD-2024-09", PersonID: pid, Program: domain.ProgramCondolence,
		Period: sep, Kind: domain.PaymentOneOff, Amount: domain.MustMoney("500.00"), Township: "星子镇", PaidOn: sep.First().AddDays(19)}
	for _, a := range []struct {
		program domain.ProgramCode
		events  []domain.Event
	}{
		{domain.ProgramLivingSubsidy, []domain.Event{domain.PaymentsSettled{BatchID: livingLine.BatchID, Payments: []domain.PaymentSettled{{PaymentLine: livingLine, SettledOn: livingLine.PaidOn.AddDays(2)}}}}},
		{domain.ProgramCondolence, []domain.Event{domain.PaymentsIssued{BatchID: condLine.BatchID, Payments: []domain.PaymentIssued{{PaymentLine: condLine}}},
			domain.PaymentsSettled{BatchID: condLine.BatchID, Payments: []domain.PaymentSettled{{PaymentLine: condLine, SettledOn: condLine.PaidOn.AddDays(2)}}}}},
	} {
		data, err := domain.Seal(domain.CommandMeta{CommandID: "pay-" + string(a.program), Actor: "finance", Role: "finance", Now: time.Now()}, "", a.events)
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Store.Append(context.Background(), domain.PaymentsStream(a.program, domain.PaymentShard(pid)), domain.AnyRevision(), data...)
		if err != nil {
			t.Fatal(err)
		}
		f.after = res.Position.String()
	}

	// ?after= waits at most 5 s; on a loaded machine ask again.
	r := l.Do("GET", "/v1/reports/annual?year=2024&after="+f.after, "auditor", "", nil)
	for deadline := time.Now().Add(30 * time.Second); r.Status == http.StatusServiceUnavailable && time.Now().Before(deadline); {
		r = l.Do("GET", "/v1/reports/annual?year=2024&after="+f.after, "auditor", "", nil)
	}
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Content-Disposition") != "" {
		t.Fatalf("json: %d %v %s\n%s", r.Status, r.Header, r.Body, l.Do("GET", "/v1/projections", "admin", "", nil).Body)
	}
	want, err := reports.Annual(context.Background(), projections.ReadModels{Q: l.DB.Pool}, 2024, domain.MustDate("2025-03-10"))
	if err != nil {
		t.Fatal(err)
	}
	var wantJSON bytes.Buffer
	if err := reports.AnnualWrite(&wantJSON, want, reports.AnnualJSON); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, wantJSON.Bytes()) {
		t.Errorf("body\n%s\nwant\n%s", r.Body, wantJSON.Bytes())
	}
	var got reports.AnnualSummary
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	living, cond, kind := got.Programs[0], got.Programs[12], got.Programs[6]
	switch {
	case living.Program != domain.ProgramLivingSubsidy || living.Cases != 1 || living.Granted != 1 || living.Paid.String() != "100.00":
		t.Errorf("living_subsidy %+v", living)
	case cond.Program != domain.ProgramCondolence || cond.Cases != 1 || cond.Paid.String() != "500.00":
		t.Errorf("condolence %+v", cond)
	case kind.Program != domain.ProgramDeviceInKind || kind.InKindItems != 3 || kind.InKindValue.String() != "1050.00":
		t.Errorf("device_in_kind %+v", kind)
	case got.TotalPaid.String() != "600.00" || got.Households.None != 1:
		t.Errorf("total paid %s, households %+v", got.TotalPaid, got.Households)
	}

	r = l.Do("GET", "/v1/reports/annual?format=csv&year=2024", "finance", "", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		r.Header.Get("Content-Disposition") != `attachment; filename="annual-summary-2024.csv"` ||
		!bytes.HasPrefix(r.Body, []byte("\ufeff年度(Year),")) || !strings.Contains(string(r.Body), "2024,total,total_paid,合计,Total paid,,,,,,600.00,") {
		t.Errorf("csv: %d %v\n%s", r.Status, r.Header, r.Body)
	}
	r = l.Do("GET", "/v1/reports/annual?year=2024&format=xlsx", "admin", "", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != reports.AnnualXLSX.ContentType() ||
		r.Header.Get("Content-Disposition") != `attachment; filename="annual-summary-2024.xlsx"` {
		t.Fatalf("xlsx: %d %v", r.Status, r.Header)
	}
	x, err := excelize.OpenReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if v, _ := x.GetCellValue(reports.AnnualSheet, "K2"); v != "100.00" {
		t.Errorf("xlsx K2 (living_subsidy paid) = %q", v)
	}

	for _, c := range []struct{ query, field string }{
		{"", "year"},
		{"year=", "year"},
		{"year=1999", "year"},
		{"year=2027", "year"}, // the server's today is in 2025
		{"year=two", "year"},
		{"year=2024&format=table", "format"},
		{"year=2024&format=pdf", "format"},
		{"year=2024&format=", "format"},
		{"year=2024&after=nonsense", "after"},
	} {
		r := l.Do("GET", "/v1/reports/annual?"+c.query, "finance", "", nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("?%s: %d %s, want 400", c.query, r.Status, r.Body)
			continue
		}
		if p := r.Problem(t); p.Field != c.field || p.Code != "invalid_"+c.field {
			t.Errorf("?%s: problem %+v, want one naming %s", c.query, p, c.field)
		}
	}
	if r := l.Do("GET", "/v1/reports/annual?year=2024", "clerk", "", nil); r.Status != http.StatusForbidden {
		t.Errorf("as clerk: %d, want 403", r.Status)
	}
}
