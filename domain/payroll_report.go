package domain

import "fmt"

// CountTotal is a number of payment lines and their sum.
type CountTotal struct {
	Count int   `json:"count"`
	Total Money `json:"total"`
}

func (c *CountTotal) add(m Money) {
	c.Count++
	c.Total = c.Total.Add(m)
}

// BatchReportLine is one line of a batch with its payment's status.
type BatchReportLine struct {
	PayrollLine
	Status string `json:"status"` // drafted (not yet issued), rejected, issued, settled, failed, reversed
}

// BatchReport is a batch's lines and its expected, settled, failed,
// reversed and outstanding totals; every total is the sum of its lines.
type BatchReport struct {
	BatchID     string            `json:"batch_id"`
	Program     ProgramCode       `json:"program"`
	Period      Period            `json:"period"`
	State       string            `json:"state"`
	DraftedBy   string            `json:"drafted_by"`
	PaidOn      Date              `json:"paid_on"`
	Expected    CountTotal        `json:"expected"`
	Settled     CountTotal        `json:"settled"`
	Failed      CountTotal        `json:"failed"`
	Reversed    CountTotal        `json:"reversed"`
	Outstanding CountTotal        `json:"outstanding"` // drafted or issued, not yet settled or failed
	Lines       []BatchReportLine `json:"lines"`
}

// Report returns the report of one batch of the stream.
func (s PayrollState) Report(batchID string) (BatchReport, error) {
	b := s.Batches[batchID]
	if b == nil {
		return BatchReport{}, fmt.Errorf("batch %s: %w", batchID, ErrNotFound)
	}
	d := b.Drafted
	r := BatchReport{BatchID: d.BatchID, Program: d.Program, Period: d.Period, State: b.State, DraftedBy: d.DraftedBy,
		PaidOn: d.PaidOn, Lines: []BatchReportLine{}}
	for _, l := range d.Lines {
		st := s.Status[l.Reference]
		switch {
		case b.State == BatchStateRejected:
			st = "rejected"
		case st == "":
			st = "drafted"
		}
		r.Expected.add(l.Amount)
		switch st {
		case "settled":
			r.Settled.add(l.Amount)
		case "failed":
			r.Failed.add(l.Amount)
		case "reversed":
			r.Reversed.add(l.Amount)
		case "rejected": // never issued
		default:
			r.Outstanding.add(l.Amount)
		}
		r.Lines = append(r.Lines, BatchReportLine{PayrollLine: l, Status: st})
	}
	return r, nil
}
