package bankfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// Applied is the outcome of a reconciliation.
type Applied struct {
	Reconciliation
	// AlreadyImported is true when this very file was imported before:
	// nothing was applied.
	AlreadyImported bool
	Position        domain.Position
}

// Reconcile reads a bank return file (raw, named name for messages),
// classifies its lines against the batch's payments still issued, and
// appends the settlements and failures (with a ReturnImported that records
// the file's SHA-256) to the batch's payroll stream. A malformed file is a
// *FileError and applies nothing; the same file twice applies nothing the
// second time.
func Reconcile(ctx context.Context, pay *domain.Payroll, meta domain.CommandMeta, batchID, name string, raw []byte, on domain.Date) (Applied, error) {
	program, period, err := domain.ParseBatchID("batch", batchID)
	if err != nil {
		return Applied{}, err
	}
	ret, err := ReadReturn(bytes.NewReader(raw), name)
	if err != nil {
		return Applied{}, err
	}
	sum := sha256.Sum256(raw)
	if meta.CommandID == "" {
		meta.CommandID = "reconcile:" + batchID + ":" + hex.EncodeToString(sum[:8])
	}
	var rec Reconciliation
	already := false
	res, _, err := pay.ImportReturn(ctx, meta, program, period, func(state domain.PayrollState) (domain.ReturnImported, []domain.Settlement, error) {
		b := state.Batches[batchID]
		if b == nil {
			return domain.ReturnImported{}, nil, fmt.Errorf("batch %s: %w", batchID, domain.ErrNotFound)
		}
		var expected []Expected
		for _, l := range b.Drafted.Lines {
			if state.Status[l.Reference] == "issued" {
				expected = append(expected, Expected{Reference: l.Reference, Amount: l.Amount})
			}
		}
		rec = Classify(expected, ret)
		var lines []domain.Settlement
		for _, l := range rec.Settled {
			lines = append(lines, domain.Settlement{Reference: l.Reference, BankReference: l.BankReference, On: on})
		}
		for _, l := range rec.Failed {
			lines = append(lines, domain.Settlement{Reference: l.Reference, Failed: true, Reason: l.Reason, On: on})
		}
		t := rec.Totals
		imported := domain.ReturnImported{BatchID: batchID, FileSHA256: hex.EncodeToString(sum[:]), Lines: len(ret.Lines),
			Settled: t.Settled.Count, Failed: t.Failed.Count, Exceptions: t.AmountMismatch.Count + t.Unknown.Count + t.Duplicate.Count,
			ImportedBy: meta.Actor}
		already = state.Imported[imported.FileSHA256]
		return imported, lines, nil
	})
	var ce *domain.ConflictError
	if errors.As(err, &ce) && already {
		return Applied{Reconciliation: rec, AlreadyImported: true}, nil
	}
	if err != nil {
		return Applied{}, err
	}
	return Applied{Reconciliation: rec, Position: res.Position}, nil
}
