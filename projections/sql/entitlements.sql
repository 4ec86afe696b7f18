-- Projection "entitlements" (version 3): the per-person views caseworkers
-- query. Runs with search_path set to the target schema; names are
-- unqualified. Positions are "commit/prepare" text where only shown, and
-- two BIGINT columns where they order rows.

-- One row per registered person: registration, certificate, household,
-- death, moves and erasure.
CREATE TABLE persons (
    person_id                 TEXT    PRIMARY KEY,
    id_hash                   TEXT    NOT NULL UNIQUE,
    id_masked                 TEXT    NOT NULL,
    name                      TEXT    NOT NULL,
    township                  TEXT    NOT NULL,
    household_id              TEXT    NOT NULL,
    household_class           TEXT    NOT NULL,          -- '' = none
    dibao                     BOOLEAN NOT NULL,
    tekun                     BOOLEAN NOT NULL,
    work_injury_nursing       BOOLEAN NOT NULL,
    birth_date                DATE,                      -- NULL once erased
    gender                    TEXT    NOT NULL,
    certificate_category      TEXT,                      -- NULL until a certificate is issued
    certificate_grade         SMALLINT,
    certificate_number_masked TEXT,
    certificate_issued_on     DATE,
    certificate_valid_until   DATE,
    certificate_revoked       BOOLEAN NOT NULL,          -- the fields above describe the revoked certificate
    deceased_on               DATE,
    registered_on             DATE    NOT NULL,
    updated_position          TEXT    NOT NULL,          -- of the last event that changed the row
    erased_on                 DATE                       -- personal data erased: id_masked, name, birth_date and
                                                         -- certificate_number_masked are empty
);
CREATE INDEX persons_township_name ON persons (township, name);

-- Every entitlement decision, in log order. Base table of entitlements.
CREATE TABLE entitlement_history (
    position_commit  BIGINT        NOT NULL,
    position_prepare BIGINT        NOT NULL,
    person_id        TEXT          NOT NULL,
    program          TEXT          NOT NULL,
    change           TEXT          NOT NULL CHECK (change IN ('granted', 'suspended', 'resumed', 'terminated', 'reinstated')),
    effective_date   DATE          NOT NULL,                 -- effective_from, effective_on or effective_to
    recorded_at      TIMESTAMPTZ   NOT NULL,
    actor            TEXT          NOT NULL,
    role             TEXT          NOT NULL,
    reason_code      TEXT,                                   -- suspensions and terminations
    reason           TEXT          NOT NULL,                 -- the user's free text ('' if none)
    amount           NUMERIC(14,2),                          -- grants with their own amount
    PRIMARY KEY (position_commit, position_prepare, program)
);
CREATE INDEX entitlement_history_person ON entitlement_history (person_id, program, position_commit, position_prepare);

-- Net payments per person, program and period (the month paid for):
-- issued minus failed and reversed. Rows whose payments all failed stay,
-- with 0.00 and 0 payments.
CREATE TABLE entitlement_paid (
    person_id TEXT          NOT NULL,
    program   TEXT          NOT NULL,
    period    TEXT          NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
    paid      NUMERIC(16,2) NOT NULL,
    payments  INT           NOT NULL,
    PRIMARY KEY (person_id, program, period)
);

-- Overpayment claims and what was recovered or written off, per person
-- and program.
CREATE TABLE entitlement_overpayments (
    person_id   TEXT          NOT NULL,
    program     TEXT          NOT NULL,
    claimed     NUMERIC(16,2) NOT NULL,
    recovered   NUMERIC(16,2) NOT NULL,
    written_off NUMERIC(16,2) NOT NULL,
    PRIMARY KEY (person_id, program)
);

-- The latest period for which a program has any issued payment: arrears
-- are counted up to it.
CREATE TABLE program_paid_through (
    program TEXT PRIMARY KEY,
    period  TEXT NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$')
);

-- The current state of each person's entitlement to each monthly or annual
-- program, derived from the tables above (see EntitlementsProjection).
CREATE TABLE entitlements (
    person_id        TEXT          NOT NULL,
    program          TEXT          NOT NULL,
    status           TEXT          NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    amount           NUMERIC(14,2),                          -- NULL: the catalog rate
    effective_from   DATE          NOT NULL,
    effective_to     DATE,                                   -- NULL while open
    suspended_from   DATE,
    reason_code      TEXT,
    last_period_paid TEXT,                                   -- 'YYYY-MM' or NULL
    paid_total       NUMERIC(16,2) NOT NULL,
    arrears_owed     NUMERIC(16,2) NOT NULL,
    overpayment_owed NUMERIC(16,2) NOT NULL,
    updated_position TEXT          NOT NULL,
    PRIMARY KEY (person_id, program)
);
CREATE INDEX entitlements_program_open ON entitlements (program) WHERE effective_to IS NULL;
