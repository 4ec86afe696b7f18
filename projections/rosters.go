package projections

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/rosters.sql
var rostersSchema string

// RostersProjection is the read model of roster cross-checks: the imports
// of other departments' rosters (roster_imports), the differences each
// found, per township (roster_differences), and where each change it
// proposed stands (roster_proposals).
type RostersProjection struct{}

var _ Projection = RostersProjection{}

func (RostersProjection) Name() string   { return "rosters" }
func (RostersProjection) Version() int   { return 1 }
func (RostersProjection) Schema() string { return rostersSchema }
func (RostersProjection) Tables() []string {
	return []string{"roster_imports", "roster_differences", "roster_proposals"}
}

func (RostersProjection) Interest() Interest { return rostersRoutes.interest() }

// rostersBatch is a batch's writes, in log order.
type rostersBatch struct{ q pgx.Batch }

var rostersRoutes = newRoutes([]string{"roster", "beneficiary"},
	on(func(b *rostersBatch, env *domain.Envelope, e *domain.RosterDifferencesFound) error {
		for i, d := range e.Differences {
			b.q.Queue(`INSERT INTO roster_differences (import_id, attempt, part, seq, person_id, id_masked, name, township,
				kind, line, effective_on, proposal_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
				ON CONFLICT DO NOTHING`,
				e.ImportID, e.Attempt, e.Part, i, string(d.Person), d.IDMasked, d.Name, d.Township,
				string(d.Kind), d.Line, entDateArg(d.EffectiveOn), d.ProposalID, d.Note)
		}
		return nil
	}),
	on(func(b *rostersBatch, env *domain.Envelope, e *domain.RosterImported) error {
		cats, err := json.Marshal(e.Categories)
		if err != nil {
			return err
		}
		diffs, err := json.Marshal(e.Differences)
		if err != nil {
			return err
		}
		b.q.Queue(`INSERT INTO roster_imports (import_id, attempt, source, as_of, file_name, file_sha256, lines, duplicates,
			matched, unknown, proposed, categories, differences, imported_by, recorded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (import_id) DO NOTHING`,
			e.ImportID, e.Attempt, string(e.Source), entDateArg(e.AsOf), e.FileName, e.FileSHA256, e.Lines, e.Duplicates,
			e.Matched, e.Unknown, e.Proposed, string(cats), string(diffs), e.ImportedBy, env.Meta.RecordedAt)
		// Parts of attempts that never completed are of no use.
		b.q.Queue(`DELETE FROM roster_differences WHERE import_id = $1 AND attempt <> $2`, e.ImportID, e.Attempt)
		return nil
	}),
	on(func(b *rostersBatch, env *domain.Envelope, e *domain.ChangeProposed) error {
		person, err := entPersonOf(env)
		if err != nil {
			return err
		}
		b.q.Queue(`INSERT INTO roster_proposals (person_id, proposal_id, status, proposed_by, decided_by, reason)
			VALUES ($1, $2, 'pending', $3, '', '') ON CONFLICT DO NOTHING`, person, e.ProposalID, e.ProposedBy)
		return nil
	}),
	on(func(b *rostersBatch, _ *domain.Envelope, e *domain.PersonErased) error {
		b.q.Queue(`UPDATE roster_differences SET id_masked = '', name = '' WHERE person_id = $1`, string(e.PersonID))
		return nil
	}),
	on(func(b *rostersBatch, env *domain.Envelope, e *domain.ChangeApproved) error {
		return b.decided(env, e.ProposalID, domain.ProposalApproved, e.ApprovedBy, "")
	}),
	on(func(b *rostersBatch, env *domain.Envelope, e *domain.ChangeRejected) error {
		return b.decided(env, e.ProposalID, domain.ProposalRejected, e.RejectedBy, e.Reason)
	}),
).ignoring(
	// Everything else about a person is the entitlements read model's.
	domain.TypePersonRegistered, domain.TypeCertificateIssued, domain.TypeCertificateRegraded, domain.TypeCertificateRevoked,
	domain.TypeHouseholdStatusChanged, domain.TypePersonDied, domain.TypeDeathRetracted, domain.TypePersonMoved,
	domain.TypeEntitlementGranted, domain.TypeEntitlementSuspended, domain.TypeEntitlementResumed, domain.TypeEntitlementTerminated,
	domain.TypeEntitlementReinstated, domain.TypeOneOffGranted, domain.TypeInKindIssued,
	domain.TypeGrantProposed, domain.TypeGrantApproved, domain.TypeGrantRejected, domain.TypeBankAccountRecorded,
)

func (b *rostersBatch) decided(env *domain.Envelope, proposal, status, by, reason string) error {
	person, err := entPersonOf(env)
	if err != nil {
		return err
	}
	b.q.Queue(`UPDATE roster_proposals SET status = $3, decided_by = $4, reason = $5 WHERE person_id = $1 AND proposal_id = $2`,
		person, proposal, status, by, reason)
	return nil
}

// Apply queues each event's writes in log order and sends them at once.
func (RostersProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var b rostersBatch
	for i := range batch {
		if err := rostersRoutes.apply(&b, &batch[i]); err != nil {
			return fmt.Errorf("rosters: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	if b.q.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &b.q).Close(); err != nil {
		return fmt.Errorf("rosters: %w", err)
	}
	return nil
}
