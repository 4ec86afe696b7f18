package projections

import (
	"context"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/domain"
)

// The person register: one persons row per registered person — who they
// are, their certificate and household, death and moves — written by the
// entitlements read model from the beneficiary events of entPersonRoutes
// and PersonRegistered, and read by the queries in persons_query.go (and by
// PayrollPersons and the annual summary, for a person's township and
// household). Its rows depend on nothing else the read model keeps, and
// nothing the read model derives depends on them.
//
// It shares the entitlements read model's checkpoint and transaction, so
// PayrollPersons, which joins persons to entitlement_history, reads both
// at one position.

// entRegister is a batch's share of the person register: the persons rows
// the batch read or registered, and those it changed.
type entRegister struct {
	persons      map[string]*entPerson // loaded or registered in the batch
	dirtyPersons map[string]bool
}

// entPerson is a persons row.
type entPerson struct {
	id, idHash, idMasked, name, township, householdID string
	household                                         domain.HouseholdStatus
	birth                                             domain.Date
	gender                                            string
	hasCert                                           bool
	certCategory                                      string
	certGrade                                         int16
	certMasked                                        string
	certIssued, certValid                             domain.Date
	revoked                                           bool
	deceased                                          domain.Date
	registered                                        domain.Date
	pos                                               domain.Position
	erased                                            domain.Date
}

const entPersonColumns = `person_id, id_hash, id_masked, name, township, household_id, household_class,
	dibao, tekun, work_injury_nursing, birth_date, gender, certificate_category, certificate_grade,
	certificate_number_masked, certificate_issued_on, certificate_valid_until, certificate_revoked,
	deceased_on, registered_on, updated_position, erased_on`

func scanEntPerson(row pgx.Row) (*entPerson, error) {
	var (
		p                                       entPerson
		class, pos                              string
		birth, issued, valid, died, reg, erased pgtype.Date
		cat, masked                             pgtype.Text
		grade                                   pgtype.Int2
	)
	err := row.Scan(&p.id, &p.idHash, &p.idMasked, &p.name, &p.township, &p.householdID, &class,
		&p.household.Dibao, &p.household.Tekun, &p.household.WorkInjuryNursing, &birth, &p.gender, &cat, &grade,
		&masked, &issued, &valid, &p.revoked, &died, &reg, &pos, &erased)
	if err != nil {
		return nil, err
	}
	p.household.Class = domain.HouseholdClass(class)
	p.birth, p.certIssued, p.certValid, p.deceased, p.registered = entDateOf(birth), entDateOf(issued), entDateOf(valid), entDateOf(died), entDateOf(reg)
	p.erased = entDateOf(erased)
	p.hasCert, p.certCategory, p.certGrade, p.certMasked = cat.Valid, cat.String, grade.Int16, masked.String
	if p.pos, err = domain.ParsePosition("updated_position", pos); err != nil {
		return nil, err
	}
	return &p, nil
}

// loadPersons reads the persons rows the batch's person events change
// (those of entPersonRoutes).
func (b *entRegister) loadPersons(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	ids := map[string]bool{}
	for i := range batch {
		if entPersonRoutes.handles(&batch[i]) {
			if id, err := entPersonOf(&batch[i]); err == nil {
				ids[id] = true
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT `+entPersonColumns+` FROM persons WHERE person_id = ANY($1)`, slices.Sorted(maps.Keys(ids)))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanEntPerson(rows)
		if err != nil {
			return err
		}
		b.persons[p.id] = p
	}
	return rows.Err()
}

// entPersonRoutes routes the events that change a registered person's
// row; person applies them.
var entPersonRoutes = newRoutes[*entPerson](nil,
	on(func(p *entPerson, _ *domain.Envelope, e *domain.CertificateIssued) error {
		p.hasCert, p.certCategory, p.certGrade, p.certMasked = true, e.Category.String(), int16(e.Grade), e.NumberMasked
		p.certIssued, p.certValid, p.revoked = e.IssuedOn, e.ValidUntil, false
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.CertificateRegraded) error {
		if !p.hasCert {
			p.certIssued = e.EffectiveDate
		}
		p.hasCert, p.certCategory, p.certGrade, p.certMasked = true, e.Category.String(), int16(e.Grade), e.NumberMasked
		p.certValid = e.ValidUntil
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.CertificateRevoked) error {
		p.revoked = true
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.HouseholdStatusChanged) error {
		p.household = e.Household
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.PersonDied) error {
		p.deceased = e.DateOfDeath
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.DeathRetracted) error {
		p.deceased = domain.Date{}
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.PersonMoved) error {
		p.township = e.ToTownship
		return nil
	}),
	on(func(p *entPerson, _ *domain.Envelope, e *domain.PersonErased) error {
		p.idMasked, p.name, p.birth, p.gender, p.certMasked, p.erased = "", "", domain.Date{}, "", "", e.ErasedOn
		return nil
	}),
)

// register adds the row of a person PersonRegistered registers.
func (b *entRegister) register(env *domain.Envelope, e *domain.PersonRegistered) error {
	id, err := entPersonOf(env)
	if err != nil {
		return err
	}
	b.persons[id] = &entPerson{
		id: id, idHash: e.IDHash, idMasked: e.IDMasked, name: e.Name, township: e.Township,
		householdID: e.HouseholdID, household: e.Household, birth: e.BirthDate, gender: string(e.Gender),
		registered: e.RegisteredOn, pos: env.Position,
	}
	b.dirtyPersons[id] = true
	return nil
}

// person applies a person event (one of entPersonRoutes) to its row.
// Events of a person never registered change nothing.
func (b *entRegister) person(env *domain.Envelope) error {
	id, err := entPersonOf(env)
	if err != nil {
		return err
	}
	p := b.persons[id]
	if p == nil {
		return nil
	}
	if err := entPersonRoutes.apply(p, env); err != nil {
		return err
	}
	p.pos = env.Position
	b.dirtyPersons[id] = true
	return nil
}

const entPersonsUpsert = `
INSERT INTO persons AS p (` + entPersonColumns + `)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::bool[], $9::bool[], $10::bool[], $11::date[], $12::text[], $13::text[], $14::smallint[],
	$15::text[], $16::date[], $17::date[], $18::bool[], $19::date[], $20::date[], $21::text[], $22::date[])
ON CONFLICT (person_id) DO UPDATE SET
	id_hash = EXCLUDED.id_hash, id_masked = EXCLUDED.id_masked, name = EXCLUDED.name, township = EXCLUDED.township,
	household_id = EXCLUDED.household_id, household_class = EXCLUDED.household_class, dibao = EXCLUDED.dibao,
	tekun = EXCLUDED.tekun, work_injury_nursing = EXCLUDED.work_injury_nursing, birth_date = EXCLUDED.birth_date,
	gender = EXCLUDED.gender, certificate_category = EXCLUDED.certificate_category,
	certificate_grade = EXCLUDED.certificate_grade, certificate_number_masked = EXCLUDED.certificate_number_masked,
	certificate_issued_on = EXCLUDED.certificate_issued_on, certificate_valid_until = EXCLUDED.certificate_valid_until,
	certificate_revoked = EXCLUDED.certificate_revoked, deceased_on = EXCLUDED.deceased_on,
	registered_on = EXCLUDED.registered_on, updated_position = EXCLUDED.updated_position, erased_on = EXCLUDED.erased_on`

func (b *entRegister) writePersons(ctx context.Context, tx pgx.Tx) error {
	if len(b.dirtyPersons) == 0 {
		return nil
	}
	n := len(b.dirtyPersons)
	var (
		id, hash, masked, name, town, hh, class, gender, pos = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		dibao, tekun, win, revoked                           = make([]bool, 0, n), make([]bool, 0, n), make([]bool, 0, n), make([]bool, 0, n)
		birth, issued, valid, died, reg, erased              = make([]pgtype.Date, 0, n), make([]pgtype.Date, 0, n), make([]pgtype.Date, 0, n), make([]pgtype.Date, 0, n), make([]pgtype.Date, 0, n), make([]pgtype.Date, 0, n)
		cat, certMasked                                      = make([]pgtype.Text, 0, n), make([]pgtype.Text, 0, n)
		grade                                                = make([]pgtype.Int2, 0, n)
	)
	for _, k := range slices.Sorted(maps.Keys(b.dirtyPersons)) {
		p := b.persons[k]
		id, hash, masked, name, town = append(id, p.id), append(hash, p.idHash), append(masked, p.idMasked), append(name, p.name), append(town, p.township)
		hh, class, gender, pos = append(hh, p.householdID), append(class, string(p.household.Class)), append(gender, p.gender), append(pos, p.pos.String())
		dibao, tekun, win, revoked = append(dibao, p.household.Dibao), append(tekun, p.household.Tekun), append(win, p.household.WorkInjuryNursing), append(revoked, p.revoked)
		birth, issued, valid = append(birth, entDateArg(p.birth)), append(issued, entDateArg(p.certIssued)), append(valid, entDateArg(p.certValid))
		died, reg, erased = append(died, entDateArg(p.deceased)), append(reg, entDateArg(p.registered)), append(erased, entDateArg(p.erased))
		cat = append(cat, pgtype.Text{String: p.certCategory, Valid: p.hasCert})
		certMasked = append(certMasked, pgtype.Text{String: p.certMasked, Valid: p.hasCert})
		grade = append(grade, pgtype.Int2{Int16: p.certGrade, Valid: p.hasCert})
	}
	_, err := tx.Exec(ctx, entPersonsUpsert, id, hash, masked, name, town, hh, class, dibao, tekun, win, birth, gender,
		cat, grade, certMasked, issued, valid, revoked, died, reg, pos, erased)
	return err
}
