-- Every audit event gets a random id (a UUID) when it is recorded, so that
-- writing it twice stores it once: a spool replayed after an outage or a
-- crash, or a batch written again after a timeout whose commit had in fact
-- happened, meets the unique index and is skipped (INSERT ... ON CONFLICT
-- (event_id) DO NOTHING). Rows written before this migration have no id;
-- NULLs never conflict. Adding a nullable column without a default rewrites
-- nothing; building the index reads the table once.

ALTER TABLE audit_log ADD COLUMN event_id uuid;
CREATE UNIQUE INDEX audit_log_event_id_key ON audit_log (event_id);
