package projections

import (
	"context"
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// PersonRow is a person as caseworkers see them. The ID number appears
// only masked.
type PersonRow struct {
	PersonID    domain.PersonID
	IDHash      string
	IDMasked    string
	Name        string
	Township    string
	HouseholdID string
	Household   domain.HouseholdStatus
	BirthDate   domain.Date
	Gender      domain.Gender
	// The certificate, if one was ever issued (Category 0 if not). When
	// CertificateRevoked, the fields describe the revoked certificate.
	CertificateCategory     domain.DisabilityCategory
	CertificateGrade        domain.DisabilityGrade
	CertificateNumberMasked string
	CertificateIssuedOn     domain.Date
	CertificateValidUntil   domain.Date
	CertificateRevoked      bool
	DeceasedOn              domain.Date // zero while alive
	RegisteredOn            domain.Date
	UpdatedPosition         domain.Position
	// ErasedOn: the person's personal data was erased (zero if not);
	// IDMasked, Name, BirthDate and CertificateNumberMasked are empty.
	ErasedOn domain.Date
}

func personRowOf(p *entPerson) (PersonRow, error) {
	r := PersonRow{
		PersonID: domain.PersonID(p.id), IDHash: p.idHash, IDMasked: p.idMasked, Name: p.name, Township: p.township,
		HouseholdID: p.householdID, Household: p.household, BirthDate: p.birth, Gender: domain.Gender(p.gender),
		CertificateNumberMasked: p.certMasked, CertificateIssuedOn: p.certIssued, CertificateValidUntil: p.certValid,
		CertificateRevoked: p.revoked, DeceasedOn: p.deceased, RegisteredOn: p.registered, UpdatedPosition: p.pos,
		ErasedOn: p.erased,
	}
	if p.hasCert {
		c, err := domain.ParseCategory("certificate_category", p.certCategory)
		if err != nil {
			return r, err
		}
		r.CertificateCategory, r.CertificateGrade = c, domain.DisabilityGrade(p.certGrade)
	}
	return r, nil
}

func queryPersons(ctx context.Context, q Querier, sql string, args ...any) ([]PersonRow, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	defer rows.Close()
	var out []PersonRow
	for rows.Next() {
		p, err := scanEntPerson(rows)
		if err != nil {
			return nil, fmt.Errorf("entitlements: %w", err)
		}
		r, err := personRowOf(p)
		if err != nil {
			return nil, fmt.Errorf("entitlements: person %s: %w", p.id, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	return out, nil
}

// PersonByHash returns the person whose keyed ID-number hash is idHash
// (domain.LookupKey.Hash), or an error wrapping domain.ErrNotFound.
func PersonByHash(ctx context.Context, q Querier, idHash string) (PersonRow, error) {
	out, err := queryPersons(ctx, q, `SELECT `+entPersonColumns+` FROM persons WHERE id_hash = $1`, idHash)
	if err != nil {
		return PersonRow{}, err
	}
	if len(out) == 0 {
		return PersonRow{}, fmt.Errorf("entitlements: %w", domain.ErrPersonNotFound)
	}
	return out[0], nil
}

// PersonByID returns the person personID, or an error wrapping
// domain.ErrNotFound.
func PersonByID(ctx context.Context, q Querier, personID domain.PersonID) (PersonRow, error) {
	out, err := queryPersons(ctx, q, `SELECT `+entPersonColumns+` FROM persons WHERE person_id = $1`, string(personID))
	if err != nil {
		return PersonRow{}, err
	}
	if len(out) == 0 {
		return PersonRow{}, fmt.Errorf("entitlements: %w", domain.ErrPersonNotFound)
	}
	return out[0], nil
}

// PersonsByID returns the persons of ids that are registered, in no
// particular order: one query for a page that names many.
func PersonsByID(ctx context.Context, q Querier, ids []domain.PersonID) ([]PersonRow, error) {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return queryPersons(ctx, q, `SELECT `+entPersonColumns+` FROM persons WHERE person_id = ANY($1)`, s)
}

// Search limits.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 500
)

// SearchPersons returns persons whose name contains name (all if empty)
// in township (any if empty), ordered by township, name and person ID.
// limit ≤ 0 means DefaultSearchLimit; it is capped at MaxSearchLimit. The
// (township, name) index serves the township filter and the order; the
// name test scans the township's rows, a few thousand at most.
func SearchPersons(ctx context.Context, q Querier, name, township string, limit, offset int) ([]PersonRow, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxSearchLimit)
	offset = max(offset, 0)
	return queryPersons(ctx, q, `SELECT `+entPersonColumns+` FROM persons
		WHERE ($1 = '' OR strpos(name, $1) > 0) AND ($2 = '' OR township = $2)
		ORDER BY township, name, person_id LIMIT $3 OFFSET $4`, name, township, limit, offset)
}
