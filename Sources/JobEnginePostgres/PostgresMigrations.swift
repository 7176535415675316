import Foundation
import JobEngine

/// The PostgreSQL store's schema migrations: an embedded copy of `schema/postgres/NNN_*.sql`, kept
/// byte-for-byte equal to the files (a test compares them), applied in order, each in one
/// transaction with its `schema_versions` row, under a transaction-level advisory lock of the
/// store's schema: hosts that start at once apply each migration once, and the others wait, then
/// find it applied.
enum PostgresMigrations {
    struct Migration: Sendable {
        let version: Int
        let fileName: String
        let sql: String
    }

    static let all: [Migration] = [
        Migration(version: 1, fileName: "001_init.sql", sql: v1),
        Migration(version: 2, fileName: "002_hot_path.sql", sql: v2),
        Migration(version: 3, fileName: "003_operations.sql", sql: v3),
        Migration(version: 4, fileName: "004_recover_savings.sql", sql: v4),
    ]

    static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies what the database lacks.
    ///
    /// - Throws: `EngineError` `.storeNewerThanEngine` when the database is at a later version
    ///   than this engine knows, with nothing changed.
    static func apply(_ sessions: PostgresSessions) throws {
        // Not tried again: a server that cannot be reached at start is an error to show at once.
        try sessions.transaction(retrying: false) { db in
            // Per schema: stores in other schemas of the database migrate without waiting for this one.
            try db.execute("SELECT pg_advisory_xact_lock(hashtextextended('jobengine migrate ' || $1, 0))",
                           [.text(sessions.location.schema ?? "public")])
            // A store in a schema of its own (`?search_path=`) makes it first; the name was checked
            // to be an identifier when the URL was read.
            if let schema = sessions.location.schema { try db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)") }
            try db.execute("""
                CREATE TABLE IF NOT EXISTS schema_versions (version INTEGER PRIMARY KEY, file TEXT NOT NULL,
                applied_at DOUBLE PRECISION NOT NULL)
                """)
            let current = try db.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_versions").first?.int("v") ?? 0
            guard current <= latestVersion else {
                throw EngineError(.storeNewerThanEngine, "the PostgreSQL store \(sessions.location) is at schema version \(current); this engine knows up to \(latestVersion): upgrade the engine")
            }
            for migration in all where migration.version > current {
                // One statement per call: bound statements (the extended protocol) take one each.
                for statement in statements(of: migration.sql) { try db.execute(statement) }
                try db.execute("INSERT INTO schema_versions (version, file, applied_at) VALUES ($1, $2, \(PostgresStore.now))",
                               [.integer(Int64(migration.version)), .text(migration.fileName)])
            }
        }
    }

    /// The statements of a migration: split at semicolons outside quotes, `$$` bodies and comments.
    static func statements(of sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inQuote = false, inDollar = false, inComment = false
        let characters = Array(sql)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            if inComment {
                if character == "\n" { inComment = false }
            } else if inQuote {
                if character == "'" { inQuote = false }
            } else if inDollar {
                if character == "$" && next == "$" { inDollar = false; current.append("$"); index += 1 }
            } else if character == "-" && next == "-" {
                inComment = true
            } else if character == "'" {
                inQuote = true
            } else if character == "$" && next == "$" {
                inDollar = true; current.append("$"); index += 1
            } else if character == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
                index += 1
                continue
            }
            if !inComment { current.append(character) }
            index += 1
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }

    private static let v1 = """
-- JobEngine store on PostgreSQL, version 1: the tables of the SQLite store (schema/001–006) in one
-- step, with what many workers on many hosts need. Applied in one transaction with its
-- schema_versions row, under an advisory lock, so two hosts starting at once apply it once.
--
-- Times are seconds since 1970 from the database's clock (`clock_timestamp()`), never a worker's:
-- leases are compared across hosts whose clocks differ.

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    spec_json        TEXT NOT NULL,
    settings_json    TEXT NOT NULL,         -- the spec without its item list: what a run reads
    spec_version     INTEGER NOT NULL,      -- 1, bumped each time the spec is submitted again
    base_directory   TEXT NOT NULL,
    cancelled        INTEGER NOT NULL DEFAULT 0,
    created_at       DOUBLE PRECISION NOT NULL,
    updated_at       DOUBLE PRECISION NOT NULL,
    -- Counters kept by the trigger below in the transaction of every change to an item: a job's
    -- standing is one row, at any item count.
    pending_items    BIGINT NOT NULL DEFAULT 0,
    running_items    BIGINT NOT NULL DEFAULT 0,
    succeeded_items  BIGINT NOT NULL DEFAULT 0,
    failed_items     BIGINT NOT NULL DEFAULT 0,
    cancelled_items  BIGINT NOT NULL DEFAULT 0,
    collected        BIGINT NOT NULL DEFAULT 0,
    ingested         BIGINT NOT NULL DEFAULT 0,
    collected_total  BIGINT NOT NULL DEFAULT 0,
    progress_at      DOUBLE PRECISION
);

CREATE TABLE work_items (
    id                      TEXT PRIMARY KEY,
    job_id                  TEXT NOT NULL REFERENCES jobs (id),
    name                    TEXT NOT NULL,
    position                BIGINT NOT NULL,
    status                  TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    phase                   TEXT NOT NULL CHECK (phase IN ('collect', 'ingest', 'done')),
    attempt                 INTEGER NOT NULL DEFAULT 1,
    automatic_attempts      INTEGER NOT NULL DEFAULT 1,
    retry_mode              TEXT CHECK (retry_mode IN ('restart', 'recover')),
    needs_sink_reset        INTEGER NOT NULL DEFAULT 0,
    params_json             TEXT NOT NULL,
    params_fingerprint      TEXT NOT NULL,
    checkpoint_fingerprint  TEXT,
    fingerprint_version     INTEGER NOT NULL DEFAULT 1,   -- the spec version params_fingerprint was computed for
    lease_owner             TEXT,                 -- host:pid:engine of the worker holding the lease
    lease_host              TEXT,                 -- its host id (ENGINE_HOST_ID), for operators
    lease_expires_at        DOUBLE PRECISION,     -- on the database's clock
    -- Bumped by every claim and returned to the worker: each commit of the worker is conditioned
    -- on (item, owner, fence), so a worker paused past its lease never commits over its successor.
    fence                   BIGINT NOT NULL DEFAULT 0,
    claim_token             TEXT,                 -- names the claim, so a claim redone after a lost COMMIT answer finds its item
    not_before              DOUBLE PRECISION,
    last_error              TEXT,
    error_kind              TEXT CHECK (error_kind IN ('transient', 'permanent', 'interrupted', 'crash_loop')),
    -- Times in a row the item's worker died while running it (reset by any other outcome and by a
    -- manual retry): past retry.max_recoveries the reaper ends it as crash_loop.
    interruptions           INTEGER NOT NULL DEFAULT 0,
    collected               BIGINT NOT NULL DEFAULT 0,
    ingested                BIGINT NOT NULL DEFAULT 0,
    collected_total         BIGINT NOT NULL DEFAULT 0,
    progress_note           TEXT,
    created_at              DOUBLE PRECISION NOT NULL,
    updated_at              DOUBLE PRECISION NOT NULL,
    progress_at             DOUBLE PRECISION,
    UNIQUE (job_id, name)
);

CREATE INDEX work_items_by_job_status ON work_items (job_id, status, position);
CREATE INDEX work_items_by_job_position ON work_items (job_id, position);
CREATE INDEX work_items_running ON work_items (lease_owner, lease_expires_at) WHERE status = 'running';
CREATE INDEX work_items_interrupted ON work_items (job_id) WHERE status = 'failed' AND error_kind = 'interrupted';
CREATE INDEX work_items_backoff ON work_items (job_id, not_before) WHERE status = 'pending' AND not_before IS NOT NULL;

CREATE TABLE checkpoints (
    item_id      TEXT NOT NULL REFERENCES work_items (id),
    phase        TEXT NOT NULL CHECK (phase IN ('collect', 'ingest')),
    cursor       TEXT,
    documents    BIGINT NOT NULL,
    sink_offset  BIGINT,
    updated_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (item_id, phase)
);

CREATE TABLE staged_documents (
    item_id  TEXT NOT NULL REFERENCES work_items (id),
    seq      BIGINT NOT NULL,
    key      TEXT NOT NULL,
    body     BYTEA NOT NULL,
    PRIMARY KEY (item_id, seq)
);

CREATE TABLE fault_firings (
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    item_name    TEXT NOT NULL,
    phase        TEXT NOT NULL,
    at_document  BIGINT NOT NULL,
    fired        INTEGER NOT NULL,
    PRIMARY KEY (job_id, item_name, phase, at_document)
);

CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    item_id      TEXT NOT NULL REFERENCES work_items (id),
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    attempt      INTEGER NOT NULL,
    from_status  TEXT,
    to_status    TEXT NOT NULL,
    mode         TEXT,
    error        TEXT,
    error_kind   TEXT,
    host         TEXT,                          -- the host id of the worker that made the transition
    at           DOUBLE PRECISION NOT NULL
);

CREATE INDEX events_by_item ON events (item_id, id);

-- The history is append-only: a user reads it to learn why an item ran again. Only a prune of
-- finished jobs (`engine-run prune`) removes it, inside a transaction that says so.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('jobengine.pruning', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'events are append-only';
END;
$$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TABLE sink_targets (
    target      TEXT PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX sink_targets_by_job ON sink_targets (job_id);

CREATE TABLE claimed_work (
    resource    TEXT PRIMARY KEY,
    item_id     TEXT NOT NULL,
    token       TEXT NOT NULL,
    claimed_at  DOUBLE PRECISION NOT NULL
);

-- The job's counters follow every insert, delete and change of an item's status or counts: once per
-- statement, from its transition tables. (A row-level trigger updated the job's row once per item,
-- and a submit that inserts thousands of items in one transaction made one row version of the job
-- per item, each found by walking the versions before it: quadratic, 40 s for 20,000 items.)
CREATE FUNCTION work_items_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE jobs j SET
            pending_items = j.pending_items + d.pending, running_items = j.running_items + d.running,
            succeeded_items = j.succeeded_items + d.succeeded, failed_items = j.failed_items + d.failed,
            cancelled_items = j.cancelled_items + d.cancelled, collected = j.collected + d.collected,
            ingested = j.ingested + d.ingested, collected_total = j.collected_total + d.collected_total,
            progress_at = GREATEST(j.progress_at, d.progress_at)
        FROM (SELECT job_id,
                     COUNT(*) FILTER (WHERE status = 'pending') AS pending, COUNT(*) FILTER (WHERE status = 'running') AS running,
                     COUNT(*) FILTER (WHERE status = 'succeeded') AS succeeded, COUNT(*) FILTER (WHERE status = 'failed') AS failed,
                     COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled, SUM(collected) AS collected,
                     SUM(ingested) AS ingested, SUM(collected_total) AS collected_total, MAX(progress_at) AS progress_at
              FROM new_rows GROUP BY job_id) d
        WHERE j.id = d.job_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE jobs j SET
            pending_items = j.pending_items - d.pending, running_items = j.running_items - d.running,
            succeeded_items = j.succeeded_items - d.succeeded, failed_items = j.failed_items - d.failed,
            cancelled_items = j.cancelled_items - d.cancelled, collected = j.collected - d.collected,
            ingested = j.ingested - d.ingested, collected_total = j.collected_total - d.collected_total
        FROM (SELECT job_id,
                     COUNT(*) FILTER (WHERE status = 'pending') AS pending, COUNT(*) FILTER (WHERE status = 'running') AS running,
                     COUNT(*) FILTER (WHERE status = 'succeeded') AS succeeded, COUNT(*) FILTER (WHERE status = 'failed') AS failed,
                     COUNT(*) FILTER (WHERE status = 'cancelled') AS cancelled, SUM(collected) AS collected,
                     SUM(ingested) AS ingested, SUM(collected_total) AS collected_total
              FROM old_rows GROUP BY job_id) d
        WHERE j.id = d.job_id;
    ELSE
        -- A lease renewal or a parameter update changes none of the counted columns: nothing is written.
        UPDATE jobs j SET
            pending_items = j.pending_items + d.pending, running_items = j.running_items + d.running,
            succeeded_items = j.succeeded_items + d.succeeded, failed_items = j.failed_items + d.failed,
            cancelled_items = j.cancelled_items + d.cancelled, collected = j.collected + d.collected,
            ingested = j.ingested + d.ingested, collected_total = j.collected_total + d.collected_total,
            progress_at = GREATEST(j.progress_at, d.progress_at)
        FROM (SELECT job_id,
                     SUM(CASE WHEN status = 'pending' THEN sign ELSE 0 END) AS pending,
                     SUM(CASE WHEN status = 'running' THEN sign ELSE 0 END) AS running,
                     SUM(CASE WHEN status = 'succeeded' THEN sign ELSE 0 END) AS succeeded,
                     SUM(CASE WHEN status = 'failed' THEN sign ELSE 0 END) AS failed,
                     SUM(CASE WHEN status = 'cancelled' THEN sign ELSE 0 END) AS cancelled,
                     SUM(collected * sign) AS collected, SUM(ingested * sign) AS ingested,
                     SUM(collected_total * sign) AS collected_total, MAX(progress_at) AS progress_at
              FROM (SELECT job_id, 1 AS sign, status, collected, ingested, collected_total, progress_at FROM new_rows
                    UNION ALL
                    SELECT job_id, -1, status, collected, ingested, collected_total, NULL FROM old_rows) x
              GROUP BY job_id) d
        WHERE j.id = d.job_id AND (d.pending <> 0 OR d.running <> 0 OR d.succeeded <> 0 OR d.failed <> 0 OR d.cancelled <> 0
              OR d.collected <> 0 OR d.ingested <> 0 OR d.collected_total <> 0
              OR (d.progress_at IS NOT NULL AND (j.progress_at IS NULL OR d.progress_at > j.progress_at)));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER work_items_counted_insert AFTER INSERT ON work_items REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION work_items_counted();
CREATE TRIGGER work_items_counted_update AFTER UPDATE ON work_items REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION work_items_counted();
CREATE TRIGGER work_items_counted_delete AFTER DELETE ON work_items REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION work_items_counted();

-- Rows that churn (every checkpoint updates its row; every batch deletes staged copies) are
-- vacuumed early rather than at autovacuum's default 20 % of the table.
ALTER TABLE checkpoints SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE staged_documents SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE work_items SET (autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05);

"""

    private static let v2 = """
-- Version 2: the worker's hot path in one round trip per commit, and job counters that many
-- workers update without queueing on one row.
--
-- Job counters, sharded. Version 1 kept a job's counters in its `jobs` row, so every page and
-- batch commit of every worker updated that one row and held its lock until COMMIT: workers of a
-- job ran one commit at a time (two worker processes did less than one). Each connection now adds
-- its changes to one of 16 rows of the job (by its server process id) and readers sum them.
CREATE TABLE job_counters (
    job_id           TEXT NOT NULL REFERENCES jobs (id),
    shard            INTEGER NOT NULL,
    pending_items    BIGINT NOT NULL DEFAULT 0,
    running_items    BIGINT NOT NULL DEFAULT 0,
    succeeded_items  BIGINT NOT NULL DEFAULT 0,
    failed_items     BIGINT NOT NULL DEFAULT 0,
    cancelled_items  BIGINT NOT NULL DEFAULT 0,
    collected        BIGINT NOT NULL DEFAULT 0,
    ingested         BIGINT NOT NULL DEFAULT 0,
    collected_total  BIGINT NOT NULL DEFAULT 0,
    progress_at      DOUBLE PRECISION,
    PRIMARY KEY (job_id, shard)
);
ALTER TABLE job_counters SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);

INSERT INTO job_counters (job_id, shard, pending_items, running_items, succeeded_items, failed_items, cancelled_items,
                          collected, ingested, collected_total, progress_at)
SELECT id, 0, pending_items, running_items, succeeded_items, failed_items, cancelled_items, collected, ingested,
       collected_total, progress_at FROM jobs;

ALTER TABLE jobs DROP COLUMN pending_items, DROP COLUMN running_items, DROP COLUMN succeeded_items,
    DROP COLUMN failed_items, DROP COLUMN cancelled_items, DROP COLUMN collected, DROP COLUMN ingested,
    DROP COLUMN collected_total, DROP COLUMN progress_at;

-- A job with its standing: the sums of its counter rows.
CREATE VIEW job_standing AS
SELECT j.*, COALESCE(c.pending_items, 0) AS pending_items, COALESCE(c.running_items, 0) AS running_items,
       COALESCE(c.succeeded_items, 0) AS succeeded_items, COALESCE(c.failed_items, 0) AS failed_items,
       COALESCE(c.cancelled_items, 0) AS cancelled_items, COALESCE(c.collected, 0) AS collected,
       COALESCE(c.ingested, 0) AS ingested, COALESCE(c.collected_total, 0) AS collected_total, c.progress_at
FROM jobs j LEFT JOIN LATERAL (
    SELECT SUM(pending_items)::bigint AS pending_items, SUM(running_items)::bigint AS running_items,
           SUM(succeeded_items)::bigint AS succeeded_items, SUM(failed_items)::bigint AS failed_items,
           SUM(cancelled_items)::bigint AS cancelled_items, SUM(collected)::bigint AS collected,
           SUM(ingested)::bigint AS ingested, SUM(collected_total)::bigint AS collected_total, MAX(progress_at) AS progress_at
    FROM job_counters WHERE job_id = j.id) c ON true;

-- The counters follow every insert, delete and change of an item's status or counts, once per
-- statement, from its transition tables, into this connection's shard. An update that changes
-- nothing counted (a lease renewal, a parameter update) writes nothing.
CREATE OR REPLACE FUNCTION work_items_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_shard INTEGER := pg_backend_pid() % 16;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_counters AS c (job_id, shard, pending_items, running_items, succeeded_items, failed_items,
                                       cancelled_items, collected, ingested, collected_total, progress_at)
        SELECT job_id, v_shard,
               COUNT(*) FILTER (WHERE status = 'pending'), COUNT(*) FILTER (WHERE status = 'running'),
               COUNT(*) FILTER (WHERE status = 'succeeded'), COUNT(*) FILTER (WHERE status = 'failed'),
               COUNT(*) FILTER (WHERE status = 'cancelled'), SUM(collected), SUM(ingested), SUM(collected_total),
               MAX(progress_at)
        FROM new_rows GROUP BY job_id
        ON CONFLICT (job_id, shard) DO UPDATE SET
            pending_items = c.pending_items + excluded.pending_items, running_items = c.running_items + excluded.running_items,
            succeeded_items = c.succeeded_items + excluded.succeeded_items, failed_items = c.failed_items + excluded.failed_items,
            cancelled_items = c.cancelled_items + excluded.cancelled_items, collected = c.collected + excluded.collected,
            ingested = c.ingested + excluded.ingested, collected_total = c.collected_total + excluded.collected_total,
            progress_at = GREATEST(c.progress_at, excluded.progress_at);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO job_counters AS c (job_id, shard, pending_items, running_items, succeeded_items, failed_items,
                                       cancelled_items, collected, ingested, collected_total)
        SELECT job_id, v_shard,
               -COUNT(*) FILTER (WHERE status = 'pending'), -COUNT(*) FILTER (WHERE status = 'running'),
               -COUNT(*) FILTER (WHERE status = 'succeeded'), -COUNT(*) FILTER (WHERE status = 'failed'),
               -COUNT(*) FILTER (WHERE status = 'cancelled'), -SUM(collected), -SUM(ingested), -SUM(collected_total)
        FROM old_rows GROUP BY job_id
        ON CONFLICT (job_id, shard) DO UPDATE SET
            pending_items = c.pending_items + excluded.pending_items, running_items = c.running_items + excluded.running_items,
            succeeded_items = c.succeeded_items + excluded.succeeded_items, failed_items = c.failed_items + excluded.failed_items,
            cancelled_items = c.cancelled_items + excluded.cancelled_items, collected = c.collected + excluded.collected,
            ingested = c.ingested + excluded.ingested, collected_total = c.collected_total + excluded.collected_total;
    ELSE
        INSERT INTO job_counters AS c (job_id, shard, pending_items, running_items, succeeded_items, failed_items,
                                       cancelled_items, collected, ingested, collected_total, progress_at)
        SELECT * FROM (
            SELECT n.job_id, v_shard,
                   SUM((n.status = 'pending')::int - (o.status = 'pending')::int) AS pending,
                   SUM((n.status = 'running')::int - (o.status = 'running')::int) AS running,
                   SUM((n.status = 'succeeded')::int - (o.status = 'succeeded')::int) AS succeeded,
                   SUM((n.status = 'failed')::int - (o.status = 'failed')::int) AS failed,
                   SUM((n.status = 'cancelled')::int - (o.status = 'cancelled')::int) AS cancelled,
                   SUM(n.collected - o.collected) AS collected, SUM(n.ingested - o.ingested) AS ingested,
                   SUM(n.collected_total - o.collected_total) AS collected_total,
                   MAX(n.progress_at) FILTER (WHERE n.progress_at IS DISTINCT FROM o.progress_at) AS progress_at
            FROM new_rows n JOIN old_rows o ON o.id = n.id GROUP BY n.job_id) d
        WHERE d.pending <> 0 OR d.running <> 0 OR d.succeeded <> 0 OR d.failed <> 0 OR d.cancelled <> 0
              OR d.collected <> 0 OR d.ingested <> 0 OR d.collected_total <> 0 OR d.progress_at IS NOT NULL
        ON CONFLICT (job_id, shard) DO UPDATE SET
            pending_items = c.pending_items + excluded.pending_items, running_items = c.running_items + excluded.running_items,
            succeeded_items = c.succeeded_items + excluded.succeeded_items, failed_items = c.failed_items + excluded.failed_items,
            cancelled_items = c.cancelled_items + excluded.cancelled_items, collected = c.collected + excluded.collected,
            ingested = c.ingested + excluded.ingested, collected_total = c.collected_total + excluded.collected_total,
            progress_at = GREATEST(c.progress_at, excluded.progress_at);
    END IF;
    RETURN NULL;
END;
$$;

-- Staged copies are checked against their item no more: the foreign key cost a lookup of the item
-- per document (measured: a page of 50 staged in 0.9 ms with it, 0.4 ms without). They are only
-- ever written under the item's lease (jobengine_commit_page below) and deleted with it (finish,
-- restart, prune), so the key guarded nothing those do not.
ALTER TABLE staged_documents DROP CONSTRAINT staged_documents_item_id_fkey;

-- Every page and batch commit updates its item's row: room on each page lets that new row version
-- stay on the page (a HOT update: no index entries written).
ALTER TABLE work_items SET (fillfactor = 80);

-- A page: its staged documents, the collect checkpoint and the item's counts, conditioned on the
-- worker's lease and fence, as one statement (one round trip, its own transaction). Returns the
-- job's cancel flag (0 or 1), or -1 when the worker no longer holds the item: then nothing is written.
CREATE FUNCTION jobengine_commit_page(p_item TEXT, p_owner TEXT, p_fence BIGINT, p_seqs BIGINT[], p_keys TEXT[],
                                      p_bodies BYTEA[], p_cursor TEXT, p_collected BIGINT, p_note TEXT)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    v_job TEXT;
    v_now DOUBLE PRECISION := EXTRACT(EPOCH FROM clock_timestamp())::float8;
BEGIN
    -- The lease first (the update locks the row): a worker that lost it writes nothing. collected_total
    -- grows by what this page adds, so a redo after a lost answer adds nothing twice.
    UPDATE work_items SET collected = p_collected, collected_total = collected_total + GREATEST(0, p_collected - collected),
        phase = CASE WHEN p_cursor IS NULL THEN 'ingest' ELSE 'collect' END, progress_at = v_now, updated_at = v_now,
        progress_note = p_note
    WHERE id = p_item AND status = 'running' AND lease_owner = p_owner AND fence = p_fence
    RETURNING job_id INTO v_job;
    IF v_job IS NULL THEN
        RETURN -1;
    END IF;
    -- Staged copies past the collect checkpoint never exist (they commit with it; a restart deletes
    -- both), so only a redo of this very page (its answer lost) finds its checkpoint already there.
    IF NOT EXISTS (SELECT 1 FROM checkpoints WHERE item_id = p_item AND phase = 'collect' AND documents = p_collected
                   AND cursor IS NOT DISTINCT FROM p_cursor) THEN
        INSERT INTO staged_documents (item_id, seq, key, body)
        SELECT p_item, s, k, b FROM unnest(p_seqs, p_keys, p_bodies) AS u (s, k, b);
    END IF;
    INSERT INTO checkpoints (item_id, phase, cursor, documents, updated_at) VALUES (p_item, 'collect', p_cursor, p_collected, v_now)
    ON CONFLICT (item_id, phase) DO UPDATE SET cursor = excluded.cursor, documents = excluded.documents,
        updated_at = excluded.updated_at;
    RETURN (SELECT cancelled FROM jobs WHERE id = v_job);
END;
$$;

-- A batch's checkpoint: the ingest checkpoint, the item's count and the removal of the delivered
-- staged copies, conditioned on the lease and fence. Returns as jobengine_commit_page does.
CREATE FUNCTION jobengine_record_batch(p_item TEXT, p_owner TEXT, p_fence BIGINT, p_ingested BIGINT, p_sink_offset BIGINT)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    v_job TEXT;
    v_now DOUBLE PRECISION := EXTRACT(EPOCH FROM clock_timestamp())::float8;
BEGIN
    UPDATE work_items SET ingested = p_ingested, progress_at = v_now, updated_at = v_now
    WHERE id = p_item AND status = 'running' AND lease_owner = p_owner AND fence = p_fence
    RETURNING job_id INTO v_job;
    IF v_job IS NULL THEN
        RETURN -1;
    END IF;
    INSERT INTO checkpoints (item_id, phase, documents, sink_offset, updated_at) VALUES (p_item, 'ingest', p_ingested, p_sink_offset, v_now)
    ON CONFLICT (item_id, phase) DO UPDATE SET documents = excluded.documents, sink_offset = excluded.sink_offset,
        updated_at = excluded.updated_at;
    DELETE FROM staged_documents WHERE item_id = p_item AND seq < p_ingested;
    RETURN (SELECT cancelled FROM jobs WHERE id = v_job);
END;
$$;

-- The `postgres` sink's batch: its rows into the sink table (a validated identifier, quoted again
-- here) and its checkpoint, one statement, so the rows are there exactly when the checkpoint is.
CREATE FUNCTION jobengine_deliver_rows(p_table TEXT, p_job_name TEXT, p_item_name TEXT, p_seqs BIGINT[], p_keys TEXT[],
                                       p_data TEXT[], p_item TEXT, p_owner TEXT, p_fence BIGINT, p_ingested BIGINT)
RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    v_cancelled INTEGER;
BEGIN
    v_cancelled := jobengine_record_batch(p_item, p_owner, p_fence, p_ingested, NULL);
    IF v_cancelled < 0 THEN
        RETURN v_cancelled;
    END IF;
    EXECUTE format('INSERT INTO %I (job, item, seq, key, data) SELECT $1, $2, s, k, d::jsonb FROM unnest($3, $4, $5) AS u (s, k, d) '
                   'ON CONFLICT (job, item, seq) DO UPDATE SET key = excluded.key, data = excluded.data', p_table)
        USING p_job_name, p_item_name, p_seqs, p_keys, p_data;
    RETURN v_cancelled;
END;
$$;

-- Transactions whose answer a redo could not work out again (a submit, a retry, a cancel) record a
-- token: when the answer to their COMMIT is lost, the redo finds the token, so it knows the first
-- run committed and returns that run's answer. Kept a day.
CREATE TABLE committed_transactions (
    token         TEXT PRIMARY KEY,
    committed_at  DOUBLE PRECISION NOT NULL
);

"""

    private static let v3 = """
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

"""

    private static let v4 = """
-- JobEngine PostgreSQL store, version 4: what recovers saved; failed items by kind and events by status found
-- without walking the others (as SQLite's schema/008).
--
-- Documents an item's runs did not collect again because they resumed from its checkpoints: each
-- claim adds the documents the item had already staged. Over the item's whole life, like
-- collected_total; a restart adds nothing, as it keeps nothing.
ALTER TABLE work_items ADD COLUMN not_collected_again BIGINT NOT NULL DEFAULT 0;

-- A job's failed items of one error kind in spec order, for the Jobs page narrowed to a kind and a
-- retry by kind. Only failed items are in it: claims and finishes never touch it.
CREATE INDEX work_items_failed_by_job_kind ON work_items (job_id, error_kind, position) WHERE status = 'failed';

-- A job's events by status and time, with their error kind, for its activity (failures per minute
-- by kind, items finished in the last ten minutes): each count reads only this index, and only the
-- entries of its status. By time alone, a job of 1,000,000 items submitted within the hour had every
-- creation event walked at each look.
DROP INDEX events_by_job_time;
CREATE INDEX events_by_job_status_time ON events (job_id, to_status, at, error_kind);

"""
}
