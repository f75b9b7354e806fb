-- Attempt counters for the throttle that replaces fixed-window lockouts
-- (see the README, "Security notes", and domain.Counter). An attempt is
-- counted when it is reserved, before the secret is checked; pending
-- says how many are still in flight, until lease_until. A row may go at
-- forget_at, when it would be forgotten if nothing else happened.
CREATE TABLE throttle_counters (
    key         text        PRIMARY KEY,
    failures    integer     NOT NULL DEFAULT 0,
    pending     integer     NOT NULL DEFAULT 0,
    last_at     timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    forget_at   timestamptz NOT NULL
);
CREATE INDEX throttle_counters_forget_at_idx ON throttle_counters (forget_at);

-- login_failures is no longer written; it stays until no replica that
-- writes it can still be running, and the sweep empties it meanwhile.

-- Usernames are compared in their PRECIS UsernameCaseMapped form (RFC
-- 8265) from now on. For the names sign-up accepted until now (ASCII
-- letters, digits and . _ @ + -) that form is the name in lower case.
-- Lower-case those that have no other account under the lower-case
-- name; a name that does keeps its case, and can only be reached again
-- once an operator renames one of the two.
UPDATE users SET username = lower(username)
WHERE username ~ '^[A-Za-z0-9._@+-]+$'
  AND username <> lower(username)
  AND NOT EXISTS (SELECT 1 FROM users other
                  WHERE other.id <> users.id AND lower(other.username) = lower(users.username));
