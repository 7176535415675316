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
}
