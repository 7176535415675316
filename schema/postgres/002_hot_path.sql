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
