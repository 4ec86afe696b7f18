package reports_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// -update rewrites the golden files in testdata (go test ./reports -run
// Changes -update). The annual summary's tests may define the same flag
// in this package; whoever comes second only looks it up.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func changesUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// changesCST is China Standard Time: the fixture's clock reads like the clerks'.
var changesCST = time.FixedZone("CST", 8*60*60)

func changesAt(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, changesCST)
	if err != nil {
		panic(err)
	}
	return t
}

var changesKey = domain.LookupKey("reports-test-lookup-key-0123456789abcdef")

// changesLedger is a real schema and store with the changelog projection.
type changesLedger struct {
	t     *testing.T
	db    *pgtest.Schema
	store *pgstore.Store
	h     *app.Persons
	cmds  int
	ids   map[string]domain.ResidentID // by name
	pids  map[string]domain.PersonID
}

func newChangesLedger(t *testing.T) *changesLedger {
	t.Helper()
	db := pgtest.NewSchema(t)
	s := pgstore.New(db.Pool)
	t.Cleanup(s.Close)
	return &changesLedger{t: t, db: db, store: s, h: app.NewPersons(s), ids: map[string]domain.ResidentID{}, pids: map[string]domain.PersonID{}}
}

// do runs a command on the person called name, recorded at when (CST).
func (l *changesLedger) do(name, when string, c domain.Command) {
	l.t.Helper()
	l.cmds++
	meta := domain.CommandMeta{CommandID: fmt.Sprintf("fixture-%d", l.cmds), Actor: "clerk.zhou", Role: "clerk", Now: changesAt(when)}
	if _, err := l.h.Execute(context.Background(), l.pids[name], meta, c); err != nil {
		l.t.Fatalf("%s at %s: %T: %v", name, when, c, err)
	}
}

// register registers a person born on birth (sequence seq) in township.
func (l *changesLedger) register(name, township, birth string, seq int, hh domain.HouseholdStatus, when string) {
	l.t.Helper()
	id, err := domain.NewResidentID("360429", domain.MustDate(birth), seq)
	if err != nil {
		l.t.Fatal(err)
	}
	hash := changesKey.Hash(id)
	l.ids[name], l.pids[name] = id, domain.PersonIDFromHash(hash)
	l.do(name, when, domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: name, Township: township, Household: hh,
		RegisteredOn: domain.DateOf(changesAt(when))})
}

func (l *changesLedger) certificate(name string, cat domain.DisabilityCategory, grade domain.DisabilityGrade, when string) {
	l.t.Helper()
	n, err := domain.NewCertificateNumber(l.ids[name], cat, grade)
	if err != nil {
		l.t.Fatal(err)
	}
	l.do(name, when, domain.IssueCertificate{Number: n, IssuedOn: domain.DateOf(changesAt(when)), ValidUntil: domain.DateOf(changesAt(when)).AddDays(3650)})
}

// project brings the changelog up to date.
func (l *changesLedger) project() {
	l.t.Helper()
	r := &projections.Runner{Pool: l.db.Pool, Store: l.store, Projections: []projections.Projection{projections.ChangelogProjection{}},
		Log: slog.New(slog.DiscardHandler)}
	if err := r.RunOnce(context.Background()); err != nil {
		l.t.Fatal(err)
	}
	lag, err := projections.ChangelogCaughtUp(context.Background(), l.db.Pool, l.store)
	if err != nil || !lag.CaughtUp() {
		l.t.Fatalf("changelog not caught up: %+v, %v", lag, err)
	}
}

// source is what the ledger's notices are made from.
func (l *changesLedger) source() reports.NoticeSource {
	return reports.NoticeSource{Changelog: projections.ReadModels{Q: l.db.Pool, Store: l.store}, Store: l.store}
}

// issue issues a notice as clerk.zhou at now (CST).
func (l *changesLedger) issue(cmdID, now string, req app.ChangesRequest) (app.ChangesIssued, error) {
	return app.NewNotices(l.store).IssueChanges(context.Background(), l.source(),
		domain.CommandMeta{CommandID: cmdID, Actor: "clerk.zhou", Role: "clerk", Now: changesAt(now)}, req)
}

// changesFixture records, through the command handler, a month of changes
// around the window 2024-11-21..2024-12-20 (recording dates in China
// Standard Time), with some just outside it.
func changesFixture(t *testing.T) *changesLedger {
	l := newChangesLedger(t)
	dibao := domain.HouseholdStatus{Dibao: true}
	// Before the window.
	l.register("张三", "白鹿镇", "1950-02-03", 11, dibao, "2024-10-05 09:00")
	l.certificate("张三", domain.CategoryVisual, 2, "2024-10-05 09:10")
	l.do("张三", "2024-10-06 10:00", domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-11-01")})
	l.register("王五", "蛟塘镇", "1975-08-19", 23, domain.HouseholdStatus{}, "2024-10-08 11:00")
	l.certificate("王五", domain.CategoryPhysical, 4, "2024-10-08 11:05")
	l.register("赵六", "温泉镇", "1968-03-30", 31, domain.HouseholdStatus{Class: domain.HouseholdLiftedFromPoverty}, "2024-11-20 23:59")

	// In the window. 00:30 CST on the 21st is still the 20th in UTC.
	l.do("王五", "2024-11-21 00:30", domain.ChangeHouseholdStatus{Status: domain.HouseholdStatus{Class: domain.HouseholdMonitoredMarginal},
		EffectiveOn: domain.MustDate("2024-11-20")})
	l.register("李四", "星子镇", "1988-12-01", 45, domain.HouseholdStatus{}, "2024-11-25 09:30")
	l.certificate("李四", domain.CategoryPhysical, 3, "2024-11-25 09:40")
	l.do("张三", "2024-12-02 09:00", domain.RecordDeath{DateOfDeath: domain.MustDate("2024-12-01")})
	l.certificate("赵六", domain.CategoryIntellectual, 1, "2024-12-03 15:00")
	l.do("赵六", "2024-12-03 15:20", domain.GrantEntitlement{Program: domain.ProgramIncapacitySubsidy, EffectiveFrom: domain.MustDate("2025-01-01"),
		Amount: domain.MustMoney("200.00")})
	l.do("王五", "2024-12-05 10:00", domain.GrantEntitlement{Program: domain.ProgramPublicWelfareJob, EffectiveFrom: domain.MustDate("2024-12-01"),
		Amount: domain.MustMoney("800.00"), Attributes: domain.GrantAttributes{Post: domain.PostLibraryManager}})
	l.do("李四", "2024-12-10 14:00", domain.RegradeCertificate{Grade: 2, Category: domain.CategoryPhysical, EffectiveOn: domain.MustDate("2024-12-10")})
	l.do("李四", "2024-12-11 09:00", domain.GrantEntitlement{Program: domain.ProgramCareSubsidy, EffectiveFrom: domain.MustDate("2025-01-01")})
	l.do("李四", "2024-12-15 16:00", domain.MovePerson{ToTownship: "白鹿镇", EffectiveOn: domain.MustDate("2024-12-15")})
	l.do("王五", "2024-12-20 23:59", domain.SuspendEntitlement{Program: domain.ProgramPublicWelfareJob, EffectiveOn: domain.MustDate("2025-01-01"),
		ReasonCode: domain.SuspensionUnderReview})

	// After the window: for the next notice.
	l.do("王五", "2024-12-21 00:01", domain.ChangeHouseholdStatus{Status: domain.HouseholdStatus{Class: domain.HouseholdMonitoredMarginal, Dibao: true},
		EffectiveOn: domain.MustDate("2024-12-20")})
	l.do("赵六", "2025-01-08 10:00", domain.RevokeCertificate{ReasonCode: domain.RevocationErrorCorrection, EffectiveOn: domain.MustDate("2025-01-31")})
	l.project()
	return l
}

var changesGroupRow = regexp.MustCompile(`(?m)^乡镇\(Township\) [^|\n]*: \d+$`)

var changesDec = app.ChangesRequest{From: domain.MustDate("2024-11-21"), To: domain.MustDate("2024-12-20")}

// changesGolden compares got with testdata/name, or rewrites it with -update.
func changesGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if changesUpdating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -run Changes -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// changesXLSXText reads a workbook back with excelize: every sheet's name, then
// its rows, cells separated by " | ".
func changesXLSXText(t *testing.T, file []byte) string {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("the XLSX does not open: %v", err)
	}
	defer x.Close()
	var b strings.Builder
	for _, sheet := range x.GetSheetList() {
		fmt.Fprintf(&b, "[%s]\n", sheet)
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			b.WriteString(strings.Join(r, " | "))
			b.WriteString("\n")
		}
	}
	return b.String()
}

// The notice of 2024-11-21..2024-12-20 for the townships and for each
// department, in CSV and in XLSX (read back with excelize), against golden
// files; and what each recipient may see of the ID numbers.
func TestChangesGolden(t *testing.T) {
	t.Parallel()
	l := changesFixture(t)
	for _, d := range append([]domain.Department{domain.DepartmentNone}, domain.Departments()...) {
		name := string(d)
		if d == domain.DepartmentNone {
			name = "townships"
		}
		// One subtest per recipient: its XLSX is a reissue of the window
		// its CSV recorded first.
		t.Run(name, func(t *testing.T) {
			for _, f := range []reports.ChangesFormat{reports.ChangesCSV, reports.ChangesXLSX} {
				req := changesDec
				req.Department, req.Format = d, string(f)
				if f == reports.ChangesXLSX {
					req.Reissue = true // the CSV recorded the window first
				}
				got, err := l.issue("golden-"+name+"-"+string(f), "2024-12-21 10:00", req)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				sum := sha256.Sum256(got.File)
				if ev := got.Notice; ev.FileSHA256 != hex.EncodeToString(sum[:]) || ev.Format != string(f) || ev.Department != d ||
					ev.From != changesDec.From || ev.To != changesDec.To || ev.IssuedOn != domain.MustDate("2024-12-21") || ev.IssuedBy != "clerk.zhou" {
					t.Errorf("%s: event %+v does not describe the file", f, ev)
				}
				var text string
				if f == reports.ChangesCSV {
					if !bytes.HasPrefix(got.File, []byte("\xef\xbb\xbf")) {
						t.Error("the CSV has no UTF-8 byte-order mark")
					}
					text = string(got.File)
					changesGolden(t, "changes_"+name+".csv", got.File)
				} else {
					text = changesXLSXText(t, got.File)
					changesGolden(t, "changes_"+name+".xlsx.txt", []byte(text))
				}
				rows := strings.Count(text, "\n") - 2
				if f == reports.ChangesXLSX {
					rows = strings.Count(text, "\n") - 3 - len(changesGroupRow.FindAllString(text, -1)) // sheet name, title, header, group rows
				}
				if got.Notice.Rows != rows {
					t.Errorf("%s: event says %d rows; the file has %d", f, got.Notice.Rows, rows)
				}
				full := reports.ChangesPolicyFor(d).FullIDs
				if got.Notice.FullIDs != full {
					t.Errorf("%s: event full_ids = %v; the policy says %v", f, got.Notice.FullIDs, full)
				}
				for person, id := range l.ids {
					if strings.Contains(text, id.Number()) && !full {
						t.Errorf("the %s %s notice shows %s's full ID number", name, f, person)
					}
				}
				if full && !strings.Contains(text, l.ids["李四"].Number()) && d == domain.DepartmentMedicalInsurance {
					t.Errorf("the medical insurance notice lacks 李四's full ID number")
				}
				if full && !strings.Contains(text, l.ids["张三"].Number()) {
					t.Errorf("the %s %s notice lacks 张三's full ID number (his death is in every notice)", name, f)
				}
				for _, outside := range []string{"2024-11-20", "2024-12-21", "2025-01-08"} {
					if strings.Contains(text, "| "+outside+"\n") || strings.Contains(text, ","+outside+"\r\n") {
						t.Errorf("%s: a change recorded on %s is in the window's notice", f, outside)
					}
				}
			}
		})
	}
}

// The next notice starts where the last one ended; an overlap or a gap is
// refused and appends nothing; a retried command returns the same notice.
func TestChangesNextNoticeContinues(t *testing.T) {
	t.Parallel()
	l := changesFixture(t)
	ctx := context.Background()
	req := changesDec
	req.Department, req.Format = domain.DepartmentCivilAffairs, string(reports.ChangesCSV)
	first, err := l.issue("ca-dec", "2024-12-21 10:00", req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Notice.NoticeID != "civil_affairs.2024-12-20.1" || first.Replayed {
		t.Fatalf("first notice %+v", first.Notice)
	}

	// The same command again: the same notice and file, nothing appended.
	again, err := l.issue("ca-dec", "2024-12-21 10:05", req)
	if err != nil || !again.Replayed || again.Notice != first.Notice || !bytes.Equal(again.File, first.File) || again.Result != first.Result {
		t.Fatalf("retry: %+v, %v", again.Notice, err)
	}

	// Refused: overlap, gap, window not over; nothing appended.
	for name, r := range map[string]app.ChangesRequest{
		"overlap": {Department: req.Department, Format: req.Format, From: domain.MustDate("2024-12-15"), To: domain.MustDate("2025-01-20")},
		"gap":     {Department: req.Department, Format: req.Format, From: domain.MustDate("2024-12-23"), To: domain.MustDate("2025-01-20")},
	} {
		var re *domain.RuleError
		if _, err := l.issue("ca-"+name, "2025-01-21 09:00", r); !errors.As(err, &re) {
			t.Errorf("%s: %v; want a rule violation", name, err)
		}
	}
	var fe *domain.FieldError
	if _, err := l.issue("ca-today", "2025-01-20 09:00", app.ChangesRequest{Department: req.Department, Format: req.Format, To: domain.MustDate("2025-01-20")}); !errors.As(err, &fe) || fe.Field != "to" {
		t.Errorf("a window ending today: %v; want a field error on to", err)
	}
	if _, err := l.issue("ca-town", "2025-01-21 09:00", app.ChangesRequest{Department: req.Department, Format: req.Format, Township: "白鹿",
		From: domain.MustDate("2024-12-21"), To: domain.MustDate("2025-01-20")}); !errors.As(err, &fe) || fe.Field != "township" {
		t.Errorf("an unknown township: %v; want a field error on township", err)
	}
	if _, err := l.issue("ca-format", "2025-01-21 09:00", app.ChangesRequest{Department: req.Department, Format: "pdf",
		To: domain.MustDate("2025-01-20")}); !errors.As(err, &fe) || fe.Field != "format" {
		t.Errorf("format pdf: %v; want a field error on format", err)
	}
	if s, err := app.NewNotices(l.store).State(ctx, domain.DepartmentCivilAffairs); err != nil || s.Count != 1 {
		t.Fatalf("after refusals the stream holds %d notices, %v; want 1", s.Count, err)
	}

	// The next month: from defaults to 2024-12-21, and the change recorded
	// at 00:01 that day is in it.
	next, err := l.issue("ca-jan", "2025-01-21 09:00", app.ChangesRequest{Department: req.Department, Format: req.Format, To: domain.MustDate("2025-01-20")})
	if err != nil {
		t.Fatal(err)
	}
	if n := next.Notice; n.From != domain.MustDate("2024-12-21") || n.To != domain.MustDate("2025-01-20") || n.NoticeID != "civil_affairs.2025-01-20.2" || n.Rows != 1 {
		t.Fatalf("next notice %+v; want 2024-12-21..2025-01-20 with one row", n)
	}
	if !strings.Contains(string(next.File), "王五,"+l.ids["王五"].Number()+",家庭状况变更(household_changed)") ||
		!strings.Contains(string(next.File), "监测户(边缘易致贫)、低保,,,监测户(边缘易致贫) → 监测户(边缘易致贫)、低保,2024-12-21") {
		t.Errorf("next notice:\n%s", next.File)
	}
	// Other departments keep their own runs: medical insurance starts fresh.
	if _, err := l.issue("mi-jan", "2025-01-21 09:00", app.ChangesRequest{Department: domain.DepartmentMedicalInsurance, Format: string(reports.ChangesCSV),
		To: domain.MustDate("2025-01-20")}); !errors.As(err, &fe) || fe.Field != "from" {
		t.Errorf("a department's first notice without from: %v; want a field error on from", err)
	}

	// The notices are in the event store, hash-chained.
	recs, err := l.store.ReadStream(ctx, domain.NoticeStream(domain.DepartmentCivilAffairs), domain.Forwards, 0, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("notice stream: %d events, %v", len(recs), err)
	}
	prev := ""
	for _, r := range recs {
		md, err := domain.VerifyHash(r, prev)
		if err != nil {
			t.Fatal(err)
		}
		prev = md.Hash
	}
	list, err := app.NewNotices(l.store).List(ctx)
	if err != nil || len(list) != 2 || list[1].NoticeID != "civil_affairs.2025-01-20.2" {
		t.Errorf("notices listed: %+v, %v", list, err)
	}

	// A file produced again matches its recorded hash.
	file, err := app.NewNotices(l.store).Regenerate(ctx, l.source(), first.Notice)
	if err != nil || !bytes.Equal(file, first.File) {
		t.Errorf("regenerate: %v", err)
	}
	tampered := first.Notice
	tampered.FileSHA256 = strings.Repeat("0", 64)
	if _, err := app.NewNotices(l.store).Regenerate(ctx, l.source(), tampered); !errors.Is(err, app.ErrChangesDiffer) {
		t.Errorf("regenerate against another hash: %v; want ErrChangesDiffer", err)
	}
}

// A township's notice holds only its township; a move is filed under the
// new one.
func TestChangesTownshipFilter(t *testing.T) {
	t.Parallel()
	l := changesFixture(t)
	req := changesDec
	req.Township, req.Format = "白鹿镇", string(reports.ChangesCSV)
	got, err := l.issue("bailu", "2024-12-21 10:00", req)
	if err != nil {
		t.Fatal(err)
	}
	changesGolden(t, "changes_townships_bailu.csv", got.File)
	for _, other := range []string{"星子镇,", "蛟塘镇,", "温泉镇,"} {
		if strings.Contains(string(got.File), "\r\n"+other) {
			t.Errorf("白鹿镇's notice has a row of %s", other)
		}
	}
}
