-- OpenID Connect (issue 13). Adding columns with constant defaults
-- rewrites nothing; rows written before this migration read as users with
-- no profile, clients with the default ID token algorithm and no
-- post-logout URI, and codes and families that are not OpenID Connect
-- ones.

-- A user's profile, for the profile and email scopes.
ALTER TABLE users
    ADD COLUMN name           text    NOT NULL DEFAULT '',
    ADD COLUMN email          text    NOT NULL DEFAULT '',
    ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- A client's ID token algorithm ('' is RS256) and where RP-Initiated
-- Logout may send the browser back to.
ALTER TABLE clients
    ADD COLUMN id_token_alg              text   NOT NULL DEFAULT '',
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}';

-- What an ID token needs from the authorization request and the session:
-- the nonce, when the user signed in and that session's id (sid).
ALTER TABLE auth_codes
    ADD COLUMN nonce     text NOT NULL DEFAULT '',
    ADD COLUMN signin_at timestamptz,
    ADD COLUMN sid       text NOT NULL DEFAULT '';

-- The same sign-in, kept by the family so that a refreshed ID token tells
-- of the sign-in the first one did.
ALTER TABLE refresh_families
    ADD COLUMN signin_at timestamptz,
    ADD COLUMN sid       text NOT NULL DEFAULT '';
