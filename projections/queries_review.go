package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// ReviewCandidates returns, sorted, the persons with an open entitlement
// that a date alone may have broken on day on: their certificate's last
// valid day is before on, or they are under 20 (an age limit; every
// limit of the catalog is below that). It over-selects; the review
// decides (domain.ReviewEligibility).
func ReviewCandidates(ctx context.Context, q Querier, on domain.Date) ([]domain.PersonID, error) {
	rows, err := q.Query(ctx, `
		SELECT DISTINCT p.person_id FROM persons p JOIN entitlements e USING (person_id)
		WHERE e.status IN ('active', 'suspended') AND p.deceased_on IS NULL
		  AND ((e.status = 'active' AND p.certificate_valid_until < $1 AND NOT p.certificate_revoked)
		       OR p.birth_date > $1::date - interval '20 years')
		ORDER BY 1`, on.Time())
	if err != nil {
		return nil, fmt.Errorf("review candidates: %w", err)
	}
	defer rows.Close()
	var out []domain.PersonID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, domain.PersonID(id))
	}
	return out, rows.Err()
}

// ReviewCandidates is ReviewCandidates on r's querier.
func (r ReadModels) ReviewCandidates(ctx context.Context, on domain.Date) ([]domain.PersonID, error) {
	ids, err := ReviewCandidates(ctx, r.Q, on)
	return ids, readErr(ctx, err)
}

// ExpiringCertificate is a person whose certificate's last valid day falls
// in a window, with what rests on it.
type ExpiringCertificate struct {
	PersonID     domain.PersonID `json:"person_id"`
	Name         string          `json:"name"`
	IDMasked     string          `json:"id_masked"`
	Township     string          `json:"township"`
	NumberMasked string          `json:"certificate_number_masked"`
	ValidUntil   domain.Date     `json:"valid_until"`
	Programs     []string        `json:"open_programs"` // open entitlements that need the certificate, sorted
}

// ExpiringCertificates returns the living persons whose certificate (not
// revoked) expires from from to to inclusive, in township (all when ""),
// by township, expiry and name: whom caseworkers call in for renewal.
func ExpiringCertificates(ctx context.Context, q Querier, from, to domain.Date, township string) ([]ExpiringCertificate, error) {
	rows, err := q.Query(ctx, `
		SELECT p.person_id, p.name, p.id_masked, p.township, coalesce(p.certificate_number_masked, ''), p.certificate_valid_until,
			coalesce(array_agg(e.program ORDER BY e.program) FILTER (WHERE e.program = ANY($4)), '{}')
		FROM persons p LEFT JOIN entitlements e ON e.person_id = p.person_id AND e.status IN ('active', 'suspended')
		WHERE p.certificate_valid_until BETWEEN $1 AND $2 AND NOT p.certificate_revoked AND p.deceased_on IS NULL
		  AND ($3 = '' OR p.township = $3)
		GROUP BY p.person_id
		ORDER BY p.township, p.certificate_valid_until, p.name, p.person_id`, from.Time(), to.Time(), township, certificatePrograms())
	if err != nil {
		return nil, fmt.Errorf("expiring certificates: %w", err)
	}
	defer rows.Close()
	var out []ExpiringCertificate
	for rows.Next() {
		var c ExpiringCertificate
		var id string
		var until time.Time
		if err := rows.Scan(&id, &c.Name, &c.IDMasked, &c.Township, &c.NumberMasked, &until, &c.Programs); err != nil {
			return nil, err
		}
		c.PersonID, c.ValidUntil = domain.PersonID(id), domain.DateOf(until)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ExpiringCertificates is ExpiringCertificates on r's querier.
func (r ReadModels) ExpiringCertificates(ctx context.Context, from, to domain.Date, township string) ([]ExpiringCertificate, error) {
	certs, err := ExpiringCertificates(ctx, r.Q, from, to, township)
	return certs, readErr(ctx, err)
}

// certificatePrograms lists the programs that need a certificate.
func certificatePrograms() []string {
	var out []string
	for _, p := range domain.Catalog() {
		if p.RequiresCertificate {
			out = append(out, string(p.Code))
		}
	}
	return out
}
