-- JobEngine store, version 3: reads that cost what they return, submits in bounded steps.

-- Each job's item counts by status and document totals, kept by the triggers below in the
-- transaction of every change to an item: a job's standing is one row, at any item count.
ALTER TABLE jobs ADD COLUMN pending_items   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN running_items   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN succeeded_items INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN failed_items    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN cancelled_items INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN collected       INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN ingested        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN collected_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN progress_at     REAL;

-- A submit writes its items in bounded steps. 'staging': they go to submit_items, nothing of the
-- job changes (a new job has spec_version 0 and is invisible); 'applying': every item is staged
-- and they move into work_items, the job is not claimable; 'ready'. A submit whose engine died is
-- discarded (staging) or finished (applying) by the next engine to open the store.
ALTER TABLE jobs ADD COLUMN submit_state TEXT NOT NULL DEFAULT 'ready' CHECK (submit_state IN ('staging', 'applying', 'ready'));
ALTER TABLE jobs ADD COLUMN submit_owner TEXT;            -- the engine submitting
ALTER TABLE jobs ADD COLUMN next_settings_json TEXT;      -- the submitted spec's settings until it is applied
ALTER TABLE jobs ADD COLUMN next_base_directory TEXT;

-- The spec version whose settings params_fingerprint was computed with (a submit in steps marks
-- what it has done, so a resumed one goes on where it stopped).
ALTER TABLE work_items ADD COLUMN fingerprint_version INTEGER;

-- A sink target claimed by a submit still staging: released if that submit is discarded.
ALTER TABLE sink_targets ADD COLUMN staged INTEGER NOT NULL DEFAULT 0;

CREATE TABLE submit_items (
    job_id              TEXT NOT NULL REFERENCES jobs(id),
    name                TEXT NOT NULL,
    position            INTEGER NOT NULL,   -- index in items, or line in items_file
    item_id             TEXT NOT NULL,      -- the id the item gets if it is new
    params_json         TEXT NOT NULL,
    params_fingerprint  TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
) WITHOUT ROWID;

CREATE INDEX submit_items_by_position ON submit_items (job_id, position);

UPDATE jobs SET
    pending_items   = (SELECT COUNT(*) FROM work_items w WHERE w.job_id = jobs.id AND w.status = 'pending'),
    running_items   = (SELECT COUNT(*) FROM work_items w WHERE w.job_id = jobs.id AND w.status = 'running'),
    succeeded_items = (SELECT COUNT(*) FROM work_items w WHERE w.job_id = jobs.id AND w.status = 'succeeded'),
    failed_items    = (SELECT COUNT(*) FROM work_items w WHERE w.job_id = jobs.id AND w.status = 'failed'),
    cancelled_items = (SELECT COUNT(*) FROM work_items w WHERE w.job_id = jobs.id AND w.status = 'cancelled'),
    collected       = (SELECT COALESCE(SUM(collected), 0) FROM work_items w WHERE w.job_id = jobs.id),
    ingested        = (SELECT COALESCE(SUM(ingested), 0) FROM work_items w WHERE w.job_id = jobs.id),
    collected_total = (SELECT COALESCE(SUM(collected_total), 0) FROM work_items w WHERE w.job_id = jobs.id),
    progress_at     = (SELECT MAX(progress_at) FROM work_items w WHERE w.job_id = jobs.id);

CREATE TRIGGER work_items_counted_insert AFTER INSERT ON work_items
BEGIN
    UPDATE jobs SET
        pending_items = pending_items + (new.status = 'pending'),
        running_items = running_items + (new.status = 'running'),
        succeeded_items = succeeded_items + (new.status = 'succeeded'),
        failed_items = failed_items + (new.status = 'failed'),
        cancelled_items = cancelled_items + (new.status = 'cancelled'),
        collected = collected + new.collected,
        ingested = ingested + new.ingested,
        collected_total = collected_total + new.collected_total
    WHERE id = new.job_id;
END;

CREATE TRIGGER work_items_counted_delete AFTER DELETE ON work_items
BEGIN
    UPDATE jobs SET
        pending_items = pending_items - (old.status = 'pending'),
        running_items = running_items - (old.status = 'running'),
        succeeded_items = succeeded_items - (old.status = 'succeeded'),
        failed_items = failed_items - (old.status = 'failed'),
        cancelled_items = cancelled_items - (old.status = 'cancelled'),
        collected = collected - old.collected,
        ingested = ingested - old.ingested,
        collected_total = collected_total - old.collected_total
    WHERE id = old.job_id;
END;

-- Lease renewals and parameter updates change none of these columns and fire nothing.
CREATE TRIGGER work_items_counted_update AFTER UPDATE OF status, collected, ingested, collected_total, progress_at ON work_items
WHEN old.status IS NOT new.status OR old.collected != new.collected OR old.ingested != new.ingested
    OR old.collected_total != new.collected_total OR old.progress_at IS NOT new.progress_at
BEGIN
    UPDATE jobs SET
        pending_items = pending_items + (new.status = 'pending') - (old.status = 'pending'),
        running_items = running_items + (new.status = 'running') - (old.status = 'running'),
        succeeded_items = succeeded_items + (new.status = 'succeeded') - (old.status = 'succeeded'),
        failed_items = failed_items + (new.status = 'failed') - (old.status = 'failed'),
        cancelled_items = cancelled_items + (new.status = 'cancelled') - (old.status = 'cancelled'),
        collected = collected + new.collected - old.collected,
        ingested = ingested + new.ingested - old.ingested,
        collected_total = collected_total + new.collected_total - old.collected_total,
        progress_at = CASE WHEN new.progress_at IS NULL THEN progress_at
                           WHEN progress_at IS NULL OR new.progress_at > progress_at THEN new.progress_at
                           ELSE progress_at END
    WHERE id = new.job_id;
END;

-- Resume finds the interrupted items, and a scheduler the end of its items' back-offs, without
-- scanning a job's other items.
CREATE INDEX work_items_interrupted ON work_items (job_id) WHERE status = 'failed' AND error_kind = 'interrupted';
-- A job's items in spec order, for pages of all its items (the status index serves pages of one status).
CREATE INDEX work_items_by_job_position ON work_items (job_id, position);
CREATE INDEX work_items_backoff ON work_items (job_id, not_before) WHERE status = 'pending' AND not_before IS NOT NULL;
