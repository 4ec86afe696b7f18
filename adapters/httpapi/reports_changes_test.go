package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

var noticeSeq atomic.Int64

// changeNoticeBody is a valid notice request for the route tests: the
// window before the harness's today (2025-03-10), for the townships and
// then each department in turn.
func changeNoticeBody() map[string]any {
	body := map[string]any{"from": "2025-03-01", "to": "2025-03-09", "format": "csv", "reason": "March notice"}
	depts := []string{"", "civil_affairs", "medical_insurance", "agriculture", "human_resources"}
	if d := depts[int(noticeSeq.Add(1)-1)%len(depts)]; d != "" {
		body["department"] = d
	}
	return body
}

// TestChangeNotice issues notices over HTTP on both event stores: the file
// comes back with its description in headers, a retry gets the same file
// and appends nothing, and bad requests are refused naming the field.
func TestChangeNotice(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"postgres", "esdb"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			ctx := context.Background()
			// Recorded before the harness's today (2025-03-10), through
			// the command handler: a death in 白鹿镇, a move to 星子镇.
			h := app.NewPersons(l.Store)
			cst := time.FixedZone("CST", 8*3600)
			var last domain.AppendResult
			ids := map[string]domain.ResidentID{}
			for i, p := range []struct{ name, township string }{{"孙丽", "白鹿镇"}, {"周强", "蛟塘镇"}} {
				id, _ := domain.NewResidentID("360429", domain.MustDate("1961-05-0"+string(rune('1'+i))), 17)
				ids[p.name] = id
				pid := domain.PersonIDFromHash(testKey.Hash(id))
				for j, c := range []domain.Command{
					domain.RegisterPerson{IDNumber: id, IDHash: testKey.Hash(id), Name: p.name, Township: p.township, RegisteredOn: domain.MustDate("2025-03-03")},
					map[bool]domain.Command{true: domain.RecordDeath{DateOfDeath: domain.MustDate("2025-03-04")},
						false: domain.MovePerson{ToTownship: "星子镇", EffectiveOn: domain.MustDate("2025-03-05")}}[i == 0],
				} {
					meta := domain.CommandMeta{CommandID: p.name + string(rune('a'+j)), Actor: "clerk", Role: "clerk", Now: time.Date(2025, 3, 5+j, 10, 0, 0, 0, cst)}
					var err error
					if last, err = h.Execute(ctx, pid, meta, c); err != nil {
						t.Fatal(err)
					}
				}
			}
			l.caughtUp(last.Position.String())

			body := map[string]any{"from": "2025-03-01", "to": "2025-03-09", "department": "civil_affairs", "format": "csv"}
			k := key()
			r := l.Do("POST", "/v1/reports/changes", "clerk", k, body)
			if r.Status != http.StatusOK {
				t.Fatalf("issue: %d %s", r.Status, r.Body)
			}
			sum := sha256.Sum256(r.Body)
			for hdr, want := range map[string]string{
				"Content-Type":         "text/csv; charset=utf-8",
				"Content-Disposition":  `attachment; filename="change-notice-civil_affairs.2025-03-09.1.csv"`,
				"X-Ledger-Notice-ID":   "civil_affairs.2025-03-09.1",
				"X-Ledger-Window":      "2025-03-01/2025-03-09",
				"X-Ledger-Rows":        "2",
				"X-Ledger-File-SHA256": hex.EncodeToString(sum[:]),
			} {
				if got := r.Header.Get(hdr); got != want {
					t.Errorf("%s: %q, want %q", hdr, got, want)
				}
			}
			if _, err := domain.ParsePosition("X-Ledger-Position", r.Header.Get("X-Ledger-Position")); err != nil {
				t.Error(err)
			}
			csv := string(r.Body)
			if !strings.Contains(csv, "白鹿镇,孙丽,"+ids["孙丽"].Number()+",死亡(person_died)") ||
				!strings.Contains(csv, "星子镇,周强,"+ids["周强"].Number()+",迁入(person_moved)") {
				t.Errorf("civil affairs notice:\n%s", csv)
			}
			events := l.EventCount()

			// The same key and body: the same file, nothing appended.
			again := l.Do("POST", "/v1/reports/changes", "clerk", k, body)
			if again.Status != http.StatusOK || !bytes.Equal(again.Body, r.Body) || again.Header.Get("Idempotent-Replayed") != "true" ||
				again.Header.Get("X-Ledger-Position") != r.Header.Get("X-Ledger-Position") {
				t.Errorf("retry: %d %v %s", again.Status, again.Header, again.Body)
			}
			if n := l.EventCount(); n != events {
				t.Errorf("the retry appended %d events", n-events)
			}
			if p := l.Do("POST", "/v1/reports/changes", "clerk", k, map[string]any{"to": "2025-03-09", "format": "csv"}).Problem(t); p.Code != "idempotency_key_reused" {
				t.Errorf("the key reused for another notice: %+v", p)
			}

			// Refusals name the field or the rule, and append nothing.
			for _, tc := range []struct {
				body  map[string]any
				field string
				rule  string
			}{
				{body: map[string]any{"from": "2025-03-01", "to": "2025-03-09", "department": "civil_affairs", "format": "csv"}, rule: "notice_overlap"},
				{body: map[string]any{"from": "2025-03-01", "to": "2025-03-10", "format": "csv"}, field: "to"},
				{body: map[string]any{"from": "2025-03-01", "format": "csv"}, field: "to"},
				{body: map[string]any{"from": "2025-03-01", "to": "2025-03-09", "format": "pdf"}, field: "format"},
				{body: map[string]any{"from": "2025-03-01", "to": "2025-03-09", "format": "csv", "department": "police"}, field: "department"},
				{body: map[string]any{"from": "2025-02-30", "to": "2025-03-09", "format": "csv"}, field: "from"},
				{body: map[string]any{"to": "2025-03-09", "format": "csv"}, field: "from"},
				{body: map[string]any{"from": "2025-03-01", "to": "2025-03-09", "format": "csv", "township": "白鹿"}, field: "township"},
				{body: map[string]any{"from": "2025-03-01", "to": "2025-03-09", "format": "csv", "colour": "red"}, field: "colour"},
			} {
				r := l.Do("POST", "/v1/reports/changes", "clerk", key(), tc.body)
				p := r.Problem(t)
				switch {
				case tc.rule != "" && (r.Status != http.StatusUnprocessableEntity || p.Rule != tc.rule):
					t.Errorf("%v: %d %+v, want 422 rule %s", tc.body, r.Status, p, tc.rule)
				case tc.field != "" && (r.Status != http.StatusBadRequest || p.Field != tc.field):
					t.Errorf("%v: %d %+v, want 400 on %s", tc.body, r.Status, p, tc.field)
				}
			}
			if n := l.EventCount(); n != events {
				t.Errorf("refused notices appended %d events", n-events)
			}

			// Agriculture as XLSX: masked, read back with excelize.
			x := l.Do("POST", "/v1/reports/changes", "admin", key(), map[string]any{"from": "2025-03-01", "to": "2025-03-09", "department": "agriculture",
				"format": "xlsx", "township": "星子镇"})
			if x.Status != http.StatusOK || x.Header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
				t.Fatalf("xlsx: %d %v %s", x.Status, x.Header, x.Body)
			}
			wb, err := excelize.OpenReader(bytes.NewReader(x.Body))
			if err != nil {
				t.Fatal(err)
			}
			rows, err := wb.GetRows("变动通知")
			wb.Close()
			if err != nil || len(rows) != 4 || rows[2][0] != "乡镇(Township) 星子镇: 1" || rows[3][2] != ids["周强"].Masked() {
				t.Errorf("agriculture rows %q, %v", rows, err)
			}

			// The list, for any staff role.
			list := l.Do("GET", "/v1/reports/changes", "finance", "", nil)
			if list.Status != http.StatusOK {
				t.Fatalf("list: %d %s", list.Status, list.Body)
			}
			notices, _ := list.JSON(t)["notices"].([]any)
			if len(notices) != 2 || notices[0].(map[string]any)["notice_id"] != "civil_affairs.2025-03-09.1" ||
				notices[1].(map[string]any)["full_ids"] != false || notices[1].(map[string]any)["issued_by"] != "admin" {
				t.Errorf("list: %s", list.Body)
			}
			// Without a format, a notice with full ID numbers is an XLSX
			// (text cells), one with masked numbers a CSV.
			for dept, want := range map[string]string{"medical_insurance": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
				"human_resources": "text/csv; charset=utf-8"} {
				r := l.Do("POST", "/v1/reports/changes", "admin", key(), map[string]any{"from": "2025-03-01", "to": "2025-03-09", "department": dept})
				if r.Status != http.StatusOK || r.Header.Get("Content-Type") != want {
					t.Errorf("%s without a format: %d %s, want %s", dept, r.Status, r.Header.Get("Content-Type"), want)
				}
			}

			if p := l.Do("GET", "/v1/reports/changes?department=police", "finance", "", nil).Problem(t); p.Field != "department" {
				t.Errorf("list of an unknown department: %+v", p)
			}
		})
	}
}
