-- API users: a bearer token maps to a user and a role. Only the token's
-- SHA-256 is stored; the token itself is shown once, when it is issued.
CREATE TABLE api_users (
    name        text        PRIMARY KEY,
    role        text        NOT NULL CHECK (role IN ('clerk', 'approver', 'finance', 'auditor', 'admin')),
    token_hash  bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);

-- Idempotency keys of commands: the same key and body return the first
-- response; the same key with another body is refused.
CREATE TABLE idempotency_keys (
    user_name    text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       integer,                -- NULL while the first request is in flight
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_name, key)
);
