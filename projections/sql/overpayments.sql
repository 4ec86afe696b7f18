-- Projection "overpayments" (version 2): every overpayment claim, with what
-- was recovered, written off or cancelled (the month owed after all).
CREATE TABLE overpayment_claims (
    claim_id    TEXT COLLATE "C" PRIMARY KEY,
    person_id   TEXT COLLATE "C" NOT NULL,
    program     TEXT COLLATE "C" NOT NULL,
    period      DATE          NOT NULL,          -- first of the month overpaid
    amount      NUMERIC(14,2) NOT NULL,
    refs        TEXT[]        NOT NULL,          -- the payments concerned
    claimed_on  DATE          NOT NULL,
    recovered   NUMERIC(14,2) NOT NULL DEFAULT 0,
    written_off NUMERIC(14,2) NOT NULL DEFAULT 0,
    cancelled   NUMERIC(14,2) NOT NULL DEFAULT 0
);
CREATE INDEX overpayment_claims_program_period ON overpayment_claims (program, period);
CREATE INDEX overpayment_claims_person ON overpayment_claims (person_id);
