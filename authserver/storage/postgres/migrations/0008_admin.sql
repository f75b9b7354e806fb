-- Administration (issue 12): users with an admin role or disabled, clients
-- made by the admin use cases, and the ids of deleted clients.
--
-- Rows written before this migration are plain users and the fixtures'
-- clients, which is what the defaults say. Adding columns with constant
-- defaults rewrites nothing.
ALTER TABLE users
    ADD COLUMN admin    boolean NOT NULL DEFAULT false,
    ADD COLUMN disabled boolean NOT NULL DEFAULT false;

ALTER TABLE clients ADD COLUMN managed_by text NOT NULL DEFAULT 'config';

-- A deleted client's id is never a client's again: tokens, consents and
-- audit events that name it would name another. Creating a client checks
-- this table after inserting its row (see CreateClient).
CREATE TABLE deleted_clients (
    id         text COLLATE "C" PRIMARY KEY,
    deleted_at timestamptz NOT NULL
);

-- The admin API lists users a page at a time in byte order of their ids,
-- as it does clients; deleting a client ends its families and consents.
CREATE INDEX users_id_c_idx ON users (id COLLATE "C");
CREATE INDEX refresh_families_client_id_idx ON refresh_families (client_id);
CREATE INDEX consents_client_id_idx ON consents (client_id);
