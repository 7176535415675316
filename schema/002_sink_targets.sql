-- JobEngine store, version 2: which job owns each sink target (invariant 7: one owner per output).

CREATE TABLE sink_targets (
    target      TEXT PRIMARY KEY,             -- file:<real path> or sqlite:<real path>#<table>
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    created_at  REAL NOT NULL
) WITHOUT ROWID;

CREATE INDEX sink_targets_by_job ON sink_targets (job_id);
