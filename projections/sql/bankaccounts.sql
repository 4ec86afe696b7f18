-- Projection "bank_accounts" (version 1): where each person is paid. The
-- number is stored only sealed (encrypted) and masked.
CREATE TABLE bank_accounts (
    person_id        TEXT COLLATE "C" PRIMARY KEY,
    account_name     TEXT NOT NULL,
    bank             TEXT NOT NULL,
    account_masked   TEXT NOT NULL,
    account_sealed   TEXT NOT NULL,
    updated_commit   BIGINT NOT NULL,
    updated_prepare  BIGINT NOT NULL
);
