-- Projection "payments" (version 1): the payments register, one row per
-- payment line, for reconciliation with the bank.
-- Runs with search_path set to the target schema; names are unqualified.
CREATE TABLE payments (
    reference       TEXT COLLATE "C" PRIMARY KEY,
    batch_id        TEXT COLLATE "C" NOT NULL,
    person_id       TEXT COLLATE "C" NOT NULL,
    program         TEXT COLLATE "C" NOT NULL,
    period          DATE          NOT NULL CHECK (extract(day FROM period) = 1), -- first of the month paid for
    kind            TEXT          NOT NULL,
    amount          NUMERIC(14,2) NOT NULL CHECK (amount >= 0),
    township        TEXT          NOT NULL,
    paid_on         DATE          NOT NULL,
    -- The last status event in log order wins.
    status          TEXT          NOT NULL CHECK (status IN ('issued', 'settled', 'failed', 'reversed')),
    status_on       DATE          NOT NULL, -- paid_on, settled_on, failed_on or reversed_on
    bank_reference  TEXT          NOT NULL, -- from the last settlement; kept after a reversal
    reason          TEXT          NOT NULL, -- of the last failure or reversal; '' while issued or settled
    issued_commit   BIGINT        NOT NULL, -- global position of PaymentIssued
    issued_prepare  BIGINT        NOT NULL,
    updated_commit  BIGINT        NOT NULL, -- global position of the last event
    updated_prepare BIGINT        NOT NULL
);
CREATE INDEX payments_batch ON payments (batch_id);
CREATE INDEX payments_person ON payments (person_id, program, period);
