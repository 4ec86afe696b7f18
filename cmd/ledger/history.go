package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// cmdHistory lists a person's events, read from the event store, and with
// --known-at and/or --as-of replays them as the ledger knew them then:
//
//	ledger history PERSON_ID [--known-at RFC3339|DATE] [--as-of DATE] [--format table|json]
//
// --known-at is system time: an RFC 3339 timestamp, or a date meaning the
// end of that day in Asia/Shanghai; only events recorded by then count
// (default now). --as-of is the business date the entitlements are judged
// on (default the date of --known-at). --format json prints the document
// GET /v1/persons/{id}/history answers.
func cmdHistory(ctx context.Context, e *env, args []string) error {
	var pidArg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pidArg, args = args[0], args[1:]
	}
	var cfg config
	fs := newFlagSet("history", e)
	cfg.bind(fs, e, false)
	knownFlag := fs.String("known-at", "", "replay only the events recorded by this time: RFC 3339, or a date meaning the end of that day in Asia/Shanghai (default now, when --as-of is given)")
	asOfFlag := fs.String("as-of", "", "judge the replayed entitlements on this business date YYYY-MM-DD (default the date of --known-at)")
	format := fs.String("format", "table", "table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if pidArg == "" && len(rest) > 0 { // flags first, then the person (and maybe more flags)
		pidArg = rest[0]
		if err := parseFlags(fs, rest[1:]); err != nil {
			return err
		}
		rest = fs.Args()
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("history: unexpected argument %q", rest[0])}
	}
	if pidArg == "" {
		return usageError{"history: name the person, e.g. ledger history 0123456789abcdef0123 --as-of 2024-03-15"}
	}
	pid, err := domain.ParsePersonID("person_id", pidArg)
	if err != nil {
		return usageError{err.Error()}
	}
	if *format != "table" && *format != "json" {
		return usageError{fmt.Sprintf("format: %q is neither \"table\" nor \"json\"", *format)}
	}
	replaying := *knownFlag != "" || *asOfFlag != ""
	var knownAt time.Time
	var asOf domain.Date
	if *knownFlag != "" {
		if knownAt, err = domain.ParseKnownAt("known-at", *knownFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	if *asOfFlag != "" {
		if asOf, err = domain.ParseDate("as-of", *asOfFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	if replaying && knownAt.IsZero() {
		knownAt = time.Now()
	}
	if replaying && asOf.IsZero() {
		asOf = domain.BusinessDate(knownAt)
	}

	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	l, err := app.NewPersons(d.store).Load(ctx, pid)
	if err != nil {
		return fmt.Errorf("history %s: %w", pid, err)
	}
	if !l.Exists {
		return fmt.Errorf("history %s: %w", pid, domain.ErrPersonNotFound)
	}
	var replay *domain.AsKnown
	if replaying {
		r, err := domain.Replay(l.Events, knownAt, asOf)
		if err != nil {
			return err
		}
		replay = &r
	}
	if *format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(httpapi.HistoryDocument(pid, l.Events, replay))
	}
	return printHistory(e.stdout, pid, l.Events, replay)
}

// printHistory writes the events and the replay as aligned tables.
func printHistory(out io.Writer, pid domain.PersonID, events []domain.Envelope, replay *domain.AsKnown) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "person %s: %d events\n\n", pid, len(events))
	fmt.Fprintln(w, "REV\tTYPE\tEFFECTIVE\tRECORDED AT\tACTOR\tROLE\tREASON\tSUMMARY")
	later := false
	for _, ev := range events {
		rev := fmt.Sprint(ev.Revision)
		if replay != nil && !replay.KnownAt.IsZero() && ev.Meta.RecordedAt.After(replay.KnownAt) {
			rev += "*"
			later = true
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rev, strings.TrimPrefix(ev.Type, "beneficiary."),
			orDash(ev.Meta.EffectiveDate.String()), ev.Meta.RecordedAt.In(domain.BusinessZone).Format(time.RFC3339),
			cell(ev.Meta.Actor), cell(ev.Meta.Role), cell(domain.MaskIDNumbers(ev.Meta.Reason)), cell(domain.Summarize(ev.Event)))
	}
	if replay == nil {
		return w.Flush()
	}
	if later {
		fmt.Fprintln(w, "* recorded after known-at: not part of the replay")
	}

	fmt.Fprintf(w, "\nas known at %s, on %s: %d events recorded by then, %d later\n",
		replay.KnownAt.In(domain.BusinessZone).Format(time.RFC3339Nano), replay.AsOf, replay.EventsKnown, replay.EventsLater)
	fmt.Fprintln(w, factsLine(replay.Facts))
	fmt.Fprintln(w)
	if len(replay.Entitlements) == 0 {
		fmt.Fprintln(w, "entitlements: none")
	} else {
		fmt.Fprintln(w, "PROGRAM\tSTATUS\tFROM\tTO\tSUSPENDED\tREASON\tRATE\tSOURCE")
		for _, en := range replay.Entitlements {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", en.Program, en.Status, en.EffectiveFrom,
				orDash(en.EffectiveTo.String()), orDash(en.SuspendedFrom.String()), orDash(en.ReasonCode), en.Rate, orDash(en.RateSource))
		}
	}
	if len(replay.OneOffs) > 0 {
		fmt.Fprintln(w, "\nONE-OFF\tGRANT\tAMOUNT\tON")
		for _, g := range replay.OneOffs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", g.Program, cell(g.GrantID), g.Amount, g.EffectiveOn)
		}
	}
	if len(replay.InKind) > 0 {
		fmt.Fprintln(w, "\nIN KIND\tISSUE\tITEM\tQUANTITY\tUNIT VALUE\tVALUE\tON")
		for _, is := range replay.InKind {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", is.Program, cell(is.IssueID), cell(is.Item), is.Quantity,
				is.UnitValue, is.UnitValue.Mul(is.Quantity), is.EffectiveOn)
		}
	}
	return w.Flush()
}

// factsLine describes the person as known, e.g. "person: registered
// 2024-01-05 in 星子镇; household none, dibao; certificate physical grade 3,
// valid 2020-05-01 to 2030-04-30; alive".
func factsLine(f domain.PersonFacts) string {
	if !f.Registered {
		return "person: not yet known to the ledger"
	}
	parts := []string{"registered " + f.RegisteredOn.String() + " in " + cell(f.Township)}
	hh := []string{string(f.Household.Class)}
	if hh[0] == "" {
		hh[0] = "none"
	}
	for _, flag := range []struct {
		on   bool
		name string
	}{{f.Household.Dibao, "dibao"}, {f.Household.Tekun, "tekun"}, {f.Household.WorkInjuryNursing, "work_injury_nursing"}} {
		if flag.on {
			hh = append(hh, flag.name)
		}
	}
	parts = append(parts, "household "+strings.Join(hh, ", "))
	if c := f.Certificate; c != nil {
		s := fmt.Sprintf("certificate %s grade %d, valid %s to %s", c.Category, int(c.Grade), c.IssuedOn, c.ValidUntil)
		if c.Revoked {
			s += ", revoked"
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "no certificate")
	}
	if f.Deceased {
		parts = append(parts, "died "+f.DateOfDeath.String())
	} else {
		parts = append(parts, "alive")
	}
	return "person: " + strings.Join(parts, "; ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell makes free text safe for one table cell: no tabs or line breaks.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return orDash(s)
}
