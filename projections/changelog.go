package projections

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/changelog.sql
var changelogSchema string

// Change kinds of the changelog: stable codes, shown to departments.
const (
	ChangeCertificateIssued     = "certificate_issued"
	ChangeCertificateRegraded   = "certificate_regraded"
	ChangeCertificateRevoked    = "certificate_revoked"
	ChangePersonDied            = "person_died"
	ChangeDeathRetracted        = "death_retracted"
	ChangePersonMoved           = "person_moved"
	ChangeEntitlementGranted    = "entitlement_granted"
	ChangeEntitlementSuspended  = "entitlement_suspended"
	ChangeEntitlementTerminated = "entitlement_terminated"
	ChangeEntitlementReinstated = "entitlement_reinstated"
	ChangeHouseholdChanged      = "household_changed"
)

// ChangelogProjection is the read model "changelog": one row per change a
// township or department must be told of in the monthly notice — new
// certificates, regrades, revocations, deaths and their retractions,
// moves, grants, suspensions, terminations and household status changes.
// Registrations and resumptions are not notified. Each row carries the
// person's township, name and masked ID number as they were when the
// change was recorded (a move is filed under the new township, with the
// old one in its details); the projection keeps them in its own
// changelog_persons table. recorded_on is the recording date in
// Asia/Shanghai, on which the notice window (around the 20th) is cut.
type ChangelogProjection struct{}

var _ Projection = ChangelogProjection{}

func (ChangelogProjection) Name() string     { return "changelog" }
func (ChangelogProjection) Version() int     { return 2 }
func (ChangelogProjection) Schema() string   { return changelogSchema }
func (ChangelogProjection) Tables() []string { return []string{"changelog_persons", "changelog"} }

type clPerson struct{ township, name, idMasked string }

type clChange struct {
	pos       domain.Position
	person    string
	who       clPerson
	kind      string
	program   string
	effective domain.Date
	at        time.Time
	details   map[string]any
}

func (ChangelogProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	persons := map[string]*clPerson{}
	ids := map[string]bool{}
	for i := range batch {
		if id, ok := domain.PersonIDFromStream(batch[i].Stream); ok {
			ids[string(id)] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT person_id, township, name, id_masked FROM changelog_persons WHERE person_id = ANY($1)`,
		slices.Sorted(maps.Keys(ids)))
	if err != nil {
		return fmt.Errorf("changelog: %w", err)
	}
	for rows.Next() {
		var id string
		var p clPerson
		if err := rows.Scan(&id, &p.township, &p.name, &p.idMasked); err != nil {
			rows.Close()
			return fmt.Errorf("changelog: %w", err)
		}
		persons[id] = &p
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("changelog: %w", err)
	}

	b := clBatch{persons: persons, dirty: map[string]bool{}}
	for i := range batch {
		env := &batch[i]
		id, ok := domain.PersonIDFromStream(env.Stream)
		if !ok {
			continue
		}
		b.person = string(id)
		if err := changelogRoutes.apply(&b, env); err != nil {
			return fmt.Errorf("changelog: %s@%d: %w", env.Stream, env.Revision, err)
		}
	}
	dirty, changes := b.dirty, b.changes

	if len(dirty) > 0 {
		var id, town, name, masked []string
		for _, k := range slices.Sorted(maps.Keys(dirty)) {
			p := persons[k]
			id, town, name, masked = append(id, k), append(town, p.township), append(name, p.name), append(masked, p.idMasked)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO changelog_persons AS p (person_id, township, name, id_masked)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
			ON CONFLICT (person_id) DO UPDATE SET township = EXCLUDED.township, name = EXCLUDED.name, id_masked = EXCLUDED.id_masked`,
			id, town, name, masked); err != nil {
			return fmt.Errorf("changelog: persons: %w", err)
		}
	}
	if err := insertChanges(ctx, tx, changes); err != nil {
		return err
	}
	if len(b.erased) > 0 {
		// What was recorded before the erasure keeps its facts, not whom
		// they were about: the name and masked numbers go.
		if _, err := tx.Exec(ctx, `UPDATE changelog SET name = '', id_masked = '', details = details - 'number_masked'
			WHERE person_id = ANY($1)`, b.erased); err != nil {
			return fmt.Errorf("changelog: erase: %w", err)
		}
	}
	return nil
}

// insertChanges writes a batch's changes.
func insertChanges(ctx context.Context, tx pgx.Tx, changes []clChange) error {
	if len(changes) == 0 {
		return nil
	}
	n := len(changes)
	var (
		commit, prepare                            = make([]int64, 0, n), make([]int64, 0, n)
		person, town, name, masked, kind, programs = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		eff, on                                    = make([]pgtype.Date, 0, n), make([]pgtype.Date, 0, n)
		at                                         = make([]time.Time, 0, n)
		details                                    = make([]string, 0, n)
	)
	for _, c := range changes {
		cm, pr, err := entPositionInts(c.pos)
		if err != nil {
			return fmt.Errorf("changelog: %w", err)
		}
		js, err := json.Marshal(c.details)
		if err != nil {
			return fmt.Errorf("changelog: %s: %w", c.pos, err)
		}
		commit, prepare = append(commit, cm), append(prepare, pr)
		person, town, name, masked = append(person, c.person), append(town, c.who.township), append(name, c.who.name), append(masked, c.who.idMasked)
		kind, programs = append(kind, c.kind), append(programs, c.program)
		eff, on = append(eff, entDateArg(c.effective)), append(on, entDateArg(domain.BusinessDate(c.at)))
		at, details = append(at, c.at.UTC()), append(details, string(js))
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO changelog (position_commit, position_prepare, person_id, township, name, id_masked, kind, program,
			effective_date, recorded_at, recorded_on, details)
		SELECT c, p, person_id, township, name, id_masked, kind, nullif(program, ''), effective_date, recorded_at, recorded_on, details::jsonb
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::date[], $10::timestamptz[], $11::date[], $12::text[])
			AS t(c, p, person_id, township, name, id_masked, kind, program, effective_date, recorded_at, recorded_on, details)`,
		commit, prepare, person, town, name, masked, kind, programs, eff, at, on, details); err != nil {
		return fmt.Errorf("changelog: %w", err)
	}
	return nil
}

func (ChangelogProjection) Interest() Interest { return changelogRoutes.interest() }

// clBatch is a batch of the changelog: the persons as the batch leaves
// them, those changed, and the changes.
type clBatch struct {
	persons map[string]*clPerson
	dirty   map[string]bool
	changes []clChange
	erased  []string // persons whose personal data the batch erased
	person  string   // of the event being applied
}

// change records c for the event's person, under their township and name
// as they stand (c.who as given for a person never registered).
func (b *clBatch) change(env *domain.Envelope, c clChange) error {
	if p := b.persons[b.person]; p != nil {
		c.who = *p
	}
	c.pos, c.person, c.at = env.Position, b.person, env.Meta.RecordedAt
	b.changes = append(b.changes, c)
	return nil
}

// changelogRoutes is the changelog's routing table: registrations keep
// the person's details, every other routed event is a change.
var changelogRoutes = newRoutes([]string{"beneficiary"},
	on(func(b *clBatch, _ *domain.Envelope, e *domain.PersonRegistered) error {
		b.persons[b.person] = &clPerson{township: e.Township, name: e.Name, idMasked: e.IDMasked}
		b.dirty[b.person] = true
		return nil
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.CertificateIssued) error {
		return b.change(env, clChange{kind: ChangeCertificateIssued, effective: e.IssuedOn, details: map[string]any{
			"category": e.Category.String(), "grade": int(e.Grade), "number_masked": e.NumberMasked,
			"issued_on": e.IssuedOn.String(), "valid_until": e.ValidUntil.String(),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.CertificateRegraded) error {
		return b.change(env, clChange{kind: ChangeCertificateRegraded, effective: e.EffectiveDate, details: map[string]any{
			"category_from": e.PreviousCategory.String(), "category_to": e.Category.String(),
			"grade_from": int(e.PreviousGrade), "grade_to": int(e.Grade),
			"number_masked": e.NumberMasked, "valid_until": e.ValidUntil.String(),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.CertificateRevoked) error {
		return b.change(env, clChange{kind: ChangeCertificateRevoked, effective: e.EffectiveDate, details: map[string]any{
			"number_masked": e.NumberMasked, "reason_code": string(e.ReasonCode),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.PersonDied) error {
		return b.change(env, clChange{kind: ChangePersonDied, effective: e.DateOfDeath, details: map[string]any{
			"date_of_death": e.DateOfDeath.String(),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.DeathRetracted) error {
		return b.change(env, clChange{kind: ChangeDeathRetracted, details: map[string]any{
			"date_of_death": e.DateOfDeath.String(),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.PersonMoved) error {
		if p := b.persons[b.person]; p != nil {
			p.township = e.ToTownship
			b.dirty[b.person] = true
		}
		c := clChange{kind: ChangePersonMoved, effective: e.EffectiveDate, details: map[string]any{
			"township_from": e.FromTownship, "township_to": e.ToTownship,
		}}
		c.who.township = e.ToTownship // filed under the new township
		return b.change(env, c)
	}),
	on(func(b *clBatch, _ *domain.Envelope, e *domain.PersonErased) error {
		if p := b.persons[b.person]; p != nil {
			p.name, p.idMasked = "", ""
			b.dirty[b.person] = true
		}
		b.erased = append(b.erased, b.person)
		return nil
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.HouseholdStatusChanged) error {
		return b.change(env, clChange{kind: ChangeHouseholdChanged, effective: e.EffectiveDate, details: map[string]any{
			"from": e.PreviousHousehold, "to": e.Household,
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.EntitlementGranted) error {
		d := map[string]any{"effective_from": e.EffectiveFrom.String()}
		if !e.Amount.IsZero() {
			d["amount"] = e.Amount.String()
		}
		if !e.Attributes.IsZero() {
			d["attributes"] = e.Attributes
		}
		return b.change(env, clChange{kind: ChangeEntitlementGranted, program: string(e.Program), effective: e.EffectiveFrom, details: d})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.EntitlementSuspended) error {
		return b.change(env, clChange{kind: ChangeEntitlementSuspended, program: string(e.Program), effective: e.EffectiveDate, details: map[string]any{
			"reason_code": string(e.ReasonCode),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.EntitlementTerminated) error {
		return b.change(env, clChange{kind: ChangeEntitlementTerminated, program: string(e.Program), effective: e.EffectiveTo, details: map[string]any{
			"reason_code": string(e.ReasonCode), "effective_to": e.EffectiveTo.String(),
		}})
	}),
	on(func(b *clBatch, env *domain.Envelope, e *domain.EntitlementReinstated) error {
		// In force again from the first day the termination had taken.
		return b.change(env, clChange{kind: ChangeEntitlementReinstated, program: string(e.Program), effective: e.EndedOn.AddDays(1), details: map[string]any{
			"reason_code": string(e.ReasonCode), "ended_on": e.EndedOn.String(),
		}})
	}),
).ignoring(
	// The notice leaves out resumptions, one-off and in-kind grants,
	// proposals and bank accounts.
	domain.TypeEntitlementResumed, domain.TypeOneOffGranted, domain.TypeInKindIssued,
	domain.TypeGrantProposed, domain.TypeGrantApproved, domain.TypeGrantRejected,
	domain.TypeChangeProposed, domain.TypeChangeApproved, domain.TypeChangeRejected, domain.TypeBankAccountRecorded,
)

// ChangeRow is one line of the monthly change notice.
type ChangeRow struct {
	Position      domain.Position
	PersonID      domain.PersonID
	Township      string // when the change was recorded; a move: the new township
	Name          string
	IDMasked      string
	Kind          string             // one of the Change… codes
	Program       domain.ProgramCode // entitlement changes only
	EffectiveDate domain.Date        // zero for a death retraction
	RecordedAt    time.Time          // UTC
	RecordedOn    domain.Date        // in Asia/Shanghai
	Details       json.RawMessage    // e.g. {"grade_from": 3, "grade_to": 2, …}
}

// Changes returns the changes recorded (Asia/Shanghai dates) from from to
// to inclusive, in township (any if empty), ordered by township and then
// by recording order.
func Changes(ctx context.Context, q Querier, from, to domain.Date, township string) ([]ChangeRow, error) {
	switch {
	case from.IsZero():
		return nil, fmt.Errorf("changelog: %w", domain.Invalid("from", "is required"))
	case to.IsZero():
		return nil, fmt.Errorf("changelog: %w", domain.Invalid("to", "is required"))
	case to.Before(from):
		return nil, fmt.Errorf("changelog: %w", domain.Invalid("to", "%s is before from %s", to, from))
	}
	rows, err := q.Query(ctx, `
		SELECT position_commit, position_prepare, person_id, township, name, id_masked, kind, coalesce(program, ''),
			effective_date, recorded_at, recorded_on, details::text
		FROM changelog
		WHERE recorded_on BETWEEN $1 AND $2 AND ($3 = '' OR township = $3)
		ORDER BY township, position_commit, position_prepare`, entDateArg(from), entDateArg(to), township)
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	defer rows.Close()
	var out []ChangeRow
	for rows.Next() {
		var (
			r                        ChangeRow
			commit, prepare          int64
			person, program, details string
			eff, on                  pgtype.Date
		)
		if err := rows.Scan(&commit, &prepare, &person, &r.Township, &r.Name, &r.IDMasked, &r.Kind, &program,
			&eff, &r.RecordedAt, &on, &details); err != nil {
			return nil, fmt.Errorf("changelog: %w", err)
		}
		r.Position = domain.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
		r.PersonID, r.Program = domain.PersonID(person), domain.ProgramCode(program)
		r.EffectiveDate, r.RecordedOn, r.RecordedAt = entDateOf(eff), entDateOf(on), r.RecordedAt.UTC()
		r.Details = json.RawMessage(details)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	return out, nil
}
