-- JobEngine PostgreSQL store, version 3: operating many failures (issue 15).
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

-- Activity over time, for the Jobs page's charts: each active job's totals, sampled every 30 s by
-- `engine-run serve` and kept a day (no foreign key: samples are disposable), and the job's events
-- by time (failures by kind, items finished per minute).
CREATE TABLE job_samples (
    job_id          TEXT NOT NULL,
    at              DOUBLE PRECISION NOT NULL,
    collected_total BIGINT NOT NULL,
    ingested        BIGINT NOT NULL,
    PRIMARY KEY (job_id, at)
);
CREATE INDEX job_samples_by_age ON job_samples (at);
CREATE INDEX events_by_job_time ON events (job_id, at);
