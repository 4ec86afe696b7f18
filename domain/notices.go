package domain

import (
	"fmt"
	"strings"
	"time"
)

// The monthly change notice (DESIGN.md §2): around the 20th of each month
// the federation sends townships and departments the changes recorded
// since the last notice. Each notice issued is recorded as an event, so
// the next one starts where the last one ended and an auditor can see what
// was sent, to whom, covering which window, and whether it carried full ID
// numbers (a disclosure under PIPL art. 28).
//
// Streams: NoticeStream(department), one per department and one
// ("notices-townships") for the townships' own notices. Within a stream
// each township (and "" for every township at once) keeps its own run of
// windows.
const (
	TypeChangeNoticeIssued = "notice.ChangeNoticeIssued.v1"
	NoticeStreamPrefix     = "notices-"
)

// Department is a department the federation notifies. The zero value is
// no department: the townships' own notice.
type Department string

// The departments of DESIGN.md §2.
const (
	DepartmentNone             Department = ""
	DepartmentCivilAffairs     Department = "civil_affairs"     // 民政
	DepartmentMedicalInsurance Department = "medical_insurance" // 医保
	DepartmentAgriculture      Department = "agriculture"       // 农业农村
	DepartmentHumanResources   Department = "human_resources"   // 人社
)

// Departments lists every department, in a stable order.
func Departments() []Department {
	return []Department{DepartmentCivilAffairs, DepartmentMedicalInsurance, DepartmentAgriculture, DepartmentHumanResources}
}

// ParseDepartment parses a department code; "" is no department (the
// townships' notice).
func ParseDepartment(field, s string) (Department, error) {
	if s == "" {
		return DepartmentNone, nil
	}
	for _, d := range Departments() {
		if string(d) == s {
			return d, nil
		}
	}
	return "", Invalid(field, "unknown department %s; use civil_affairs, medical_insurance, agriculture or human_resources (or none for the townships' notice)", quoteTrunc(s))
}

// streamKey is the department's part of its stream name.
func (d Department) streamKey() string {
	if d == DepartmentNone {
		return "townships"
	}
	return string(d)
}

// NoticeStream is the stream of the notices sent to a department
// ("notices-townships" for the townships' own notices).
func NoticeStream(d Department) string { return NoticeStreamPrefix + d.streamKey() }

// noticeGrace is how long after midnight a window ending the day before
// still counts as not yet over: a command recorded just before midnight
// may still be committing, and its change belongs to the window that
// ended then.
const noticeGrace = 5 * time.Minute

// NoticeDay is the day a change notice issued at now is issued on: the
// business date a few minutes (noticeGrace) before now.
func NoticeDay(now time.Time) Date { return BusinessDate(now.Add(-noticeGrace)) }

// ChangeNoticeIssued: a change notice was produced and handed over. It
// records what was sent (format, rows, whether full ID numbers were in it,
// the file's SHA-256), to whom (department, township) and covering which
// recording dates (From..To, inclusive, China Standard Time).
type ChangeNoticeIssued struct {
	NoticeID   string     `json:"notice_id"`
	Department Department `json:"department"` // "" for the townships' notice
	Township   string     `json:"township"`   // "" for every township
	From       Date       `json:"from"`
	To         Date       `json:"to"`
	Format     string     `json:"format"` // "csv" or "xlsx"
	Rows       int        `json:"rows"`
	FullIDs    bool       `json:"full_ids"` // the file carries full ID numbers
	FileSHA256 string     `json:"file_sha256"`
	IssuedBy   string     `json:"issued_by"`
	IssuedOn   Date       `json:"issued_on"` // China Standard Time
	// Reissue: the window was covered by earlier notices; this one sends
	// it again (a lost file) and does not move the next notice's start.
	Reissue bool `json:"reissue,omitempty"`
}

func (ChangeNoticeIssued) EventType() string { return TypeChangeNoticeIssued }

func noticeEventProtos() []func() Event {
	return []func() Event{func() Event { return new(ChangeNoticeIssued) }}
}

// NoticeCoverage is what the notices of one department and township have
// covered so far.
type NoticeCoverage struct {
	First    Date   // From of the first notice
	To       Date   // To of the latest (non-reissued) notice
	NoticeID string // that notice
}

// NoticeState is a folded notice stream (one department).
type NoticeState struct {
	Count    int                       // notices in the stream, reissues included
	Coverage map[string]NoticeCoverage // by township ("" for every township)
	Notices  []ChangeNoticeIssued      // oldest first
}

// EvolveNotices applies a notice event (as decoded: a pointer) to the
// state.
func EvolveNotices(s NoticeState, e Event) NoticeState {
	issued, ok := e.(*ChangeNoticeIssued)
	if !ok {
		return s
	}
	n := *issued
	cov := make(map[string]NoticeCoverage, len(s.Coverage)+1)
	for k, v := range s.Coverage {
		cov[k] = v
	}
	c, ok := cov[n.Township]
	if !ok {
		c.First = n.From
	}
	if !n.Reissue && n.To.After(c.To) {
		c.To, c.NoticeID = n.To, n.NoticeID
	}
	cov[n.Township] = c
	s.Coverage = cov
	s.Count++
	s.Notices = append(s.Notices[:len(s.Notices):len(s.Notices)], n)
	return s
}

// IssueChangeNotice asks for a change notice. From may be zero: the notice
// then starts the day after the last notice of the same department and
// township ended.
type IssueChangeNotice struct {
	Department Department
	Township   string // "" for every township
	From       Date
	To         Date
	Reissue    bool
	IssuedBy   string
}

// ChangeNoticePlan is a notice request with its window settled: what the
// file must cover.
type ChangeNoticePlan struct {
	NoticeID   string
	Department Department
	Township   string
	From, To   Date
	IssuedOn   Date
	Reissue    bool
}

// NoticeFile describes the file produced for a plan.
type NoticeFile struct {
	Format     string // "csv" or "xlsx"
	Rows       int
	FullIDs    bool
	FileSHA256 string // hex
}

// Rule codes of change notices.
const (
	RuleNoticeOverlap     = "notice_overlap"      // the window repeats days an earlier notice covered
	RuleNoticeGap         = "notice_gap"          // the window skips days no notice covered
	RuleReissueNotCovered = "reissue_not_covered" // a reissue of days never notified
)

// PlanChangeNotice settles a request's window against the notices already
// issued, on day today (China Standard Time). A window must have ended
// before today: changes can still be recorded today, and the next notice
// starts the day after this one's To, so a notice ending today would leave
// today's later changes unsent. A new notice continues exactly where the
// last one of its department and township ended — an overlap would notify
// a change twice, a gap not at all — unless it is a reissue, which resends
// a window wholly covered before.
func PlanChangeNotice(s NoticeState, c IssueChangeNotice, today Date) (ChangeNoticePlan, error) {
	if _, err := ParseDepartment("department", string(c.Department)); err != nil {
		return ChangeNoticePlan{}, err
	}
	if c.Township != "" {
		if err := checkText("township", c.Township, 50); err != nil {
			return ChangeNoticePlan{}, err
		}
	}
	if strings.TrimSpace(c.IssuedBy) == "" {
		return ChangeNoticePlan{}, Invalid("issued_by", "is required")
	}
	switch {
	case c.To.IsZero():
		return ChangeNoticePlan{}, Invalid("to", "is required (YYYY-MM-DD)")
	case today.IsZero():
		return ChangeNoticePlan{}, Invalid("now", "is required")
	case !c.To.Before(today):
		return ChangeNoticePlan{}, Invalid("to", "%s has not ended yet (today is %s in China Standard Time); a notice covers whole days already over, so end it on %s at the latest",
			c.To, today, today.AddDays(-1))
	}
	who := c.Department.streamKey()
	if c.Township != "" {
		who += " for " + c.Township
	}
	cov, seen := s.Coverage[c.Township]
	from := c.From
	if from.IsZero() {
		if !seen || c.Reissue {
			return ChangeNoticePlan{}, Invalid("from", "is required: there is no earlier notice of %s to continue from", who)
		}
		from = cov.To.AddDays(1)
		if from.After(c.To) {
			return ChangeNoticePlan{}, Violation(RuleNoticeOverlap, "notice %s already covered %s up to %s; the next notice starts on %s, so to must be %s or later",
				cov.NoticeID, who, cov.To, from, from)
		}
	}
	if c.To.Before(from) {
		return ChangeNoticePlan{}, Invalid("to", "%s is before from %s", c.To, from)
	}
	switch {
	case c.Reissue:
		if !seen || from.Before(cov.First) || c.To.After(cov.To) {
			covered := "nothing yet"
			if seen {
				covered = fmt.Sprintf("%s to %s", cov.First, cov.To)
			}
			return ChangeNoticePlan{}, Violation(RuleReissueNotCovered, "a reissue resends days already notified, but notices of %s covered %s, not all of %s to %s",
				who, covered, from, c.To)
		}
	case seen && !from.After(cov.To):
		return ChangeNoticePlan{}, Violation(RuleNoticeOverlap, "from %s overlaps notice %s, which covered %s up to %s; start on %s (or omit from), or ask for a reissue",
			from, cov.NoticeID, who, cov.To, cov.To.AddDays(1))
	case seen && from.After(cov.To.AddDays(1)):
		return ChangeNoticePlan{}, Violation(RuleNoticeGap, "from %s leaves %s to %s unnotified: notice %s of %s ended on %s; start on %s (or omit from)",
			from, cov.To.AddDays(1), from.AddDays(-1), cov.NoticeID, who, cov.To, cov.To.AddDays(1))
	}
	return ChangeNoticePlan{
		NoticeID:   fmt.Sprintf("%s.%s.%d", c.Department.streamKey(), c.To, s.Count+1),
		Department: c.Department, Township: c.Township, From: from, To: c.To, IssuedOn: today, Reissue: c.Reissue,
	}, nil
}

// DecideChangeNotice decides the event recording a notice whose file was
// produced for plan p: it plans c again (the state may only be the one p
// was planned on) and checks the file.
func DecideChangeNotice(s NoticeState, c IssueChangeNotice, p ChangeNoticePlan, f NoticeFile, today Date) ([]Event, error) {
	again, err := PlanChangeNotice(s, c, today)
	if err != nil {
		return nil, err
	}
	if !samePlan(again, p) {
		return nil, fmt.Errorf("change notice %s was planned on another state of %s: %w", p.NoticeID, NoticeStream(c.Department), ErrConcurrency)
	}
	switch {
	case f.Format != "csv" && f.Format != "xlsx":
		return nil, Invalid("format", "%s is neither csv nor xlsx", quoteTrunc(f.Format))
	case f.Rows < 0:
		return nil, Invalid("rows", "is negative")
	case len(f.FileSHA256) != 64 || strings.Trim(f.FileSHA256, "0123456789abcdef") != "":
		return nil, Invalid("file_sha256", "is not a lowercase hex SHA-256")
	}
	return []Event{ChangeNoticeIssued{
		NoticeID: p.NoticeID, Department: p.Department, Township: p.Township, From: p.From, To: p.To,
		Format: f.Format, Rows: f.Rows, FullIDs: f.FullIDs, FileSHA256: f.FileSHA256,
		IssuedBy: c.IssuedBy, IssuedOn: p.IssuedOn, Reissue: p.Reissue,
	}}, nil
}

func samePlan(a, b ChangeNoticePlan) bool {
	return a.NoticeID == b.NoticeID && a.Department == b.Department && a.Township == b.Township &&
		a.From.Equal(b.From) && a.To.Equal(b.To) && a.IssuedOn.Equal(b.IssuedOn) && a.Reissue == b.Reissue
}
