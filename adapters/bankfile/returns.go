package bankfile

import (
	"errors"
	"io"
	"strings"

	"github.com/lushan-dpf/ledger/adapters/internal/tabular"
	"github.com/lushan-dpf/ledger/domain"
)

// MaxReturnFileSize is the largest return file ReadReturn accepts, in bytes.
// A 1,000,000-line CSV return file is about 60 MB: one upload takes a
// province's month.
const MaxReturnFileSize = 256 << 20

// maxUnzipped bounds the unpacked size of an XLSX return file.
const maxUnzipped = 512 << 20

// The statuses of a return line.
const (
	StatusSettled = "settled" // the bank paid the money into the account
	StatusFailed  = "failed"  // the bank did not pay; the money was not spent
)

// ReturnFile is a bank return file that passed every check.
type ReturnFile struct {
	Format   Format   // as detected from the content
	Encoding Encoding // as detected; XLSX is always UTF8
	Lines    []ReturnLine
}

// ReturnLine is one payment line of a return file.
type ReturnLine struct {
	LineNo        int    // 1-based line of the CSV (where the record starts) or row of the sheet; the header is line 1
	Reference     string // our payment reference, as the bank echoes it
	Amount        domain.Money
	Status        string // StatusSettled or StatusFailed
	Reason        string // the bank's reason or remark; may be empty
	BankReference string // the bank's own transaction number; may be empty
}

// LineProblem is one thing wrong with a return file. LineNo 0 means the file
// as a whole.
type LineProblem = tabular.LineProblem

// FileError reports a return file that was refused, with every problem found
// on every line in line order. It wraps domain.ErrInvalid. The roster
// parser (adapters/roster) refuses files with the same type.
type FileError = tabular.FileError

// returnFile names a return file in messages.
const returnFile = "bank return file"

// ReadReturn reads a bank return file from r; name is used in messages only.
// The format and encoding are detected from the content, as the package
// documentation describes. If any line is malformed it returns a *FileError
// listing every problem, and no lines. An error reading r is returned
// wrapped, as is.
func ReadReturn(r io.Reader, name string) (ReturnFile, error) {
	t, err := tabular.Read(r, tabular.Source{Kind: returnFile, Name: name, MaxSize: MaxReturnFileSize, MaxUnzipped: maxUnzipped})
	if err != nil {
		return ReturnFile{}, err
	}
	rf := ReturnFile{Format: CSV, Encoding: UTF8}
	switch {
	case t.XLSX:
		rf.Format = XLSX
	case t.GB18030:
		rf.Encoding = GB18030
	}
	var p parser
	rf.Lines = p.parse(t)
	if err := t.Err(p.problems); err != nil {
		return ReturnFile{}, err
	}
	if len(rf.Lines) == 0 {
		rf.Lines = nil
	}
	return rf, nil
}

// Column fields of a return file: indexes into colNames.
const (
	colReference = iota
	colAmount
	colStatus
	colReason
	colBankRef
	colAccount
	numCols
)

var colNames = [numCols]string{"reference", "amount", "status", "reason", "bank_reference", "account"}

// synonyms maps a normalised header name to its field and rank; the lower
// rank wins when two columns name the same field.
var synonyms = map[string]tabular.Synonym{
	"付款参考号": {Field: colReference}, "参考号": {Field: colReference}, "payment reference": {Field: colReference},
	"reference": {Field: colReference}, "ref": {Field: colReference}, "流水号": {Field: colReference, Rank: 1},

	"金额": {Field: colAmount}, "交易金额": {Field: colAmount}, "付款金额": {Field: colAmount}, "amount": {Field: colAmount},

	"状态": {Field: colStatus}, "处理结果": {Field: colStatus}, "交易状态": {Field: colStatus},
	"status": {Field: colStatus}, "result": {Field: colStatus},

	"失败原因": {Field: colReason}, "reason": {Field: colReason}, "原因": {Field: colReason, Rank: 1},
	"message": {Field: colReason, Rank: 2}, "备注": {Field: colReason, Rank: 3},

	"银行流水号": {Field: colBankRef}, "银行参考号": {Field: colBankRef},
	"bank reference": {Field: colBankRef}, "bank ref": {Field: colBankRef},

	"账号": {Field: colAccount}, "account": {Field: colAccount}, "卡号": {Field: colAccount},
	"account number": {Field: colAccount},
}

var statuses = map[string]string{
	"成功": StatusSettled, "已入账": StatusSettled, "入账成功": StatusSettled, "交易成功": StatusSettled,
	"处理成功": StatusSettled, "success": StatusSettled, "succeeded": StatusSettled,
	"successful": StatusSettled, "ok": StatusSettled, "settled": StatusSettled, "paid": StatusSettled,

	"失败": StatusFailed, "退回": StatusFailed, "已退回": StatusFailed, "退票": StatusFailed,
	"交易失败": StatusFailed, "处理失败": StatusFailed, "failed": StatusFailed, "fail": StatusFailed,
	"rejected": StatusFailed, "returned": StatusFailed,
}

// columns finds the fields of a return file in its header.
var columns = tabular.Columns{
	Fields:   colNames[:],
	Synonyms: synonyms,
	Required: func(f int) bool { return f <= colStatus },
}

// parser turns rows into return lines, collecting every problem.
type parser struct {
	cols     []int // column index of each field, -1 if absent
	problems tabular.Problems
}

func (p *parser) parse(t *tabular.Table) []ReturnLine {
	lines := make([]ReturnLine, 0, len(t.Rows))
	header := func(r tabular.Row) bool {
		p.cols = columns.Find(r, &p.problems)
		return true
	}
	t.Walk(&p.problems, header, func(r tabular.Row) {
		if l, ok := p.line(r); ok {
			lines = append(lines, l)
		}
	})
	return lines
}

// line checks one payment line, reporting each problem it finds.
func (p *parser) line(r tabular.Row) (ReturnLine, bool) {
	before := len(p.problems)
	get := func(f int) string { return r.Field(p.cols[f]) }
	l := ReturnLine{LineNo: r.No, Reference: get(colReference), Reason: get(colReason), BankReference: get(colBankRef)}
	if l.Reference == "" {
		p.problems.Add(r.No, "reference", "is empty")
	}
	if s := get(colAmount); s == "" {
		p.problems.Add(r.No, "amount", "is empty")
	} else if m, err := domain.ParseMoney("amount", s); err != nil {
		var fe *domain.FieldError
		if errors.As(err, &fe) {
			p.problems.Add(r.No, "amount", "%s", fe.Reason)
		} else {
			p.problems.Add(r.No, "amount", "%v", err)
		}
	} else {
		l.Amount = m
	}
	if s := get(colStatus); s == "" {
		p.problems.Add(r.No, "status", "is empty")
	} else if st, ok := statuses[strings.ToLower(s)]; ok {
		l.Status = st
	} else {
		p.problems.Add(r.No, "status", "%q is not a known status; settled: 成功, 已入账, success, ok, settled, ...; failed: 失败, 退回, failed, rejected, returned, ...", s)
	}
	return l, len(p.problems) == before
}
