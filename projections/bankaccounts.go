package projections

import (
	"context"
	_ "embed"
	"fmt"

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

// Apply keeps the last account recorded per person in the batch, then
// writes each once.
func (BankAccountsProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	type row struct {
		acct *domain.BankAccountRecorded
		pos  domain.Position
	}
	latest := map[domain.PersonID]row{}
	var order []domain.PersonID
	for _, e := range batch {
		acct, ok := e.Event.(*domain.BankAccountRecorded)
		if !ok {
			continue
		}
		pid, ok := domain.PersonIDFromStream(e.Stream)
		if !ok {
			return fmt.Errorf("bank_accounts: %s is not a person stream", e.Stream)
		}
		if _, seen := latest[pid]; !seen {
			order = append(order, pid)
		}
		latest[pid] = row{acct, e.Position}
	}
	if len(order) == 0 {
		return nil
	}
	var ids, names, banks, masked, sealed []string
	var commits, prepares []int64
	for _, pid := range order {
		r := latest[pid]
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
