package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CountTotal is a number of payment lines and their sum.
type CountTotal struct {
	Count int   `json:"count"`
	Total Money `json:"total"`
}

func (c *CountTotal) add(m Money) {
	c.Count++
	c.Total = c.Total.Add(m)
}

// Plus returns c with one more line of amount m.
func (c CountTotal) Plus(m Money) CountTotal {
	c.add(m)
	return c
}

// Add returns c and o together.
func (c CountTotal) Add(o CountTotal) CountTotal {
	return CountTotal{Count: c.Count + o.Count, Total: c.Total.Add(o.Total)}
}

// BatchReportLine is one line of a batch with its payment's status.
type BatchReportLine struct {
	PayrollLine
	// Status is drafted (reserved, not yet issued), withheld (released on
	// approval: no longer owed), rejected (released with its batch),
	// issued, settled, failed or reversed.
	Status string `json:"status"`
}

// BatchReport is a batch's lines and its expected, settled, failed,
// reversed and outstanding totals; every total is the sum of its lines.
type BatchReport struct {
	BatchID     string      `json:"batch_id"`
	Program     ProgramCode `json:"program"`
	Period      Period      `json:"period"`
	State       string      `json:"state"`
	DraftedBy   string      `json:"drafted_by"`
	ApprovedBy  string      `json:"approved_by,omitempty"`
	RejectedBy  string      `json:"rejected_by,omitempty"`
	PaidOn      Date        `json:"paid_on"`
	Expected    CountTotal  `json:"expected"`
	Withheld    CountTotal  `json:"withheld"`
	Settled     CountTotal  `json:"settled"`
	Failed      CountTotal  `json:"failed"`
	Reversed    CountTotal  `json:"reversed"`
	Outstanding CountTotal  `json:"outstanding"` // drafted or issued, not yet settled or failed
	// Progress is set while a long step runs (or waits to be resumed):
	// drafting, issuing, rejecting or reconciling a return file.
	Progress *BatchProgress    `json:"progress,omitempty"`
	Lines    []BatchReportLine `json:"lines"`
}

// BatchProgress is how far a batch's long step went: lines reserved while
// it is drafted, issued (or withheld) while it is approved, released while
// it is rejected, settled or failed while a return file is reconciled.
type BatchProgress struct {
	Step  string `json:"step"` // reserving, issuing, releasing or reconciling
	Done  int    `json:"done"`
	Total int    `json:"total,omitempty"` // 0 while reserving: not known until the draft ends
	// File is the SHA-256 of the return file being reconciled: importing
	// it again finishes the step.
	File string `json:"file_sha256,omitempty"`
}

func (p BatchProgress) String() string {
	if p.Step == "reconciling" {
		return fmt.Sprintf("settled or failed %s lines of the return file %.12s… (%s lines); importing the same file again finishes it",
			thousands(p.Done), p.File, thousands(p.Total))
	}
	done := map[string]string{"reserving": "reserved", "issuing": "issued", "releasing": "released"}[p.Step]
	if p.Total == 0 {
		return fmt.Sprintf("%s %s lines so far", done, thousands(p.Done))
	}
	return fmt.Sprintf("%s %s of %s lines", done, thousands(p.Done), thousands(p.Total))
}

// thousands writes n with thousands separators, e.g. 1,000,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ReportStatus names a line's status in a payments shard as b's report
// does: a reserved line is drafted; a released one withheld (on approval:
// its month was no longer owed), or rejected with its batch; the others
// keep their names (issued, settled, failed, reversed).
func (b Batch) ReportStatus(shardStatus string) string {
	switch shardStatus {
	case LineReserved:
		return "drafted"
	case LineReleased:
		if b.Rejected != nil {
			return "rejected"
		}
		return "withheld"
	}
	return shardStatus
}

// Count adds c, lines in report status st (ReportStatus), to r's totals:
// every line is expected; a rejected line is in no other total, a drafted
// or issued one is outstanding.
func (r *BatchReport) Count(st string, c CountTotal) {
	r.Expected = r.Expected.Add(c)
	switch st {
	case LineSettled:
		r.Settled = r.Settled.Add(c)
	case LineFailed:
		r.Failed = r.Failed.Add(c)
	case LineReversed:
		r.Reversed = r.Reversed.Add(c)
	case "withheld":
		r.Withheld = r.Withheld.Add(c)
	case "rejected": // never issued
	default:
		r.Outstanding = r.Outstanding.Add(c)
	}
}

// NewBatchReport reports a batch from its payroll stream and its lines as
// the payment shards tell them (in any order; the report sorts them by
// reference).
func NewBatchReport(b Batch, lines []ShardLine) BatchReport {
	o := b.Opened
	r := BatchReport{BatchID: o.BatchID, Program: o.Program, Period: o.Period, State: b.State, DraftedBy: o.DraftedBy,
		PaidOn: o.PaidOn, Lines: []BatchReportLine{}}
	if b.Approved != nil {
		r.ApprovedBy = b.Approved.ApprovedBy
	}
	if b.Rejected != nil {
		r.RejectedBy = b.Rejected.RejectedBy
	}
	lines = slices.Clone(lines)
	slices.SortFunc(lines, func(x, y ShardLine) int { return strings.Compare(x.Reference, y.Reference) })
	for _, l := range lines {
		st := b.ReportStatus(l.Status)
		r.Count(st, CountTotal{}.Plus(l.Amount))
		r.Lines = append(r.Lines, BatchReportLine{PayrollLine: l.PayrollLine, Status: st})
	}
	switch b.State {
	case BatchStateDrafting:
		r.Progress = &BatchProgress{Step: "reserving", Done: len(lines)}
	case BatchStateIssuing, BatchStateRejecting:
		r.Progress = &BatchProgress{Step: "issuing", Total: len(lines)}
		if b.State == BatchStateRejecting {
			r.Progress.Step = "releasing"
		}
		for _, l := range lines {
			if l.Status != LineReserved {
				r.Progress.Done++
			}
		}
	case BatchStateApproved:
		if len(b.Reconciling) > 0 {
			f := b.Reconciling[0]
			r.Progress = &BatchProgress{Step: "reconciling", Total: f.Lines, File: f.FileSHA256}
			for _, l := range lines {
				if l.SettledBy == f.FileSHA256 || l.FailedBy == f.FileSHA256 {
					r.Progress.Done++
				}
			}
		}
	}
	return r
}
