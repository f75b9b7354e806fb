-- The web origins whose pages may read a client's answers at the token and
-- revocation endpoints (CORS). Rows written before this migration get
-- none, which allows no browser app: loading their fixtures again (every
-- start does) fills in the origins of their redirect URIs. Adding a column
-- with a constant default rewrites nothing.

ALTER TABLE clients ADD COLUMN allowed_origins text[] NOT NULL DEFAULT '{}';
