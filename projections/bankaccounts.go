package projections

import (
	"context"
	_ "embed"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/bankaccounts.sql
var bankAccountsSchema string

// BankAccountsProjection is the read model "bank_accounts": each person's
// current bank account, sealed, for the bank payment file.
type BankAccountsProjection struct{}

var _ Projection = BankAccountsProjection{}

func (BankAccountsProjection) Name() string     { return "bank_accounts" }
func (BankAccountsProjection) Version() int     { return 1 }
func (BankAccountsProjection) Schema() string   { return bankAccountsSchema }
func (BankAccountsProjection) Tables() []string { return []string{"bank_accounts"} }

func (BankAccountsProjection) Interest() Interest { return bankAccountsRoutes.interest() }

// bankAccountsBatch is the last account recorded per person in a batch.
type bankAccountsBatch struct {
	latest map[domain.PersonID]bankAccountRow
	order  []domain.PersonID
	erased []string // persons erased in the batch, after their last account
}

type bankAccountRow struct {
	acct *domain.BankAccountRecorded
	pos  domain.Position
}

// bankAccountsRoutes is the bank accounts read model's routing table.
var bankAccountsRoutes = newRoutes([]string{"beneficiary"},
	on(func(b *bankAccountsBatch, env *domain.Envelope, e *domain.BankAccountRecorded) error {
		pid, ok := domain.PersonIDFromStream(env.Stream)
		if !ok {
			return fmt.Errorf("%s is not a person stream", env.Stream)
		}
		if e.Erased {
			return nil // the person was erased: nothing of the account is left to keep
		}
		if _, seen := b.latest[pid]; !seen {
			b.order = append(b.order, pid)
		}
		b.latest[pid] = bankAccountRow{e, env.Position}
		return nil
	}),
	on(func(b *bankAccountsBatch, _ *domain.Envelope, e *domain.PersonErased) error {
		if _, seen := b.latest[e.PersonID]; seen {
			delete(b.latest, e.PersonID)
			b.order = slices.DeleteFunc(b.order, func(p domain.PersonID) bool { return p == e.PersonID })
		}
		b.erased = append(b.erased, string(e.PersonID))
		return nil
	}),
).ignoring(
	// Only the account is kept here; everything else about a person is
	// the entitlements read model's.
	domain.TypePersonRegistered, domain.TypeCertificateIssued, domain.TypeCertificateRegraded, domain.TypeCertificateRevoked,
	domain.TypeHouseholdStatusChanged, domain.TypePersonDied, domain.TypeDeathRetracted, domain.TypePersonMoved,
	domain.TypeEntitlementGranted, domain.TypeEntitlementSuspended, domain.TypeEntitlementResumed, domain.TypeEntitlementTerminated, domain.TypeEntitlementReinstated,
	domain.TypeOneOffGranted, domain.TypeInKindIssued, domain.TypeGrantProposed, domain.TypeGrantApproved, domain.TypeGrantRejected,
	domain.TypeChangeProposed, domain.TypeChangeApproved, domain.TypeChangeRejected,
)

// Apply keeps the last account recorded per person in the batch, then
// writes each once.
func (BankAccountsProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	b := bankAccountsBatch{latest: map[domain.PersonID]bankAccountRow{}}
	for i := range batch {
		if err := bankAccountsRoutes.apply(&b, &batch[i]); err != nil {
			return fmt.Errorf("bank_accounts: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	if len(b.erased) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM bank_accounts WHERE person_id = ANY($1)`, b.erased); err != nil {
			return fmt.Errorf("bank_accounts: erase: %w", err)
		}
	}
	if len(b.order) == 0 {
		return nil
	}
	var ids, names, banks, masked, sealed []string
	var commits, prepares []int64
	for _, pid := range b.order {
		r := b.latest[pid]
		ids, names, banks = append(ids, string(pid)), append(names, r.acct.AccountName), append(banks, r.acct.Bank)
		masked, sealed = append(masked, r.acct.AccountMasked), append(sealed, r.acct.AccountSealed)
		commits, prepares = append(commits, int64(r.pos.Commit)), append(prepares, int64(r.pos.Prepare))
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO bank_accounts (person_id, account_name, bank, account_masked, account_sealed, updated_commit, updated_prepare)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
		ON CONFLICT (person_id) DO UPDATE SET account_name = EXCLUDED.account_name, bank = EXCLUDED.bank,
			account_masked = EXCLUDED.account_masked, account_sealed = EXCLUDED.account_sealed,
			updated_commit = EXCLUDED.updated_commit, updated_prepare = EXCLUDED.updated_prepare`,
		ids, names, banks, masked, sealed, commits, prepares)
	if err != nil {
		return fmt.Errorf("bank_accounts: %w", err)
	}
	return nil
}

// BankAccounts returns the current accounts of the given persons; persons
// without one are absent from the map.
func BankAccounts(ctx context.Context, q Querier, persons []domain.PersonID) (map[domain.PersonID]domain.BankAccount, error) {
	ids := make([]string, len(persons))
	for i, p := range persons {
		ids[i] = string(p)
	}
	rows, err := q.Query(ctx, `SELECT person_id, account_name, bank, account_masked, account_sealed
		FROM bank_accounts WHERE person_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("bank_accounts: %w", err)
	}
	defer rows.Close()
	out := make(map[domain.PersonID]domain.BankAccount, len(persons))
	for rows.Next() {
		var id string
		var a domain.BankAccount
		if err := rows.Scan(&id, &a.AccountName, &a.Bank, &a.AccountMasked, &a.AccountSealed); err != nil {
			return nil, fmt.Errorf("bank_accounts: %w", err)
		}
		out[domain.PersonID(id)] = a
	}
	return out, rows.Err()
}
