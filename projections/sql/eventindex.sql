-- Projection "event_index" (version 1): one row per event of the whole
-- log, every type, for auditors. Metadata only; the event data stays in
-- the event store.
-- Runs with search_path set to the target schema; names are unqualified.
CREATE TABLE event_index (
    position_commit  BIGINT      NOT NULL,
    position_prepare BIGINT      NOT NULL,
    event_id         UUID        NOT NULL,
    stream           TEXT        NOT NULL,
    revision         BIGINT      NOT NULL,
    type             TEXT        NOT NULL,
    actor            TEXT        NOT NULL,
    role             TEXT        NOT NULL,
    command_id       TEXT        NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL, -- system time
    effective_date   DATE,                 -- business time; NULL when the event has none
    reason           TEXT        NOT NULL, -- '' when none was given
    hash             TEXT        NOT NULL,
    prev_hash        TEXT        NOT NULL, -- '' for a stream's first event
    PRIMARY KEY (position_commit, position_prepare)
);
CREATE UNIQUE INDEX event_index_stream ON event_index (stream, revision);
