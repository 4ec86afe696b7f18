package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// ChangesRequest asks for a change notice. From may be zero: the notice
// then continues where the last one of the department and township ended.
type ChangesRequest struct {
	Department domain.Department
	Township   string // "" for every township
	From, To   domain.Date
	Format     ChangesFormat
	Reissue    bool
}

// ChangesIssued is a notice produced and recorded.
type ChangesIssued struct {
	Notice   domain.ChangeNoticeIssued
	File     []byte
	Result   domain.AppendResult // where the notice's event was appended
	Replayed bool                // the command had run before: nothing was appended
}

// Filename is the notice's file name.
func (c ChangesIssued) Filename() string {
	return ChangesFilename(c.Notice.NoticeID, ChangesFormat(c.Notice.Format))
}

// IssueChanges produces a change notice and records it: it settles the
// window against the department's earlier notices, reads the changes from
// the changelog (the caller makes sure it has caught up:
// projections.ChangelogCaughtUp), writes the file, and appends
// ChangeNoticeIssued with the file's SHA-256 to the department's notice
// stream, so the next notice starts the day after this one's To. A command
// ID that already ran returns that notice, with its file produced again
// and checked against the recorded SHA-256.
func IssueChanges(ctx context.Context, cl Changelog, store domain.EventStore, meta domain.CommandMeta, req ChangesRequest) (ChangesIssued, error) {
	if _, err := ParseChangesFormat("format", string(req.Format)); err != nil {
		return ChangesIssued{}, err
	}
	if req.Township != "" {
		known, err := cl.ChangelogTownships(ctx)
		if err != nil {
			return ChangesIssued{}, err
		}
		if !slices.Contains(known, req.Township) {
			return ChangesIssued{}, domain.Invalid("township", "%q is no township of any registered person; known: %s", req.Township, strings.Join(known, ", "))
		}
	}
	var file []byte
	res, ev, replayed, err := app.NewNotices(store).Issue(ctx, meta, domain.IssueChangeNotice{
		Department: req.Department, Township: req.Township, From: req.From, To: req.To, Reissue: req.Reissue, IssuedBy: meta.Actor,
	}, func(plan domain.ChangeNoticePlan) (domain.NoticeFile, error) {
		n, err := ReadChangesNotice(ctx, cl, store, plan)
		if err != nil {
			return domain.NoticeFile{}, err
		}
		var buf bytes.Buffer
		if err := WriteChanges(&buf, req.Format, n); err != nil {
			return domain.NoticeFile{}, err
		}
		file = buf.Bytes()
		sum := sha256.Sum256(file)
		return domain.NoticeFile{Format: string(req.Format), Rows: len(n.Lines), FullIDs: n.Policy.FullIDs && len(n.Lines) > 0,
			FileSHA256: hex.EncodeToString(sum[:])}, nil
	})
	if err != nil {
		return ChangesIssued{}, err
	}
	if replayed {
		if file, err = RegenerateChanges(ctx, cl, store, ev); err != nil {
			return ChangesIssued{}, err
		}
	}
	return ChangesIssued{Notice: ev, File: file, Result: res, Replayed: replayed}, nil
}

// ErrChangesDiffer: a notice produced again does not match the file
// recorded (the read model was rebuilt differently, or events were recorded
// with past dates since).
var ErrChangesDiffer = fmt.Errorf("the change notice produced again differs from the file recorded: %w", domain.ErrConflict)

// RegenerateChanges produces a recorded notice's file again, from the
// window, township, department, format and issue date its event records,
// and checks it against the recorded SHA-256. Windows end before the day
// they are issued, so their changes no longer change.
func RegenerateChanges(ctx context.Context, cl Changelog, store domain.EventStore, ev domain.ChangeNoticeIssued) ([]byte, error) {
	format, err := ParseChangesFormat("format", ev.Format)
	if err != nil {
		return nil, err
	}
	n, err := ReadChangesNotice(ctx, cl, store, domain.ChangeNoticePlan{NoticeID: ev.NoticeID, Department: ev.Department, Township: ev.Township,
		From: ev.From, To: ev.To, IssuedOn: ev.IssuedOn, Reissue: ev.Reissue})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := WriteChanges(&buf, format, n); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	if hex.EncodeToString(sum[:]) != ev.FileSHA256 {
		return nil, fmt.Errorf("change notice %s: %w", ev.NoticeID, ErrChangesDiffer)
	}
	return buf.Bytes(), nil
}

// ChangesNotices lists the notices issued to the departments given (none:
// every department and the townships), oldest first within each, the
// townships' notices first.
func ChangesNotices(ctx context.Context, store domain.EventStore, departments ...domain.Department) ([]domain.ChangeNoticeIssued, error) {
	if len(departments) == 0 {
		departments = append([]domain.Department{domain.DepartmentNone}, domain.Departments()...)
	}
	svc := app.NewNotices(store)
	var out []domain.ChangeNoticeIssued
	for _, d := range departments {
		s, err := svc.State(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("notices of %s: %w", domain.NoticeStream(d), err)
		}
		out = append(out, s.Notices...)
	}
	return out, nil
}
