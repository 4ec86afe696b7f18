-- Personal data keys (crypto-shredding): one AES-256 data key per person,
-- sealed by the master key (LEDGER_MASTER_KEY), which never reaches the
-- database. The personal data in events (ID numbers, names, bank accounts)
-- is sealed with these keys; erasing a person sets sealed_key to NULL, so
-- that data can never be read again while the events stay as they were.
-- A row with a NULL key tells an erased person apart from a key that was
-- never there (which is an error, not an erasure).
CREATE TABLE person_keys (
    person_id  TEXT COLLATE "C" PRIMARY KEY,
    sealed_key TEXT,                         -- vault-sealed key; NULL once erased
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    erased_at  TIMESTAMPTZ,
    CHECK ((sealed_key IS NULL) = (erased_at IS NOT NULL))
);
