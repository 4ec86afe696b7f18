package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/lushan-dpf/ledger/domain"
)

// RosterReads is what a roster cross-check reads: the persons whose facts
// a source decides, from read models caught up with the log.
type RosterReads interface {
	CaughtUp(ctx context.Context) error
	RosterCandidates(ctx context.Context, source domain.RosterSource) ([]domain.PersonID, error)
}

// Rosters is the use case of other departments' rosters: importing one
// cross-checks it with the ledger (domain.CrossCheck), proposes in each
// person's stream the change a difference calls for (maker-checker: an
// approver makes it), and records the import in the source's stream.
type Rosters struct {
	x       runtime
	persons *Persons
	key     domain.LookupKey
}

// NewRosters returns the roster use cases over a store. key hashes the ID
// numbers of the roster's lines, as person IDs are derived.
func NewRosters(store domain.EventStore, persons *Persons, key domain.LookupKey) *Rosters {
	return &Rosters{x: newRuntime(store, domain.NewLedgerRegistry()), persons: persons, key: key}
}

// RosterFile is a roster read from a department's file.
type RosterFile struct {
	Name   string // as uploaded, for the record
	SHA256 []byte // of the file's bytes
	Roster domain.Roster
}

// ImportResult is what an import did, or had done when the same file was
// imported before (Replayed: nothing appended).
type ImportResult struct {
	Import      domain.RosterImported
	Differences []domain.RosterDifference // nil when Replayed: read them from the read model
	Position    domain.Position           // where the import was recorded
	Replayed    bool
}

func (r *Rosters) stream(s domain.RosterSource) *stream[recorded[domain.RosterImports]] {
	return newRecordedStream(domain.RosterStream(s), domain.RosterImports{}, domain.EvolveRosterImports)
}

// Import cross-checks a roster with the ledger. A file imported before
// (the same bytes, from the same source) changes nothing and returns the
// import it made. Each person's proposal is a command of its own (the
// import ID, then "/", then the person), and the import is recorded last,
// so an import stopped midway and run again proposes nothing twice and
// then records itself. progress, when set, is told each person done.
func (r *Rosters) Import(ctx context.Context, meta domain.CommandMeta, read RosterReads, f RosterFile, progress func(done, total int)) (ImportResult, error) {
	if err := meta.Validate(); err != nil {
		return ImportResult{}, err
	}
	src, err := domain.ParseRosterSource("source", string(f.Roster.Source))
	if err != nil {
		return ImportResult{}, err
	}
	switch {
	case len(f.SHA256) != 32:
		return ImportResult{}, domain.Invalid("file", "has no SHA-256")
	case f.Roster.AsOf.IsZero():
		return ImportResult{}, domain.Invalid("as_of", "is required: the day the roster describes")
	case f.Roster.AsOf.After(domain.BusinessDate(meta.Now)):
		return ImportResult{}, domain.Invalid("as_of", "%s is in the future", f.Roster.AsOf)
	case len(f.Roster.Lines) == 0 && (src == domain.RosterCivilAffairs || src == domain.RosterRuralAffairs):
		// A roster is read as complete: an empty list of the county's
		// 低保 or poverty households would end everyone's support at
		// once, which is far likelier a wrong export. (Few draw the
		// work-injury nursing allowance, and a month may have no death.)
		return ImportResult{}, domain.Invalid("file", "holds no persons; a %s roster lists everyone the department supports, so an empty one is refused", src)
	}
	sum := hex.EncodeToString(f.SHA256)
	importID := domain.RosterImportID(sum)
	s := r.stream(src)
	if err := s.catchUp(ctx, r.x.store, r.x.reg); err != nil {
		return ImportResult{}, err
	}
	if done, ok := s.state.folded[sum]; ok {
		return ImportResult{Import: done, Replayed: true}, nil
	}

	roster := f.Roster
	roster.Lines = slices.Clone(roster.Lines)
	for i := range roster.Lines {
		roster.Lines[i].IDHash = r.key.Hash(roster.Lines[i].ID)
	}
	states, err := r.states(ctx, read, roster)
	if err != nil {
		return ImportResult{}, err
	}
	findings := domain.CrossCheck(roster, importID, states)

	res := ImportResult{Import: domain.RosterImported{
		ImportID: importID, Attempt: uuid.NewString(), Source: src, AsOf: roster.AsOf, FileName: f.Name, FileSHA256: sum,
		Lines: len(roster.Lines), Duplicates: roster.Duplicates, Categories: map[domain.RosterCategory]int{},
		Differences: map[domain.DifferenceKind]int{}, ImportedBy: meta.Actor,
	}}
	for _, l := range roster.Lines {
		res.Import.Categories[l.Category]++
		if st, ok := states[domain.PersonIDFromHash(l.IDHash)]; ok && st.Registered {
			res.Import.Matched++
		}
	}
	for i, fd := range findings {
		if fd.Change != nil {
			if err := r.propose(ctx, meta, importID, &fd); err != nil {
				return res, fmt.Errorf("roster %s: %w (import the same file again to finish)", importID, err)
			}
		}
		for _, d := range fd.Differences {
			res.Import.Differences[d.Kind]++
			if d.Kind == domain.DiffUnknownPerson {
				res.Import.Unknown++
			}
		}
		if fd.Differences[0].ProposalID == "roster-"+importID { // proposed now, or by this import before a crash
			res.Import.Proposed++
		}
		res.Differences = append(res.Differences, fd.Differences...)
		if progress != nil {
			progress(i+1, len(findings))
		}
	}
	res.Position, err = r.record(ctx, meta, s, &res)
	return res, err
}

// propose appends the finding's change as a proposal to the person's
// stream and notes its ID on the differences. A change that can no
// longer be proposed (the person's stream moved on since the check) is
// noted on the differences instead.
func (r *Rosters) propose(ctx context.Context, meta domain.CommandMeta, importID string, fd *domain.RosterFinding) error {
	m := meta
	m.CommandID = fmt.Sprintf("roster-%s/%s", importID, fd.Person)
	id := "roster-" + importID
	_, err := r.persons.Execute(ctx, fd.Person, m, domain.ProposeChange{ProposalID: id, Change: *fd.Change, ProposedBy: meta.Actor})
	switch {
	case err == nil:
	case errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrRuleViolation):
		id = ""
		for i := range fd.Differences {
			fd.Differences[i].Note = fmt.Sprintf("no change proposed: %v", err)
		}
	default:
		return fmt.Errorf("proposing for %s: %w", fd.Person, err)
	}
	for i := range fd.Differences {
		fd.Differences[i].ProposalID = id
	}
	return nil
}

// record appends the differences, in parts, then the import itself. An
// import of the same file that got there first wins: its record is
// returned and nothing is appended.
func (r *Rosters) record(ctx context.Context, meta domain.CommandMeta, s *stream[recorded[domain.RosterImports]], res *ImportResult) (domain.Position, error) {
	imp := &res.Import
	for part, diffs := range domain.Chunks(res.Differences, domain.RosterDifferencesBytes) {
		ev := domain.RosterDifferencesFound{ImportID: imp.ImportID, Attempt: imp.Attempt, Part: part, Differences: diffs}
		_, _, err := decide(ctx, &r.x, s, meta, once(fmt.Sprintf("%s/part-%d", imp.Attempt, part)), func(recorded[domain.RosterImports]) ([]domain.Event, error) {
			return []domain.Event{ev}, nil
		})
		if err != nil {
			return domain.Position{}, err
		}
		imp.Parts = part + 1
	}
	var earlier *domain.RosterImported
	out, _, err := decide(ctx, &r.x, s, meta, once(imp.Attempt), func(st recorded[domain.RosterImports]) ([]domain.Event, error) {
		if done, ok := st.folded[imp.FileSHA256]; ok {
			earlier = &done
			return nil, nil
		}
		return []domain.Event{*imp}, nil
	})
	if earlier != nil {
		res.Import, res.Differences, res.Replayed = *earlier, nil, true
	}
	return out.Position, err
}

// states folds the streams of the roster's persons and of the persons the
// read models say the source decides, eight at a time. Persons never
// registered are left out.
func (r *Rosters) states(ctx context.Context, read RosterReads, roster domain.Roster) (map[domain.PersonID]domain.Beneficiary, error) {
	if err := read.CaughtUp(ctx); err != nil {
		return nil, err
	}
	ids, err := read.RosterCandidates(ctx, roster.Source)
	if err != nil {
		return nil, err
	}
	for _, l := range roster.Lines {
		ids = append(ids, domain.PersonIDFromHash(l.IDHash))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	folded := make([]domain.Beneficiary, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			st, err := r.persons.State(gctx, id)
			folded[i] = st
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[domain.PersonID]domain.Beneficiary, len(ids))
	for i, id := range ids {
		if folded[i].Registered {
			out[id] = folded[i]
		}
	}
	return out, nil
}

// Imports returns the completed imports of a source, by file hash.
func (r *Rosters) Imports(ctx context.Context, src domain.RosterSource) (domain.RosterImports, error) {
	s := r.stream(src)
	err := s.catchUp(ctx, r.x.store, r.x.reg)
	return s.state.folded, err
}
