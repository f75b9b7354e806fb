-- Dynamic client registration (issue 12): who registered a client on the
-- developer pages, and the hash of the RFC 7592 registration access token
-- of a client that registered itself. Rows written before this migration
-- have neither, which is what the defaults say; adding columns with
-- constant defaults rewrites nothing.
--
-- (0010, not 0009: the OpenID Connect branch's migration is 0009, and the
-- two touch different columns, so either may be applied first.)
ALTER TABLE clients
    ADD COLUMN owner                   text NOT NULL DEFAULT '',
    ADD COLUMN registration_token_hash text NOT NULL DEFAULT '';

-- The developer pages list a user's clients, and closing an account
-- deletes them: both look clients up by owner. Most clients have none.
CREATE INDEX clients_owner_idx ON clients (owner) WHERE owner <> '';
