package reports

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// A name typed as a formula is written as text in the CSV, and every row is
// as wide as the header, the title included, for every recipient.
func TestChangesCSVIsSafeAndRectangular(t *testing.T) {
	details, _ := json.Marshal(map[string]any{"date_of_death": "2024-12-01"})
	for _, d := range append([]domain.Department{domain.DepartmentNone}, domain.Departments()...) {
		n := ChangesNotice{
			Plan: domain.ChangeNoticePlan{NoticeID: "x.2024-12-20.1", Department: d, From: domain.MustDate("2024-11-21"),
				To: domain.MustDate("2024-12-20"), IssuedOn: domain.MustDate("2024-12-21"), Reissue: true},
			Policy: ChangesPolicyFor(d),
			Lines: []ChangesLine{{ChangeRow: projections.ChangeRow{Township: "+白鹿镇", Name: "=HYPERLINK(\"http://x\")", Kind: projections.ChangePersonDied,
				EffectiveDate: domain.MustDate("2024-12-01"), RecordedOn: domain.MustDate("2024-12-02"), Details: details}, IDNumber: "@360429"}},
		}
		var buf bytes.Buffer
		if err := WriteChanges(&buf, ChangesCSV, n); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		out := buf.String()
		for _, bad := range []string{"\r\n+白鹿镇", ",\"=HYPERLINK", ",@360429"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: a formula cell is written as is (%q):\n%s", d, bad, out)
			}
		}
		if !strings.Contains(out, "'+白鹿镇,\"'=HYPERLINK(\"\"http://x\"\")\",'@360429") {
			t.Errorf("%s: formula cells not quoted with an apostrophe:\n%s", d, out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		if len(lines) != 3 {
			t.Fatalf("%s: %d lines", d, len(lines))
		}
		for i, l := range lines {
			if got, want := strings.Count(l, ","), len(n.Policy.Columns)-1; got < want {
				t.Errorf("%s line %d has %d commas; want at least %d", d, i+1, got, want)
			}
		}
		if _, err := ParseChangesFormat("format", "CSV"); err == nil {
			t.Error("format codes are exact")
		}
	}
}
