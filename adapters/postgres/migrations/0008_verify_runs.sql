-- Each run of `ledger verify`, for the auditors' desk: when it finished,
-- who ran it, what it found and the log's digest. report is the whole
-- report, as `ledger verify --json` prints it; the other columns are what
-- the desk shows. NULL columns are checks the run skipped.
CREATE TABLE verify_runs (
    id              bigserial   PRIMARY KEY,
    finished_at     timestamptz NOT NULL,
    ran_by          text        NOT NULL,
    problems        bigint      NOT NULL,
    events          bigint,
    streams         integer,
    broken_streams  integer,
    digest_position text,
    digest_events   bigint,
    digest_hex      text,
    read_models     jsonb       NOT NULL, -- [{name, status, events, problems, skipped}]
    overpaid_months integer,
    report          jsonb       NOT NULL
);
