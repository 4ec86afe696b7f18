-- Projection "changelog" (version 1): the changes the federation must tell
-- townships and departments of in its monthly notice. Runs with
-- search_path set to the target schema; names are unqualified.

-- Who each person is and where they live now, as this projection has seen
-- it (a projection never reads another's tables).
CREATE TABLE changelog_persons (
    person_id TEXT PRIMARY KEY,
    township  TEXT NOT NULL,
    name      TEXT NOT NULL,
    id_masked TEXT NOT NULL
);

-- One row per change, under the person's township when it was recorded
-- (a move: the new township). recorded_on is the recording date in
-- Asia/Shanghai, on which the notice window is cut.
CREATE TABLE changelog (
    position_commit  BIGINT      NOT NULL,
    position_prepare BIGINT      NOT NULL,
    person_id        TEXT        NOT NULL,
    township         TEXT        NOT NULL,   -- '' when the person was never registered
    name             TEXT        NOT NULL,
    id_masked        TEXT        NOT NULL,
    kind             TEXT        NOT NULL CHECK (kind IN ('certificate_issued', 'certificate_regraded',
                         'certificate_revoked', 'person_died', 'death_retracted', 'person_moved',
                         'entitlement_granted', 'entitlement_suspended', 'entitlement_terminated', 'entitlement_reinstated',
                         'household_changed')),
    program          TEXT,
    effective_date   DATE,                   -- NULL for a death retraction
    recorded_at      TIMESTAMPTZ NOT NULL,
    recorded_on      DATE        NOT NULL,
    details          JSONB       NOT NULL,
    PRIMARY KEY (position_commit, position_prepare)
);
CREATE INDEX changelog_recorded_on ON changelog (recorded_on, township);
