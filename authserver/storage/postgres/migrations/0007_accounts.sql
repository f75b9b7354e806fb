-- Accounts and sessions (issue 12).
--
-- A session says how it was opened (the login page or the accounts API)
-- and where from (client address and User-Agent), for the account page.
-- Rows written before this migration were all the login page's. Adding
-- columns with constant defaults rewrites nothing.
ALTER TABLE sessions
    ADD COLUMN door       text NOT NULL DEFAULT 'page',
    ADD COLUMN source     text NOT NULL DEFAULT '',
    ADD COLUMN user_agent text NOT NULL DEFAULT '';

-- A user, as far as refresh tokens care: revoked_at refuses every family
-- of the user authorized at or before it, whatever the client (a password
-- change, a closed account). Creating a family holds the row and revoking
-- holds it too, so the two are ordered, as with refresh_grants.
CREATE TABLE refresh_users (
    user_id    text PRIMARY KEY,
    revoked_at timestamptz
);
