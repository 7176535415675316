/// The store's schema migrations: an embedded copy of `schema/NNN_*.sql`, kept byte-for-byte equal to
/// those files by `SchemaTests` (SwiftPM resources would need Foundation's Bundle at run time; an
/// embedded string cannot go missing from a deployed binary).
enum Migrations {
    struct Migration: Sendable {
        let version: Int
        let fileName: String
        let sql: String
    }

    static let all: [Migration] = [
        Migration(version: 1, fileName: "001_init.sql", sql: v1),
        Migration(version: 2, fileName: "002_sink_targets.sql", sql: v2),
        Migration(version: 3, fileName: "003_scale.sql", sql: v3),
        Migration(version: 4, fileName: "004_small_pages.sql", sql: v4),
        Migration(version: 5, fileName: "005_progress_note.sql", sql: v5),
        Migration(version: 6, fileName: "006_claimed_work.sql", sql: v6),
        Migration(version: 7, fileName: "007_operations.sql", sql: v7),
        Migration(version: 8, fileName: "008_recover_savings.sql", sql: v8),
    ]

    static var latestVersion: Int { all.last?.version ?? 0 }

    private static let v1 = """
-- JobEngine store, version 1. Applied in one transaction together with its schema_versions row.

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,          -- UUID
    name            TEXT NOT NULL UNIQUE,
    spec_json       TEXT NOT NULL,             -- canonical JSON of the current spec
    settings_json   TEXT NOT NULL,             -- the same without its item list: what a run reads
    spec_version    INTEGER NOT NULL,          -- 1, bumped each time the spec is submitted again
    base_directory  TEXT NOT NULL,             -- relative paths in the spec resolve against it
    cancelled       INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE TABLE work_items (
    id                      TEXT PRIMARY KEY,  -- UUID
    job_id                  TEXT NOT NULL REFERENCES jobs(id),
    name                    TEXT NOT NULL,
    position                INTEGER NOT NULL,  -- order in the spec
    status                  TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    phase                   TEXT NOT NULL CHECK (phase IN ('collect', 'ingest', 'done')),
    attempt                 INTEGER NOT NULL DEFAULT 1,   -- bumped by every retry, manual or automatic
    automatic_attempts      INTEGER NOT NULL DEFAULT 1,   -- attempts counted against retry.max_attempts
    retry_mode              TEXT CHECK (retry_mode IN ('restart', 'recover')),  -- mode of the latest retry
    needs_sink_reset        INTEGER NOT NULL DEFAULT 0,   -- a restart still owes the sink a reset
    params_json             TEXT NOT NULL,
    params_fingerprint      TEXT NOT NULL,     -- fingerprint of the job's current parameters for this item
    checkpoint_fingerprint  TEXT,              -- fingerprint the item's checkpoints were made with
    lease_owner             TEXT,
    lease_expires_at        REAL,
    not_before              REAL,              -- automatic retry back-off: not claimed before this time
    last_error              TEXT,
    error_kind              TEXT CHECK (error_kind IN ('transient', 'permanent', 'interrupted')),
    collected               INTEGER NOT NULL DEFAULT 0,   -- documents staged in the current attempt chain
    ingested                INTEGER NOT NULL DEFAULT 0,   -- documents delivered to the sink
    collected_total         INTEGER NOT NULL DEFAULT 0,   -- documents fetched from the source, all attempts
    created_at              REAL NOT NULL,
    updated_at              REAL NOT NULL,
    progress_at             REAL,              -- last page or batch checkpoint
    UNIQUE (job_id, name)
);

-- Claims look for runnable items of a job; the sweep looks for running items; neither scans the table.
CREATE INDEX work_items_by_job_status ON work_items (job_id, status, position);
CREATE INDEX work_items_by_status ON work_items (status, lease_owner);

CREATE TABLE checkpoints (
    item_id      TEXT NOT NULL REFERENCES work_items(id),
    phase        TEXT NOT NULL CHECK (phase IN ('collect', 'ingest')),
    cursor       TEXT,                         -- collect: the collector's opaque cursor
    documents    INTEGER NOT NULL,             -- collect: documents staged; ingest: documents delivered
    sink_offset  INTEGER,                      -- ingest: e.g. the file sink's byte length
    updated_at   REAL NOT NULL,
    PRIMARY KEY (item_id, phase)
) WITHOUT ROWID;

CREATE TABLE staged_documents (
    item_id  TEXT NOT NULL REFERENCES work_items(id),
    seq      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    body     BLOB NOT NULL,
    PRIMARY KEY (item_id, seq)
) WITHOUT ROWID;

CREATE TABLE fault_firings (
    job_id       TEXT NOT NULL REFERENCES jobs(id),
    item_name    TEXT NOT NULL,
    phase        TEXT NOT NULL,
    at_document  INTEGER NOT NULL,
    fired        INTEGER NOT NULL,
    PRIMARY KEY (job_id, item_name, phase, at_document)
) WITHOUT ROWID;

CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id      TEXT NOT NULL REFERENCES work_items(id),
    job_id       TEXT NOT NULL REFERENCES jobs(id),
    attempt      INTEGER NOT NULL,
    from_status  TEXT,                         -- NULL when the item is created
    to_status    TEXT NOT NULL,
    mode         TEXT,                         -- restart or recover, for retries
    error        TEXT,
    error_kind   TEXT,
    at           REAL NOT NULL
);

CREATE INDEX events_by_item ON events (item_id, id);

-- The history is append-only: a user reads it to learn why an item ran again.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;

"""

    private static let v2 = """
-- JobEngine store, version 2: which job owns each sink target (invariant 7: one owner per output).

CREATE TABLE sink_targets (
    target      TEXT PRIMARY KEY,             -- file:<real path> or sqlite:<real path>#<table>
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    created_at  REAL NOT NULL
) WITHOUT ROWID;

CREATE INDEX sink_targets_by_job ON sink_targets (job_id);

"""

    private static let v3 = """
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

"""

    private static let v4 = """
-- JobEngine store, version 4: smaller pages, transitions that touch fewer of them, a new job's items written once.
-- In a WITHOUT ROWID table a row larger than about a quarter of a page spills into an overflow
-- page (each 1 KiB document took a 4 KiB page of its own), which is why stores had 16 KiB pages;
-- but every write transaction then writes each page it touches, 16 KiB at a time, to the WAL:
-- an item's claim and finish touch about ten pages (its row, two indexes, its job's counters,
-- the events). A rowid table keeps rows of up to about 4 KB inline at 4 KiB pages.
CREATE TABLE staged_documents_v4 (
    item_id  TEXT NOT NULL REFERENCES work_items(id),
    seq      INTEGER NOT NULL,
    key      TEXT NOT NULL,
    body     BLOB NOT NULL
);
INSERT INTO staged_documents_v4 (item_id, seq, key, body)
    SELECT item_id, seq, key, body FROM staged_documents ORDER BY item_id, seq;
DROP TABLE staged_documents;
ALTER TABLE staged_documents_v4 RENAME TO staged_documents;
CREATE UNIQUE INDEX staged_documents_by_item ON staged_documents (item_id, seq);

-- Running items by owner, for the heartbeat, the sweep and the dead-owner probe: only running
-- items are in it, so a claim adds one entry and a finish removes it, where the index of every
-- item by status moved an entry between two places of a large index (two pages per transition).
DROP INDEX work_items_by_status;
CREATE INDEX work_items_running ON work_items (lease_owner, lease_expires_at) WHERE status = 'running';

-- A new job's submit writes its items in place (the job is invisible until the submit ends), then
-- their creation events a step at a time: the position the events have reached.
ALTER TABLE jobs ADD COLUMN submit_applied INTEGER;

-- CHECK constraints as OR chains instead of IN lists. SQLite builds an IN list of more than two
-- values into a temporary index each time a statement checks it: three of them on every insert and
-- update of an item, most of an insert's cost (200,000 inserts: 1.75 s with IN lists, 0.31 s with
-- OR chains). The rule each one states is the same. Changing a CHECK constraint does not touch the
-- stored rows, so the table definitions are edited in place, as sqlite.org/lang_altertable.html
-- ("making other kinds of table schema changes") allows for constraints; RESET reloads them.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (status IN (''pending'', ''running'', ''succeeded'', ''failed'', ''cancelled''))',
    'CHECK (status = ''pending'' OR status = ''running'' OR status = ''succeeded'' OR status = ''failed'' OR status = ''cancelled'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (phase IN (''collect'', ''ingest'', ''done''))',
    'CHECK (phase = ''collect'' OR phase = ''ingest'' OR phase = ''done'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (retry_mode IN (''restart'', ''recover''))',
    'CHECK (retry_mode = ''restart'' OR retry_mode = ''recover'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (error_kind IN (''transient'', ''permanent'', ''interrupted''))',
    'CHECK (error_kind = ''transient'' OR error_kind = ''permanent'' OR error_kind = ''interrupted'')')
    WHERE type = 'table' AND name = 'work_items';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (phase IN (''collect'', ''ingest''))',
    'CHECK (phase = ''collect'' OR phase = ''ingest'')')
    WHERE type = 'table' AND name = 'checkpoints';
UPDATE sqlite_master SET sql = replace(sql, 'CHECK (submit_state IN (''staging'', ''applying'', ''ready''))',
    'CHECK (submit_state = ''staging'' OR submit_state = ''applying'' OR submit_state = ''ready'')')
    WHERE type = 'table' AND name = 'jobs';
PRAGMA writable_schema = RESET;

-- A new job's submit counts its items once per step instead of once per row: the insert trigger
-- was about 40 % of an item insert (100,000 inserts with and without it). `counted` says whether
-- the trigger counted the row's insert (1, every other insert) or the submit step that wrote it (0).
ALTER TABLE work_items ADD COLUMN counted INTEGER NOT NULL DEFAULT 1;
DROP TRIGGER work_items_counted_insert;
CREATE TRIGGER work_items_counted_insert AFTER INSERT ON work_items WHEN new.counted
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

"""

    private static let v5 = """
-- Schema version 5: what a collector says about where its item stands, shown with the item's
-- progress ("collecting: snapshot s_… running, 3 min" while a vendor builds a snapshot). Written
-- with each page's checkpoint (NULL when the page says nothing) and cleared when the item stops.
ALTER TABLE work_items ADD COLUMN progress_note TEXT;

"""

    private static let v6 = """
-- Schema version 6: work done outside the engine (a vendor's snapshot, say) and the item it belongs
-- to. A collector that finds such work after a crash (it was paid for, but its id never reached a
-- checkpoint) claims it before adopting it, so two items whose inputs look alike never adopt the
-- same work, and a restart's lookup never adopts an earlier attempt's. `token` names the attempt
-- chain that claimed it (a trigger intent): the same item with the same token may claim it again.
CREATE TABLE claimed_work (
    resource TEXT PRIMARY KEY,
    item_id TEXT NOT NULL,
    token TEXT NOT NULL,
    claimed_at REAL NOT NULL
) WITHOUT ROWID;

"""

    private static let v7 = """
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

"""

    private static let v8 = """
-- Schema version 8: what recovers saved; failed items by kind and events by status found without walking the others.
--
-- Documents an item's runs did not collect again because they resumed from its checkpoints (a
-- recover, manual or automatic, or a run continued after its worker died): each claim adds the
-- documents the item had already staged. Over the item's whole life, like collected_total (what was
-- collected); a restart adds nothing, as it keeps nothing.
ALTER TABLE work_items ADD COLUMN not_collected_again INTEGER NOT NULL DEFAULT 0;

-- A job's failed items of one error kind in spec order: the Jobs page narrowed to a kind and a
-- retry by kind walk only those (at 1,000,000 items a rare kind among many failures was a walk of
-- every failed item). Only failed items are in it, so the hot path (claims, finishes) never touches it.
CREATE INDEX work_items_failed_by_job_kind ON work_items (job_id, error_kind, position) WHERE status = 'failed';

-- A job's events by status and time, with their error kind, for its activity (failures per minute
-- by kind, items finished in the last ten minutes): each count reads only this index, and only the
-- entries of its status. By time alone, a job of 1,000,000 items submitted within the hour had every
-- creation event walked at each look.
DROP INDEX events_by_job_time;
CREATE INDEX events_by_job_status_time ON events (job_id, to_status, at, error_kind);

"""
}
