-- The web desk: staff sign in with a user name and password, and a
-- session cookie carries them from page to page.
--
-- password_hash is an argon2id PHC string (NULL: the user has no password
-- yet and signs in with a bearer token only). After repeated failures a
-- user is locked out until locked_until.
ALTER TABLE api_users
    ADD COLUMN password_hash   text,
    ADD COLUMN failed_sign_ins integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until    timestamptz;

-- A session is known by the SHA-256 of its cookie's value, so the table
-- alone signs no one in. It ends after idle_timeout without a request, at
-- sign-out, or when its user is disabled.
CREATE TABLE web_sessions (
    id_hash      bytea       PRIMARY KEY,
    user_name    text        NOT NULL REFERENCES api_users (name) ON DELETE CASCADE,
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
