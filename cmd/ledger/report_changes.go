package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// cmdReportChanges writes the monthly change notice and records it:
//
//	ledger report changes [--from DATE] --to DATE [--township T] [--department D]
//	    [--format csv|xlsx] [--out FILE] [--reissue] --user NAME
//
// The file goes to --out, or for CSV to stdout; a summary (notice, window,
// rows, SHA-256) goes to stderr. Without --from the notice starts the day
// after the last notice of the same department and township ended.
func cmdReportChanges(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("report changes", e)
	cfg.bind(fs, e, false)
	fromFlag := fs.String("from", "", "first recording date, YYYY-MM-DD (default: the day after the last notice's --to)")
	toFlag := fs.String("to", "", "last recording date, YYYY-MM-DD; must be over (before today, China Standard Time)")
	township := fs.String("township", "", "only this township (default: every township)")
	deptFlag := fs.String("department", "", "civil_affairs, medical_insurance, agriculture or human_resources (default: the townships' own notice)")
	formatFlag := fs.String("format", "", "csv or xlsx (default: xlsx for a department that gets full ID numbers, which spreadsheets keep as text only there; else csv)")
	out := fs.String("out", "", "file to write (default for csv: stdout; required for xlsx)")
	reissue := fs.Bool("reissue", false, "send again a window earlier notices covered (a lost file)")
	user := fs.String("user", "", "the caseworker issuing the notice")
	if err := parse(fs, args); err != nil {
		return err
	}
	var req app.ChangesRequest
	var err error
	if *toFlag == "" {
		return usageError{"to: give the last recording date of the notice (--to YYYY-MM-DD)"}
	}
	if req.To, err = domain.ParseDate("to", *toFlag); err != nil {
		return usageError{err.Error()}
	}
	if *fromFlag != "" {
		if req.From, err = domain.ParseDate("from", *fromFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	if req.Department, err = domain.ParseDepartment("department", *deptFlag); err != nil {
		return usageError{err.Error()}
	}
	format := reports.DefaultChangesFormat(req.Department)
	if *formatFlag != "" {
		if format, err = reports.ParseChangesFormat("format", *formatFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	req.Format = string(format)
	if format == reports.ChangesXLSX && *out == "" {
		if *formatFlag == "" {
			return usageError{"out: a notice with full ID numbers is an xlsx file by default (spreadsheets would turn the numbers of a CSV into 3.60427195111083e+17): give --out FILE"}
		}
		return usageError{"out: an xlsx notice is written to a file (--out FILE)"}
	}
	if *user == "" {
		return usageError{"user: name the caseworker issuing the notice (--user NAME)"}
	}
	req.Township, req.Reissue = *township, *reissue

	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := domain.CommandMeta{CommandID: "report-changes:" + uuid.NewString(), Actor: *user, Role: "clerk", Now: time.Now()}
	issued, err := app.NewNotices(d.store).IssueChanges(ctx, reports.NoticeSource{Changelog: d.readModels(), Store: d.store}, meta, req)
	if err != nil {
		return err
	}
	dest := "stdout"
	if *out == "" {
		if _, err := e.stdout.Write(issued.File); err != nil {
			return err
		}
	} else {
		// The notice is recorded already; a file that cannot be written is
		// produced again with --reissue.
		if err := os.WriteFile(*out, issued.File, 0o600); err != nil {
			return fmt.Errorf("notice %s is recorded but its file was not written (issue it again with --reissue --from %s --to %s): %w",
				issued.Notice.NoticeID, issued.Notice.From, issued.Notice.To, err)
		}
		dest = *out
	}
	n := issued.Notice
	town, to := n.Township, string(n.Department)
	if town == "" {
		town = "every township"
	}
	if to == "" {
		to = "the townships"
	}
	ids := "masked ID numbers"
	if n.FullIDs {
		ids = "FULL ID numbers"
	}
	fmt.Fprintf(e.stderr, "change notice %s for %s (%s): %s to %s, %d rows, %s, issued %s by %s\n",
		n.NoticeID, to, town, n.From, n.To, n.Rows, ids, n.IssuedOn, n.IssuedBy)
	fmt.Fprintf(e.stderr, "%s written to %s, sha256 %s, recorded at %s\n", n.Format, dest, n.FileSHA256, issued.Result.Position)
	return nil
}
