package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// noticeGiven folds notices as a reader of the notice stream gets them.
func noticeGiven(events ...ChangeNoticeIssued) NoticeState {
	var s NoticeState
	for _, e := range events {
		s = EvolveNotices(s, decoded(e))
	}
	return s
}

func noticeIssued(id, township, from, to string) ChangeNoticeIssued {
	return ChangeNoticeIssued{NoticeID: id, Department: DepartmentCivilAffairs, Township: township, From: d(from), To: d(to),
		Format: "csv", Rows: 3, FullIDs: true, FileSHA256: sha64, IssuedBy: "clerk.zhou", IssuedOn: d(to).AddDays(1)}
}

const sha64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestPlanChangeNotice(t *testing.T) {
	today := d("2024-12-21")
	nov := noticeIssued("civil_affairs.2024-11-20.1", "", "2024-10-21", "2024-11-20")
	novBailu := noticeIssued("civil_affairs.2024-11-20.2", "白鹿镇", "2024-11-01", "2024-11-20")
	ca := func(from, to string) IssueChangeNotice {
		c := IssueChangeNotice{Department: DepartmentCivilAffairs, To: d(to), IssuedBy: "clerk.zhou"}
		if from != "" {
			c.From = d(from)
		}
		return c
	}
	tests := []struct {
		name     string
		given    NoticeState
		when     IssueChangeNotice
		today    Date
		want     ChangeNoticePlan
		wantErr  error
		wantRule string
		field    string
	}{
		{name: "first notice with its window", when: ca("2024-11-21", "2024-12-20"),
			want: ChangeNoticePlan{NoticeID: "civil_affairs.2024-12-20.1", Department: DepartmentCivilAffairs, From: d("2024-11-21"), To: d("2024-12-20"), IssuedOn: today}},
		{name: "from defaults to the day after the last notice ended", given: noticeGiven(nov, novBailu), when: ca("", "2024-12-20"),
			want: ChangeNoticePlan{NoticeID: "civil_affairs.2024-12-20.3", Department: DepartmentCivilAffairs, From: d("2024-11-21"), To: d("2024-12-20"), IssuedOn: today}},
		{name: "each township keeps its own run", given: noticeGiven(nov, novBailu),
			when: IssueChangeNotice{Department: DepartmentCivilAffairs, Township: "白鹿镇", To: d("2024-12-10"), IssuedBy: "u"},
			want: ChangeNoticePlan{NoticeID: "civil_affairs.2024-12-10.3", Department: DepartmentCivilAffairs, Township: "白鹿镇", From: d("2024-11-21"), To: d("2024-12-10"), IssuedOn: today}},
		{name: "an explicit from that continues is fine", given: noticeGiven(nov), when: ca("2024-11-21", "2024-12-20"),
			want: ChangeNoticePlan{NoticeID: "civil_affairs.2024-12-20.2", Department: DepartmentCivilAffairs, From: d("2024-11-21"), To: d("2024-12-20"), IssuedOn: today}},
		{name: "first notice needs a from", when: ca("", "2024-12-20"), wantErr: ErrInvalid, field: "from"},
		{name: "a township's first notice needs a from even when all-township notices exist", given: noticeGiven(nov),
			when: IssueChangeNotice{Department: DepartmentCivilAffairs, Township: "星子镇", To: d("2024-12-20"), IssuedBy: "u"}, wantErr: ErrInvalid, field: "from"},
		{name: "to is required", when: IssueChangeNotice{Department: DepartmentCivilAffairs, From: d("2024-11-21"), IssuedBy: "u"}, wantErr: ErrInvalid, field: "to"},
		{name: "to before from", when: ca("2024-12-20", "2024-11-21"), wantErr: ErrInvalid, field: "to"},
		{name: "to in the future", when: ca("2024-11-21", "2024-12-25"), wantErr: ErrInvalid, field: "to"},
		{name: "to today: the day is not over", when: ca("2024-11-21", "2024-12-21"), wantErr: ErrInvalid, field: "to"},
		{name: "unknown department", when: IssueChangeNotice{Department: "police", From: d("2024-11-21"), To: d("2024-12-20"), IssuedBy: "u"}, wantErr: ErrInvalid, field: "department"},
		{name: "township with spaces around", when: IssueChangeNotice{Township: " 白鹿镇", From: d("2024-11-21"), To: d("2024-12-20"), IssuedBy: "u"}, wantErr: ErrInvalid, field: "township"},
		{name: "no user", when: IssueChangeNotice{From: d("2024-11-21"), To: d("2024-12-20")}, wantErr: ErrInvalid, field: "issued_by"},
		{name: "overlap with the previous notice", given: noticeGiven(nov), when: ca("2024-11-15", "2024-12-20"), wantErr: ErrRuleViolation, wantRule: RuleNoticeOverlap},
		{name: "a window already covered", given: noticeGiven(nov), when: ca("", "2024-11-20"), wantErr: ErrRuleViolation, wantRule: RuleNoticeOverlap},
		{name: "a gap after the previous notice", given: noticeGiven(nov), when: ca("2024-11-25", "2024-12-20"), wantErr: ErrRuleViolation, wantRule: RuleNoticeGap},
		{name: "a reissue of a covered window", given: noticeGiven(nov), when: IssueChangeNotice{Department: DepartmentCivilAffairs, From: d("2024-10-21"), To: d("2024-11-20"), Reissue: true, IssuedBy: "u"},
			want: ChangeNoticePlan{NoticeID: "civil_affairs.2024-11-20.2", Department: DepartmentCivilAffairs, From: d("2024-10-21"), To: d("2024-11-20"), IssuedOn: today, Reissue: true}},
		{name: "a reissue beyond what was covered", given: noticeGiven(nov), when: IssueChangeNotice{Department: DepartmentCivilAffairs, From: d("2024-11-01"), To: d("2024-12-01"), Reissue: true, IssuedBy: "u"},
			wantErr: ErrRuleViolation, wantRule: RuleReissueNotCovered},
		{name: "a reissue with nothing issued", when: IssueChangeNotice{Department: DepartmentCivilAffairs, From: d("2024-11-01"), To: d("2024-11-20"), Reissue: true, IssuedBy: "u"},
			wantErr: ErrRuleViolation, wantRule: RuleReissueNotCovered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			day := tc.today
			if day.IsZero() {
				day = today
			}
			got, err := PlanChangeNotice(tc.given, tc.when, day)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v; want %v", err, tc.wantErr)
				}
				var fe *FieldError
				if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
					t.Errorf("err = %v; want a field error on %s", err, tc.field)
				}
				var re *RuleError
				if tc.wantRule != "" && (!errors.As(err, &re) || re.Rule != tc.wantRule) {
					t.Errorf("err = %v; want rule %s", err, tc.wantRule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !samePlan(got, tc.want) {
				t.Errorf("plan %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A reissue neither moves the next notice's start nor counts as coverage.
func TestEvolveNoticesReissue(t *testing.T) {
	nov := noticeIssued("civil_affairs.2024-11-20.1", "", "2024-10-21", "2024-11-20")
	re := noticeIssued("civil_affairs.2024-11-20.2", "", "2024-11-01", "2024-11-20")
	re.Reissue = true
	s0 := noticeGiven(nov)
	s := EvolveNotices(s0, decoded(re))
	if c := s.Coverage[""]; c.First != d("2024-10-21") || c.To != d("2024-11-20") || c.NoticeID != nov.NoticeID || s.Count != 2 || len(s.Notices) != 2 {
		t.Errorf("after a reissue: %+v", s)
	}
	if len(s0.Notices) != 1 || s0.Count != 1 {
		t.Errorf("evolve changed the previous state: %+v", s0)
	}
}

func TestDecideChangeNotice(t *testing.T) {
	today := d("2024-12-21")
	c := IssueChangeNotice{Department: DepartmentMedicalInsurance, Township: "白鹿镇", From: d("2024-11-21"), To: d("2024-12-20"), IssuedBy: "clerk.zhou"}
	p, err := PlanChangeNotice(NoticeState{}, c, today)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := DecideChangeNotice(NoticeState{}, c, p, NoticeFile{Format: "xlsx", Rows: 7, FullIDs: true, FileSHA256: sha64}, today)
	if err != nil {
		t.Fatal(err)
	}
	want := ChangeNoticeIssued{NoticeID: "medical_insurance.2024-12-20.1", Department: DepartmentMedicalInsurance, Township: "白鹿镇",
		From: d("2024-11-21"), To: d("2024-12-20"), Format: "xlsx", Rows: 7, FullIDs: true, FileSHA256: sha64, IssuedBy: "clerk.zhou", IssuedOn: today}
	if len(evs) != 1 || !reflect.DeepEqual(evs[0], want) {
		t.Errorf("events %+v\nwant %+v", evs, want)
	}
	for name, f := range map[string]NoticeFile{
		"format":      {Format: "pdf", FileSHA256: sha64},
		"file_sha256": {Format: "csv", FileSHA256: "ABC"},
		"rows":        {Format: "csv", Rows: -1, FileSHA256: sha64},
	} {
		var fe *FieldError
		if _, err := DecideChangeNotice(NoticeState{}, c, p, f, today); !errors.As(err, &fe) || fe.Field != name {
			t.Errorf("%s: %v; want a field error on %s", name, err, name)
		}
	}
	// Planned on a state another notice has since changed.
	moved := noticeGiven(noticeIssued("x", "白鹿镇", "2024-11-21", "2024-11-30"))
	if _, err := DecideChangeNotice(moved, IssueChangeNotice{Department: c.Department, Township: c.Township, To: c.To, IssuedBy: c.IssuedBy}, p,
		NoticeFile{Format: "csv", FileSHA256: sha64}, today); !errors.Is(err, ErrConcurrency) {
		t.Errorf("stale plan: %v; want ErrConcurrency", err)
	}
}

func TestShanghaiDateAndStreams(t *testing.T) {
	if got := BusinessDate(time.Date(2024, 12, 20, 16, 30, 0, 0, time.UTC)); got != d("2024-12-21") {
		t.Errorf("16:30 UTC on 2024-12-20 is %s in Shanghai; want 2024-12-21", got)
	}
	if NoticeStream(DepartmentNone) != "notices-townships" || NoticeStream(DepartmentAgriculture) != "notices-agriculture" {
		t.Error(NoticeStream(DepartmentNone), NoticeStream(DepartmentAgriculture))
	}
	if _, err := ParseDepartment("department", "Civil_Affairs"); !errors.Is(err, ErrInvalid) {
		t.Errorf("department codes are exact: %v", err)
	}
}

// The notice event's wire format is frozen like the beneficiary events'
// (go test ./domain -run Golden -update rewrites it), and the ledger
// registry decodes it.
func TestGoldenNoticeEvent(t *testing.T) {
	ev := noticeIssued("civil_affairs.2024-12-20.4", "白鹿镇", "2024-11-21", "2024-12-20")
	ev.Reissue = true
	got, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "events", TypeChangeNoticeIssued+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("wire format of %s changed:\n got %s\nwant %s", TypeChangeNoticeIssued, got, want)
	}
	decoded, err := NewLedgerRegistry().Decode(TypeChangeNoticeIssued, want)
	if err != nil {
		t.Fatal(err)
	}
	if dv := reflect.ValueOf(decoded).Elem().Interface(); !reflect.DeepEqual(dv, ev) {
		t.Errorf("decoded %+v; want %+v", dv, ev)
	}
	if _, ok := Event(ev).(Effective); ok {
		t.Error("a notice has no business date other than the day it is recorded")
	}
}
