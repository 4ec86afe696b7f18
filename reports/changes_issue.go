package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/lushan-dpf/ledger/domain"
)

// ReadyChangelog is the changelog a change notice is read from, with the
// wait for it to catch up with the log. projections.ReadModels implements
// it.
type ReadyChangelog interface {
	Changelog
	// ChangelogReady waits until the changelog has applied every event in
	// the log; an error matching domain.ErrUnavailable when it has not in
	// time.
	ChangelogReady(ctx context.Context) error
}

// NoticeSource is what change notices are made from — the changelog, and
// the event store for the full ID numbers some departments get — in this
// package's formats: the app.NoticeSource that app.Notices.IssueChanges
// issues notices with.
type NoticeSource struct {
	Changelog ReadyChangelog
	Store     domain.EventStore
}

// Ready waits for the changelog to catch up with the log.
func (s NoticeSource) Ready(ctx context.Context) error { return s.Changelog.ChangelogReady(ctx) }

// CheckFormat refuses a format this package does not write.
func (s NoticeSource) CheckFormat(format string) error {
	_, err := ParseChangesFormat("format", format)
	return err
}

// Townships lists every township the changelog knows, sorted.
func (s NoticeSource) Townships(ctx context.Context) ([]string, error) {
	return s.Changelog.ChangelogTownships(ctx)
}

// Write reads the changes of plan (ReadChangesNotice), writes the notice
// in format and describes the file.
func (s NoticeSource) Write(ctx context.Context, plan domain.ChangeNoticePlan, format string) ([]byte, domain.NoticeFile, error) {
	f, err := ParseChangesFormat("format", format)
	if err != nil {
		return nil, domain.NoticeFile{}, err
	}
	n, err := ReadChangesNotice(ctx, s.Changelog, s.Store, plan)
	if err != nil {
		return nil, domain.NoticeFile{}, err
	}
	var buf bytes.Buffer
	if err := WriteChanges(&buf, f, n); err != nil {
		return nil, domain.NoticeFile{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), domain.NoticeFile{Format: string(f), Rows: len(n.Lines), FullIDs: n.Policy.FullIDs && len(n.Lines) > 0,
		FileSHA256: hex.EncodeToString(sum[:])}, nil
}
