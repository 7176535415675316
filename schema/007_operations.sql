-- Schema version 7: operating many failures (issue 15): poison items, retries asked twice, activity.
--
-- How many times in a row an item's worker died running it (a sweep found its lease expired or its
-- worker's lock free). Past the job's retry.max_recoveries the sweep ends it with kind 'crash_loop'
-- instead of 'interrupted', and it is no longer recovered automatically. Any other way an item's run
-- ends, and a manual retry, set it back to 0.
ALTER TABLE work_items ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;

PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql,
    'CHECK (error_kind = ''transient'' OR error_kind = ''permanent'' OR error_kind = ''interrupted'')',
    'CHECK (error_kind = ''transient'' OR error_kind = ''permanent'' OR error_kind = ''interrupted'' OR error_kind = ''crash_loop'')')
    WHERE type = 'table' AND name = 'work_items';
PRAGMA writable_schema = RESET;

-- Failed items by kind, for /metrics (jobengine_failed_items{error_kind}): a count that costs what
-- failed, not what the store holds.
CREATE INDEX work_items_failed_by_kind ON work_items (error_kind) WHERE status = 'failed';

-- The answers of retry calls sent with an Idempotency-Key, kept a day: the same call sent again
-- (a client that timed out) gets the first answer and starts nothing. `request` is a digest of
-- the call (its mode and body). While the first call runs, `answer` is NULL and `owner` (a token of
-- that call) touches `touched_at` every minute; a call untouched for ten minutes was abandoned (its
-- server died) and the same call sent again runs.
CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY,
    request       TEXT NOT NULL,
    owner         TEXT NOT NULL,
    answer_status INTEGER,
    answer        TEXT,
    created_at    REAL NOT NULL,
    touched_at    REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Activity over time, for the Jobs page's charts: each active job's totals, sampled every 30 s by
-- `engine-run serve` and kept a day (no foreign key: samples are disposable and outlive nothing
-- but a pruned job, by a day at most); and the job's events by time (failures by kind, items
-- finished per minute).
CREATE TABLE job_samples (
    job_id          TEXT NOT NULL,
    at              REAL NOT NULL,
    collected_total INTEGER NOT NULL,
    ingested        INTEGER NOT NULL,
    PRIMARY KEY (job_id, at)
) WITHOUT ROWID;
CREATE INDEX job_samples_by_age ON job_samples (at);
CREATE INDEX events_by_job_time ON events (job_id, at);
