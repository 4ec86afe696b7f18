-- Projection "awards" (version 1): what the annual summary needs that no
-- other read model keeps. Runs with search_path set to the target schema;
-- names are unqualified. Every table is keyed by the position of the event
-- that wrote the row (two BIGINT columns), so rows are only ever appended,
-- except awards_budgets, which keeps the latest allocation.

-- One row per one-off grant (OneOffGranted) and per in-kind issue
-- (InKindIssued).
CREATE TABLE awards (
    position_commit  BIGINT           NOT NULL,
    position_prepare BIGINT           NOT NULL,
    person_id        TEXT COLLATE "C" NOT NULL,
    program          TEXT COLLATE "C" NOT NULL,
    kind             TEXT             NOT NULL CHECK (kind IN ('one_off', 'in_kind')),
    award_id         TEXT             NOT NULL, -- grant_id or issue_id, unique within the person
    effective_on     DATE             NOT NULL,
    amount           NUMERIC(16,2)    NOT NULL, -- one-off: the amount granted; in-kind: quantity × unit_value
    item             TEXT,                      -- in-kind only
    quantity         INT,                       -- in-kind only
    unit_value       NUMERIC(14,2),             -- in-kind only
    attributes       JSONB,                     -- the grant's attributes; NULL when none
    PRIMARY KEY (position_commit, position_prepare)
);
CREATE INDEX awards_program_effective ON awards (program, effective_on);

-- The attributes of entitlement grants (EntitlementGranted) that carry any:
-- entitlement_history keeps the grant but not its attributes. Keyed like
-- entitlement_history, so a grant's row there joins on the position.
CREATE TABLE awards_grants (
    position_commit  BIGINT           NOT NULL,
    position_prepare BIGINT           NOT NULL,
    person_id        TEXT COLLATE "C" NOT NULL,
    program          TEXT COLLATE "C" NOT NULL,
    effective_from   DATE             NOT NULL,
    attributes       JSONB            NOT NULL,
    PRIMARY KEY (position_commit, position_prepare)
);

-- Every person's household class over time: the class they were
-- registered with (effective_on NULL: from registration) and each
-- HouseholdStatusChanged by its effective date. The class in force on a
-- date is that of the latest change effective on or before it (ties in log
-- order), else the registration's. '' is none.
CREATE TABLE awards_households (
    position_commit  BIGINT           NOT NULL,
    position_prepare BIGINT           NOT NULL,
    person_id        TEXT COLLATE "C" NOT NULL,
    effective_on     DATE,
    class            TEXT             NOT NULL,
    PRIMARY KEY (position_commit, position_prepare)
);
CREATE INDEX awards_households_person ON awards_households (person_id, effective_on, position_commit, position_prepare);

-- Each program's budget allocation per fiscal year, the latest one winning.
-- spending's budgets table also has a row for a program that spent without
-- an allocation (allocated 0.00); this one has rows for allocations only,
-- so "no budget" and "a budget of 0.00" stay apart.
CREATE TABLE awards_budgets (
    program     TEXT COLLATE "C" NOT NULL,
    fiscal_year INT              NOT NULL,
    amount      NUMERIC(16,2)    NOT NULL,
    PRIMARY KEY (program, fiscal_year)
);
