-- Rosters read model: the imports of other departments' rosters, the
-- differences each found, and the change proposals' decisions.

-- One row per completed import.
CREATE TABLE roster_imports (
    import_id    TEXT        PRIMARY KEY,
    attempt      TEXT        NOT NULL,   -- the attempt whose differences count
    source       TEXT        NOT NULL,
    as_of        DATE        NOT NULL,
    file_name    TEXT        NOT NULL,
    file_sha256  TEXT        NOT NULL,
    lines        INT         NOT NULL,
    duplicates   INT         NOT NULL,
    matched      INT         NOT NULL,
    unknown      INT         NOT NULL,
    proposed     INT         NOT NULL,
    categories   JSONB       NOT NULL,   -- lines per category
    differences  JSONB       NOT NULL,   -- differences per kind
    imported_by  TEXT        NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX roster_imports_source ON roster_imports (source, as_of);

-- Every difference of every attempt; an attempt that never completed has
-- no roster_imports row naming it and is never shown.
CREATE TABLE roster_differences (
    import_id    TEXT NOT NULL,
    attempt      TEXT NOT NULL,
    part         INT  NOT NULL,
    seq          INT  NOT NULL,
    person_id    TEXT NOT NULL,           -- '' for a person unknown to the ledger
    id_masked    TEXT NOT NULL,
    name         TEXT NOT NULL,
    township     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    line         INT  NOT NULL,           -- 0: missing from the roster
    effective_on DATE,
    proposal_id  TEXT NOT NULL,           -- '' when nothing was proposed
    note         TEXT NOT NULL,
    PRIMARY KEY (import_id, attempt, part, seq)
);
CREATE INDEX roster_differences_township ON roster_differences (import_id, township, kind);

-- The state of every change proposal.
CREATE TABLE roster_proposals (
    person_id   TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    proposed_by TEXT NOT NULL,
    decided_by  TEXT NOT NULL,           -- '' while pending
    reason      TEXT NOT NULL,           -- of a rejection
    PRIMARY KEY (person_id, proposal_id)
);
