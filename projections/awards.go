package projections

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/awards.sql
var awardsSchema string

// AwardsProjection is the read model "awards": the facts of the annual
// summary that no other read model keeps —
//
//   - awards: one row per one-off grant (OneOffGranted) and per in-kind
//     issue (InKindIssued), with person, program, effective date, amount
//     (for in-kind: quantity × unit value), quantity, unit value and
//     attributes;
//   - awards_grants: the attributes (post, vehicle plate) of the
//     entitlement grants that carry any, keyed by the grant's position so
//     they join entitlement_history's grant row;
//   - awards_households: every person's household class by effective date:
//     the class registered with (PersonRegistered, effective_on NULL) and
//     each HouseholdStatusChanged. persons keeps only the current class;
//   - awards_budgets: the latest BudgetAllocated per program and fiscal
//     year. spending's budgets cannot tell "no allocation" from "0.00".
//
// The first three tables are only appended to, one row per event; the
// budgets are upserted, the batch's last allocation of a key winning. So
// the tables do not depend on how the log is split into batches, and
// applying a batch again is prevented by the runner's checkpoint, which
// moves in the same transaction. Apply gathers the batch's rows and sends
// them in one round trip of multi-row statements over unnest arrays.
type AwardsProjection struct{}

var _ Projection = AwardsProjection{}

func (AwardsProjection) Name() string   { return "awards" }
func (AwardsProjection) Version() int   { return 1 }
func (AwardsProjection) Schema() string { return awardsSchema }
func (AwardsProjection) Tables() []string {
	return []string{"awards", "awards_grants", "awards_households", "awards_budgets"}
}

// awardRows are the unnest arrays of awardsInsert.
type awardRows struct {
	commit, prepare                   []int64
	person, program, kind, id, amount []string
	effective                         []pgtype.Date
	item, unitValue, attributes       []pgtype.Text
	quantity                          []pgtype.Int4
}

// awardGrantRows are the unnest arrays of awardsGrantsInsert.
type awardGrantRows struct {
	commit, prepare             []int64
	person, program, attributes []string
	from                        []pgtype.Date
}

// awardHouseholdRows are the unnest arrays of awardsHouseholdsInsert.
type awardHouseholdRows struct {
	commit, prepare []int64
	person, class   []string
	effective       []pgtype.Date
}

type awardsBatch struct {
	awards     awardRows
	grants     awardGrantRows
	households awardHouseholdRows
	budgets    map[budgetKey]domain.Money // the batch's last allocation of each key
}

func (AwardsProjection) Interest() Interest { return awardsRoutes.interest() }

// awardsRoutes is the awards read model's routing table.
var awardsRoutes = newRoutes([]string{"beneficiary", "program"},
	on(func(b *awardsBatch, _ *domain.Envelope, e *domain.BudgetAllocated) error {
		if b.budgets == nil {
			b.budgets = map[budgetKey]domain.Money{}
		}
		b.budgets[budgetKey{string(e.Program), int32(e.FiscalYear)}] = e.Amount
		return nil
	}),
	on(func(b *awardsBatch, env *domain.Envelope, e *domain.PersonRegistered) error {
		person, c, p, err := awardAt(env)
		if err != nil {
			return err
		}
		b.household(c, p, person, domain.Date{}, e.Household.Class)
		return nil
	}),
	on(func(b *awardsBatch, env *domain.Envelope, e *domain.HouseholdStatusChanged) error {
		person, c, p, err := awardAt(env)
		if err != nil {
			return err
		}
		if e.EffectiveDate.IsZero() {
			return domain.Invalid("effective_on", "%s has no effective date", env.Type)
		}
		b.household(c, p, person, e.EffectiveDate, e.Household.Class)
		return nil
	}),
	on(func(b *awardsBatch, env *domain.Envelope, e *domain.EntitlementGranted) error {
		person, c, p, err := awardAt(env)
		if err != nil || e.Attributes.IsZero() {
			return err
		}
		if e.EffectiveFrom.IsZero() {
			return domain.Invalid("effective_from", "%s has no effective date", env.Type)
		}
		attrs, err := awardAttributes(e.Attributes)
		if err != nil {
			return err
		}
		g := &b.grants
		g.commit, g.prepare = append(g.commit, c), append(g.prepare, p)
		g.person, g.program, g.attributes = append(g.person, person), append(g.program, string(e.Program)), append(g.attributes, attrs.String)
		g.from = append(g.from, entDateArg(e.EffectiveFrom))
		return nil
	}),
	on(func(b *awardsBatch, env *domain.Envelope, e *domain.OneOffGranted) error {
		person, c, p, err := awardAt(env)
		if err != nil {
			return err
		}
		attrs, err := awardAttributes(e.Attributes)
		if err != nil {
			return err
		}
		return b.award(c, p, person, e.Program, "one_off", e.GrantID, e.EffectiveDate, e.Amount, pgtype.Text{}, pgtype.Int4{}, pgtype.Text{}, attrs)
	}),
	on(func(b *awardsBatch, env *domain.Envelope, e *domain.InKindIssued) error {
		person, c, p, err := awardAt(env)
		if err != nil {
			return err
		}
		if e.Quantity < 1 {
			return domain.Invalid("quantity", "issue %q has quantity %d", e.IssueID, e.Quantity)
		}
		return b.award(c, p, person, e.Program, "in_kind", e.IssueID, e.EffectiveDate, e.UnitValue.Mul(e.Quantity),
			pgtype.Text{String: e.Item, Valid: true}, pgtype.Int4{Int32: int32(e.Quantity), Valid: true},
			pgtype.Text{String: e.UnitValue.String(), Valid: true}, pgtype.Text{})
	}),
).ignoring(
	// The annual summary's other facts are in the entitlements read model.
	domain.TypeCertificateIssued, domain.TypeCertificateRegraded, domain.TypeCertificateRevoked,
	domain.TypePersonDied, domain.TypeDeathRetracted, domain.TypePersonMoved,
	domain.TypeEntitlementSuspended, domain.TypeEntitlementResumed, domain.TypeEntitlementTerminated, domain.TypeEntitlementReinstated,
	domain.TypeGrantProposed, domain.TypeGrantApproved, domain.TypeGrantRejected,
	domain.TypeChangeProposed, domain.TypeChangeApproved, domain.TypeChangeRejected, domain.TypeBankAccountRecorded,
	// Awards name no one: an erasure leaves them as they are.
	domain.TypePersonErased,
	// A budget counts once allocated (BudgetAllocated follows an approval).
	domain.TypeBudgetProposed, domain.TypeBudgetApproved, domain.TypeBudgetRejected,
)

func (AwardsProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var b awardsBatch
	for i := range batch {
		if err := awardsRoutes.apply(&b, &batch[i]); err != nil {
			return fmt.Errorf("awards: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	if err := b.write(ctx, tx); err != nil {
		return fmt.Errorf("awards: %w", err)
	}
	return nil
}

// awardAttributes encodes a grant's attributes as JSON; not valid when it
// carries none.
func awardAttributes(a domain.GrantAttributes) (pgtype.Text, error) {
	if a.IsZero() {
		return pgtype.Text{}, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return pgtype.Text{}, fmt.Errorf("attributes: %w", err)
	}
	return pgtype.Text{String: string(b), Valid: true}, nil
}

// awardAt returns the person a person event is about and its position.
func awardAt(env *domain.Envelope) (person string, commit, prepare int64, err error) {
	if person, err = entPersonOf(env); err != nil {
		return "", 0, 0, err
	}
	commit, prepare, err = entPositionInts(env.Position)
	return person, commit, prepare, err
}

func (b *awardsBatch) household(c, p int64, person string, on domain.Date, class domain.HouseholdClass) {
	h := &b.households
	h.commit, h.prepare = append(h.commit, c), append(h.prepare, p)
	h.person, h.class, h.effective = append(h.person, person), append(h.class, string(class)), append(h.effective, entDateArg(on))
}

func (b *awardsBatch) award(c, p int64, person string, program domain.ProgramCode, kind, id string, on domain.Date, amount domain.Money,
	item pgtype.Text, quantity pgtype.Int4, unitValue, attrs pgtype.Text) error {
	if on.IsZero() {
		return domain.Invalid("effective_on", "%s award %q has no effective date", kind, id)
	}
	a := &b.awards
	a.commit, a.prepare = append(a.commit, c), append(a.prepare, p)
	a.person, a.program, a.kind, a.id = append(a.person, person), append(a.program, string(program)), append(a.kind, kind), append(a.id, id)
	a.effective, a.amount = append(a.effective, entDateArg(on)), append(a.amount, amount.String())
	a.item, a.quantity, a.unitValue, a.attributes = append(a.item, item), append(a.quantity, quantity), append(a.unitValue, unitValue), append(a.attributes, attrs)
	return nil
}

const awardsInsert = `
INSERT INTO awards (position_commit, position_prepare, person_id, program, kind, award_id, effective_on, amount,
	item, quantity, unit_value, attributes)
SELECT c, p, person_id, program, kind, award_id, effective_on, amount::numeric, item, quantity, unit_value::numeric, attributes::jsonb
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[],
	$9::text[], $10::int[], $11::text[], $12::text[])
	AS t(c, p, person_id, program, kind, award_id, effective_on, amount, item, quantity, unit_value, attributes)`

const awardsGrantsInsert = `
INSERT INTO awards_grants (position_commit, position_prepare, person_id, program, effective_from, attributes)
SELECT c, p, person_id, program, effective_from, attributes::jsonb
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::date[], $6::text[])
	AS t(c, p, person_id, program, effective_from, attributes)`

const awardsHouseholdsInsert = `
INSERT INTO awards_households (position_commit, position_prepare, person_id, effective_on, class)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::date[], $5::text[])`

const awardsBudgetsUpsert = `
INSERT INTO awards_budgets AS b (program, fiscal_year, amount)
SELECT program, fiscal_year, amount::numeric FROM unnest($1::text[], $2::int[], $3::text[]) AS t(program, fiscal_year, amount)
ON CONFLICT (program, fiscal_year) DO UPDATE SET amount = EXCLUDED.amount`

// write sends the batch's rows in one round trip.
func (b *awardsBatch) write(ctx context.Context, tx pgx.Tx) error {
	var q pgx.Batch
	if a := &b.awards; len(a.commit) > 0 {
		q.Queue(awardsInsert, a.commit, a.prepare, a.person, a.program, a.kind, a.id, a.effective, a.amount,
			a.item, a.quantity, a.unitValue, a.attributes)
	}
	if g := &b.grants; len(g.commit) > 0 {
		q.Queue(awardsGrantsInsert, g.commit, g.prepare, g.person, g.program, g.from, g.attributes)
	}
	if h := &b.households; len(h.commit) > 0 {
		q.Queue(awardsHouseholdsInsert, h.commit, h.prepare, h.person, h.effective, h.class)
	}
	if len(b.budgets) > 0 {
		keys := slices.SortedFunc(maps.Keys(b.budgets), func(x, y budgetKey) int {
			if c := strings.Compare(x.program, y.program); c != 0 {
				return c
			}
			return int(x.year - y.year)
		})
		prog, year, amount := make([]string, len(keys)), make([]int32, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			prog[i], year[i], amount[i] = k.program, k.year, b.budgets[k].String()
		}
		q.Queue(awardsBudgetsUpsert, prog, year, amount)
	}
	if q.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &q).Close()
}
