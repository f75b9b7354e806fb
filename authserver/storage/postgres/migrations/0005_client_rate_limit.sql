-- A client's own request rate limit: a token bucket refilled at
-- rate_limit_rps requests a second, with bursts of up to rate_limit_burst.
-- Both 0 (every existing client) means the server's default. The numbers
-- are read with the client; the buckets themselves are never kept here (a
-- write per request is what a rate limiter is there to prevent): they live
-- in memory or in Redis.

ALTER TABLE clients
    ADD COLUMN rate_limit_rps   double precision NOT NULL DEFAULT 0,
    ADD COLUMN rate_limit_burst integer          NOT NULL DEFAULT 0;
