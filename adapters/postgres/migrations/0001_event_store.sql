-- The event store: one append-only table. Each row is one event.
--   position  the insert order (identity); with tx_id it forms the global
--             position. The global log is ordered by (tx_id, position):
--             readers only read transactions below the oldest one still
--             running, so a transaction that commits late can never slip in
--             before an event a subscriber has already seen.
--   revision  0-based index of the event within its stream.
CREATE TABLE events (
    position    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id    uuid        NOT NULL UNIQUE,
    stream      text        NOT NULL,
    revision    bigint      NOT NULL,
    type        text        NOT NULL,
    data        json        NOT NULL, -- kept byte for byte as appended (hashes cover it)
    metadata    json        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, revision)
);

CREATE INDEX events_global_order ON events (tx_id, position);

-- The current revision of every stream: the row an append locks to check
-- its expected revision.
CREATE TABLE streams (
    stream   text   PRIMARY KEY,
    revision bigint NOT NULL
);

-- Events are immutable: corrections are new events, never edits.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only_row
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TRIGGER events_append_only_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
