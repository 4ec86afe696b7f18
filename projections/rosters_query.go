package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/domain"
)

// RosterCandidates returns, sorted, the living persons the ledger holds a
// fact for that a roster of source decides, whether or not the roster
// names them: on 低保 or 特困, urban needy, or holding the living
// subsidy (civil affairs); of a poverty class (rural affairs); on the
// work-injury nursing allowance (human resources). A death roster decides
// only the persons it names: none.
func RosterCandidates(ctx context.Context, q Querier, source domain.RosterSource) ([]domain.PersonID, error) {
	var where string
	switch source {
	case domain.RosterCivilAffairs:
		where = `p.dibao OR p.tekun OR p.household_class = 'urban_needy'
			OR EXISTS (SELECT 1 FROM entitlements e WHERE e.person_id = p.person_id
			           AND e.program = 'living_subsidy' AND e.status IN ('active', 'suspended'))`
	case domain.RosterRuralAffairs:
		where = `p.household_class IN ('lifted_from_poverty', 'monitored_marginal', 'monitored_unstable', 'monitored_hardship')`
	case domain.RosterHumanResources:
		where = `p.work_injury_nursing`
	default:
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT p.person_id FROM persons p WHERE p.deceased_on IS NULL AND (`+where+`) ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("roster candidates: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[domain.PersonID])
	if err != nil {
		return nil, fmt.Errorf("roster candidates: %w", err)
	}
	return ids, nil
}

// RosterCandidates is RosterCandidates on r's querier.
func (r ReadModels) RosterCandidates(ctx context.Context, source domain.RosterSource) ([]domain.PersonID, error) {
	ids, err := RosterCandidates(ctx, r.Q, source)
	return ids, readErr(ctx, err)
}

// RosterImportRow is an import as the read model keeps it.
type RosterImportRow struct {
	ImportID    string                        `json:"import_id"`
	Source      domain.RosterSource           `json:"source"`
	AsOf        domain.Date                   `json:"as_of"`
	FileName    string                        `json:"file_name"`
	FileSHA256  string                        `json:"file_sha256"`
	Lines       int                           `json:"lines"`
	Duplicates  int                           `json:"duplicates"`
	Matched     int                           `json:"matched"`
	Unknown     int                           `json:"unknown"`
	Proposed    int                           `json:"proposed"`
	Categories  map[domain.RosterCategory]int `json:"categories"`
	Differences map[domain.DifferenceKind]int `json:"differences"`
	ImportedBy  string                        `json:"imported_by"`
	RecordedAt  time.Time                     `json:"recorded_at"`
}

// RosterImports returns the imports of source (every source when ""),
// latest roster date first.
func RosterImports(ctx context.Context, q Querier, source domain.RosterSource) ([]RosterImportRow, error) {
	rows, err := q.Query(ctx, `SELECT import_id, source, as_of, file_name, file_sha256, lines, duplicates, matched, unknown,
		proposed, categories, differences, imported_by, recorded_at
		FROM roster_imports WHERE $1 = '' OR source = $1 ORDER BY as_of DESC, recorded_at DESC, import_id`, string(source))
	if err != nil {
		return nil, fmt.Errorf("roster imports: %w", err)
	}
	defer rows.Close()
	var out []RosterImportRow
	for rows.Next() {
		var r RosterImportRow
		var src string
		var asOf pgtype.Date
		var cats, diffs []byte
		if err := rows.Scan(&r.ImportID, &src, &asOf, &r.FileName, &r.FileSHA256, &r.Lines, &r.Duplicates, &r.Matched,
			&r.Unknown, &r.Proposed, &cats, &diffs, &r.ImportedBy, &r.RecordedAt); err != nil {
			return nil, fmt.Errorf("roster imports: %w", err)
		}
		r.Source, r.AsOf = domain.RosterSource(src), entDateOf(asOf)
		if err := json.Unmarshal(cats, &r.Categories); err != nil {
			return nil, fmt.Errorf("roster imports: categories of %s: %w", r.ImportID, err)
		}
		if err := json.Unmarshal(diffs, &r.Differences); err != nil {
			return nil, fmt.Errorf("roster imports: differences of %s: %w", r.ImportID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("roster imports: %w", err)
	}
	return out, nil
}

// RosterImports is RosterImports on r's querier.
func (r ReadModels) RosterImports(ctx context.Context, source domain.RosterSource) ([]RosterImportRow, error) {
	out, err := RosterImports(ctx, r.Q, source)
	return out, readErr(ctx, err)
}

// RosterDifferenceRow is a difference with where its proposal stands.
type RosterDifferenceRow struct {
	domain.RosterDifference
	Status     string `json:"status,omitempty"` // of the proposal: pending, approved or rejected
	ProposedBy string `json:"proposed_by,omitempty"`
	DecidedBy  string `json:"decided_by,omitempty"`
}

// RosterDifferences returns the differences an import found, in township
// (all when ""), by township, kind and roster line: the list a township's
// clerk works through. With review, only those no proposal answers — a
// person unknown to the ledger, a change that could not be proposed (the
// note says why): the items a caseworker must look into. An import not
// (yet) in the read model has none.
func RosterDifferences(ctx context.Context, q Querier, importID, township string, review bool) ([]RosterDifferenceRow, error) {
	rows, err := q.Query(ctx, `
		SELECT d.person_id, d.id_masked, d.name, d.township, d.kind, d.line, d.effective_on, d.proposal_id, d.note,
		       coalesce(p.status, ''), coalesce(p.proposed_by, ''), coalesce(p.decided_by, '')
		FROM roster_imports i
		JOIN roster_differences d ON d.import_id = i.import_id AND d.attempt = i.attempt
		LEFT JOIN roster_proposals p ON p.person_id = d.person_id AND p.proposal_id = d.proposal_id AND d.proposal_id <> ''
		WHERE i.import_id = $1 AND ($2 = '' OR d.township = $2) AND (NOT $3 OR d.proposal_id = '')
		ORDER BY d.township, d.kind, d.line, d.person_id, d.part, d.seq`, importID, township, review)
	if err != nil {
		return nil, fmt.Errorf("roster differences: %w", err)
	}
	defer rows.Close()
	var out []RosterDifferenceRow
	for rows.Next() {
		var r RosterDifferenceRow
		var person, kind string
		var eff pgtype.Date
		if err := rows.Scan(&person, &r.IDMasked, &r.Name, &r.Township, &kind, &r.Line, &eff, &r.ProposalID, &r.Note,
			&r.Status, &r.ProposedBy, &r.DecidedBy); err != nil {
			return nil, fmt.Errorf("roster differences: %w", err)
		}
		r.Person, r.Kind, r.EffectiveOn = domain.PersonID(person), domain.DifferenceKind(kind), entDateOf(eff)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("roster differences: %w", err)
	}
	return out, nil
}

// RosterDifferences is RosterDifferences on r's querier.
func (r ReadModels) RosterDifferences(ctx context.Context, importID, township string, review bool) ([]RosterDifferenceRow, error) {
	out, err := RosterDifferences(ctx, r.Q, importID, township, review)
	return out, readErr(ctx, err)
}
