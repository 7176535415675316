-- JobEngine PostgreSQL store, version 3.
--
-- The answers of retry calls sent with an Idempotency-Key, kept a day: the same call sent again
-- (a client that timed out, possibly to another host's API) gets the first answer and starts nothing.
-- `request` is a digest of the call (its mode and body). While the first call runs, `answer` is NULL
-- and `owner` (a token of that call) touches `touched_at` every minute; a call untouched for ten
-- minutes was abandoned (its server died) and the same call sent again runs.
CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY,
    request       TEXT NOT NULL,
    owner         TEXT NOT NULL,
    answer_status INTEGER,
    answer        TEXT,
    created_at    DOUBLE PRECISION NOT NULL,
    touched_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Failed items by kind, for /metrics (jobengine_failed_items{error_kind}): a count that costs what
-- failed, not what the store holds.
CREATE INDEX work_items_failed_by_kind ON work_items (error_kind) WHERE status = 'failed';
