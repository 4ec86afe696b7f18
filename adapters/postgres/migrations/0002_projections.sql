-- Projection bookkeeping. Each projection's own tables are created by the
-- projection (its Schema), not by migrations, so a rebuild can create them
-- afresh in a shadow schema and swap them in.

-- One row per projection: where it has read up to in the global log. The
-- runner moves it with compare-and-set in the same transaction as the
-- read-model writes, so a batch is applied exactly once.
CREATE TABLE projection_checkpoints (
    name             text        PRIMARY KEY,
    version          integer     NOT NULL,
    position_commit  bigint      NOT NULL DEFAULT 0,
    position_prepare bigint      NOT NULL DEFAULT 0,
    events_applied   bigint      NOT NULL DEFAULT 0,
    last_event_at    timestamptz,            -- recorded-at of the last event applied
    status           text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'parked')),
    applied_by       text,                   -- the runner instance that last advanced it
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Events a projection failed on after its retries. The projection stops at
-- the first one (it never skips an event) until an operator retries it.
CREATE TABLE projection_parked (
    name             text        NOT NULL,
    position_commit  bigint      NOT NULL,
    position_prepare bigint      NOT NULL,
    stream           text        NOT NULL,
    revision         bigint      NOT NULL,
    event_type       text        NOT NULL,
    error            text        NOT NULL,
    attempts         integer     NOT NULL,
    parked_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, position_commit, position_prepare)
);
