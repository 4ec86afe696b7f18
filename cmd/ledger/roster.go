package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lushan-dpf/ledger/adapters/roster"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// cmdRoster cross-checks other departments' rosters with the ledger and
// decides the changes they propose:
//
//	ledger roster import --source S --file F --user NAME [--as-of DATE]
//	ledger roster imports [--source S]
//	ledger roster differences --import ID [--township T]
//	ledger roster approve|reject --person ID --proposal ID --user NAME [--reason TEXT]
func cmdRoster(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger roster import --source civil_affairs|rural_affairs|human_resources|deaths --file F --user NAME [--as-of YYYY-MM-DD]
                              cross-check a department's roster (CSV in UTF-8 or GB18030, or XLSX) and propose the changes it calls for
       ledger roster imports [--source S]                       the imports made, latest first
       ledger roster differences --import ID [--township T] [--review]   what an import found, per township, and where each proposal stands
       ledger roster approve --person ID --proposal ID --user NAME              make a proposed change (another user than the importer)
       ledger roster reject --person ID --proposal ID --user NAME --reason TEXT  turn a proposed change down`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "import":
		return cmdRosterImport(ctx, e, args[1:])
	case "imports":
		return cmdRosterImports(ctx, e, args[1:])
	case "differences":
		return cmdRosterDifferences(ctx, e, args[1:])
	case "approve", "reject":
		return cmdRosterDecide(ctx, e, args[0], args[1:])
	}
	return usageError{fmt.Sprintf("roster: unknown subcommand %q; want import, imports, differences, approve or reject", args[0])}
}

func cmdRosterImport(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("roster import", e)
	cfg.bind(fs, e, false)
	source := fs.String("source", "", "the department: civil_affairs, rural_affairs, human_resources or deaths (required)")
	file := fs.String("file", "", "the roster file: CSV (UTF-8 or GB18030) or XLSX, with Chinese headers (required)")
	asOfFlag := fs.String("as-of", "", "the day the roster describes; changes take effect on it (default: today)")
	user := fs.String("user", "", "the clerk importing it; an approver makes the changes it proposes (required)")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *source == "":
		return usageError{"roster import: --source is required: civil_affairs, rural_affairs, human_resources or deaths"}
	case *file == "":
		return usageError{"roster import: --file is required: the department's roster"}
	case *user == "":
		return usageError{"roster import: --user is required: name the clerk importing it"}
	}
	src, err := domain.ParseRosterSource("source", *source)
	if err != nil {
		return usageError{err.Error()}
	}
	asOf, err := dateFlag("as-of", *asOfFlag)
	if err != nil {
		return err
	}
	f, err := readRosterFile(*file, src, asOf)
	if err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := cliMeta(*user, "clerk", *key)
	meta.Reason = fmt.Sprintf("%s roster of %s", src, asOf)
	last := time.Time{}
	res, err := d.rosters().Import(ctx, meta, d.readModels(), f, func(done, total int) {
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(e.stderr, "cross-checked %d of %d persons\n", done, total)
		}
	})
	if err != nil {
		return err
	}
	printImport(e, res)
	return nil
}

// readRosterFile reads and parses a roster file, with its hash.
func readRosterFile(path string, src domain.RosterSource, asOf domain.Date) (app.RosterFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return app.RosterFile{}, err
	}
	name := filepath.Base(path)
	r, err := roster.Read(bytes.NewReader(data), name, src, asOf)
	if err != nil {
		return app.RosterFile{}, err
	}
	sum := sha256.Sum256(data)
	return app.RosterFile{Name: name, SHA256: sum[:], Roster: r}, nil
}

func printImport(e *env, res app.ImportResult) {
	imp := res.Import
	if res.Replayed {
		fmt.Fprintf(e.stdout, "this file was imported already (import %s, %s roster of %s, by %s): nothing changed\n",
			imp.ImportID, imp.Source, imp.AsOf, imp.ImportedBy)
	} else {
		fmt.Fprintf(e.stdout, "import %s: %s roster of %s, %d lines (%d duplicates dropped), %d persons known to the ledger\n",
			imp.ImportID, imp.Source, imp.AsOf, imp.Lines, imp.Duplicates, imp.Matched)
	}
	for _, c := range imp.Source.Categories() {
		if n := imp.Categories[c]; n > 0 {
			fmt.Fprintf(e.stdout, "  %-28s %6d lines\n", c, n)
		}
	}
	fmt.Fprintf(e.stdout, "differences (%d change proposals wait for an approver):\n", imp.Proposed)
	for _, k := range domain.DifferenceKinds {
		if n := imp.Differences[k]; n > 0 {
			fmt.Fprintf(e.stdout, "  %-30s %6d\n", k, n)
		}
	}
	fmt.Fprintf(e.stdout, "list them per township: ledger roster differences --import %s\n", imp.ImportID)
}

func cmdRosterImports(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("roster imports", e)
	cfg.bind(fs, e, false)
	source := fs.String("source", "", "one source only (default: every source)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *source != "" {
		if _, err := domain.ParseRosterSource("source", *source); err != nil {
			return usageError{err.Error()}
		}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	rm := d.readModels()
	if err := rm.CaughtUp(ctx); err != nil {
		return err
	}
	imports, err := rm.RosterImports(ctx, domain.RosterSource(*source))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d imports\n", len(imports))
	for _, i := range imports {
		n := 0
		for _, c := range i.Differences {
			n += c
		}
		fmt.Fprintf(e.stdout, "  %s  %-15s %s  %6d lines  %5d differences  %5d proposed  by %s  %s\n",
			i.ImportID, i.Source, i.AsOf, i.Lines, n, i.Proposed, i.ImportedBy, i.FileName)
	}
	return nil
}

func cmdRosterDifferences(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("roster differences", e)
	cfg.bind(fs, e, false)
	importID := fs.String("import", "", "the import's ID, as `ledger roster imports` lists it (required)")
	township := fs.String("township", "", "one township only (default: every township)")
	review := fs.Bool("review", false, "only the differences a caseworker must look into: no change could be proposed for them")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *importID == "" {
		return usageError{"roster differences: --import is required: the import's ID (see ledger roster imports)"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	rm := d.readModels()
	if err := rm.CaughtUp(ctx); err != nil {
		return err
	}
	diffs, err := rm.RosterDifferences(ctx, *importID, *township, *review)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d differences\n", len(diffs))
	town := "\x00"
	for _, df := range diffs {
		if df.Township != town {
			town = df.Township
			fmt.Fprintf(e.stdout, "%s\n", displayTownship(town))
		}
		fmt.Fprintf(e.stdout, "  %-30s %s  %s  %s", df.Kind, df.IDMasked, df.Name, df.Person)
		if df.ProposalID != "" {
			fmt.Fprintf(e.stdout, "  proposal %s (%s)", df.ProposalID, df.Status)
		}
		if df.Note != "" {
			fmt.Fprintf(e.stdout, "  — %s", df.Note)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

func displayTownship(t string) string {
	if t == "" {
		return "(no township on the roster)"
	}
	return t
}

func cmdRosterDecide(ctx context.Context, e *env, verb string, args []string) error {
	var cfg config
	fs := newFlagSet("roster "+verb, e)
	cfg.bind(fs, e, false)
	person := fs.String("person", "", "the person's ID (required)")
	proposal := fs.String("proposal", "", "the proposal's ID (required)")
	user := fs.String("user", "", "the approver deciding (required; not the importer)")
	reason := fs.String("reason", "", "why the change is turned down (required to reject)")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"person", *person}, {"proposal", *proposal}, {"user", *user}} {
		if f.v == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if verb == "reject" && *reason == "" {
		missing = append(missing, "--reason")
	}
	if len(missing) > 0 {
		return usageError{fmt.Sprintf("roster %s: %s required", verb, joinFlags(missing))}
	}
	id, err := domain.ParsePersonID("person", *person)
	if err != nil {
		return usageError{err.Error()}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	var cmd domain.Command = domain.ApproveChange{ProposalID: *proposal, ApprovedBy: *user}
	if verb == "reject" {
		cmd = domain.RejectChange{ProposalID: *proposal, RejectedBy: *user, Reason: *reason}
	}
	res, err := app.NewPersons(d.store).Execute(ctx, id, cliMeta(*user, "approver", *key), cmd)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("roster %s: %w", verb, err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "proposal %s %sd at %s\n", *proposal, verb, res.Position)
	return nil
}

// joinFlags lists flag names: "--a", "--a and --b", "--a, --b and --c".
func joinFlags(names []string) string {
	if len(names) == 1 {
		return names[0] + " is"
	}
	return fmt.Sprintf("%s and %s are", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// rosters returns the roster use cases on d.
func (d *deps) rosters() *app.Rosters {
	return app.NewRosters(d.store, app.NewPersons(d.store), d.cfg.lookupKey())
}
