-- The first schema: one table per data group. There are no foreign keys
-- between groups, because each group may live on another backend. Secrets
-- and tokens appear only as the hashes the domain hands over. Times are
-- timestamptz (microseconds), durations bigint milliseconds, scopes sorted
-- text[]. Ids that lists are ordered by use the "C" collation, so that the
-- order is byte order, the same as the memory store's.

CREATE TABLE clients (
    id                   text COLLATE "C" PRIMARY KEY,
    name                 text        NOT NULL DEFAULT '',
    type                 text        NOT NULL,
    secret_hash          text        NOT NULL DEFAULT '',
    auth_methods         text[]      NOT NULL DEFAULT '{}',
    grant_types          text[]      NOT NULL DEFAULT '{}',
    redirect_uris        text[]      NOT NULL DEFAULT '{}',
    scopes               text[]      NOT NULL DEFAULT '{}',
    default_scopes       text[]      NOT NULL DEFAULT '{}',
    audience             text[]      NOT NULL DEFAULT '{}',
    access_token_ttl_ms  bigint      NOT NULL DEFAULT 0,
    refresh_token_ttl_ms bigint      NOT NULL DEFAULT 0,
    introspection        boolean     NOT NULL DEFAULT false,
    allow_plain_pkce     boolean     NOT NULL DEFAULT false,
    pkce_optional        boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);

CREATE TABLE scopes (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL DEFAULT ''
);

CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE refresh_tokens (
    hash          text PRIMARY KEY,
    family_id     text        NOT NULL,
    client_id     text        NOT NULL,
    user_id       text        NOT NULL DEFAULT '',
    scope         text[]      NOT NULL DEFAULT '{}',
    status        text        NOT NULL,
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    access_ttl_ms bigint      NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_client_idx ON refresh_tokens (user_id, client_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- A revocation mark covers tokens carrying id issued at or before
-- revoked_at, and is kept until keep_until.
CREATE TABLE revocations (
    id         text PRIMARY KEY,
    revoked_at timestamptz NOT NULL,
    keep_until timestamptz NOT NULL
);
CREATE INDEX revocations_keep_until_idx ON revocations (keep_until);

-- retired_at is NULL for the key that signs.
CREATE TABLE signing_keys (
    id          text PRIMARY KEY,
    algorithm   text        NOT NULL,
    private_pem bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);

CREATE TABLE sessions (
    hash       text PRIMARY KEY,
    user_id    text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE auth_codes (
    hash             text PRIMARY KEY,
    client_id        text        NOT NULL,
    user_id          text        NOT NULL,
    redirect_uri     text        NOT NULL DEFAULT '',
    scope            text[]      NOT NULL DEFAULT '{}',
    challenge        text        NOT NULL DEFAULT '',
    challenge_method text        NOT NULL DEFAULT '',
    family_id        text        NOT NULL DEFAULT '',
    issued_at        timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    redeemed         boolean     NOT NULL DEFAULT false
);
CREATE INDEX auth_codes_expires_at_idx ON auth_codes (expires_at);

CREATE TABLE consents (
    user_id    text,
    client_id  text COLLATE "C",
    scope      text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One fixed window per key: it starts at the first failure and ends at
-- window_ends.
CREATE TABLE login_failures (
    key         text PRIMARY KEY,
    failures    integer     NOT NULL,
    window_ends timestamptz NOT NULL
);
CREATE INDEX login_failures_window_ends_idx ON login_failures (window_ends);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    event_type  text        NOT NULL,
    client_id   text        NOT NULL DEFAULT '',
    user_id     text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL,
    detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at);
