-- Refresh token families and two-phase code redemption (see the README,
-- "What holds under races and faults").
--
-- A family row is what every token of one authorization shares, and the one
-- place it is revoked: revoking writes the family, and every read and
-- rotation of a token joins it, so a token a rotation adds while the family
-- is being revoked is revoked too. A family revoked before its first token
-- exists (a replayed code) is inserted revoked, and the exchange that would
-- create it is refused.
CREATE TABLE refresh_families (
    id         text PRIMARY KEY,
    client_id  text        NOT NULL DEFAULT '',
    user_id    text        NOT NULL DEFAULT '',
    -- When the user authorized the grant the family descends from.
    auth_time  timestamptz NOT NULL,
    revoked_at timestamptz,
    -- When the row may go: after its last token, or a tombstone's watch.
    expires_at timestamptz NOT NULL
);
CREATE INDEX refresh_families_user_client_idx ON refresh_families (user_id, client_id);
CREATE INDEX refresh_families_expires_at_idx ON refresh_families (expires_at);

INSERT INTO refresh_families (id, client_id, user_id, auth_time, revoked_at, expires_at)
SELECT family_id, min(client_id), min(user_id), min(issued_at),
       CASE WHEN bool_or(status = 'revoked') THEN now() END, max(expires_at)
FROM refresh_tokens GROUP BY family_id;

-- A user's grant to a client, as far as refresh tokens care: revoked_at
-- refuses every family authorized at or before it. Creating a family holds
-- the row shared and revoking holds it exclusively, so the two are ordered.
CREATE TABLE refresh_grants (
    user_id    text,
    client_id  text,
    revoked_at timestamptz,
    PRIMARY KEY (user_id, client_id)
);

-- Codes: claimed by one exchange attempt, then used or released.
ALTER TABLE auth_codes RENAME COLUMN redeemed TO used;
ALTER TABLE auth_codes
    ADD COLUMN replayed      boolean NOT NULL DEFAULT false,
    ADD COLUMN claimed_by    text    NOT NULL DEFAULT '',
    ADD COLUMN claimed_until timestamptz;
