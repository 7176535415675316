/// What `engine-run init` writes: a YAML spec that runs as it is (synthetic documents into JSONL
/// files), every field commented with what it does and what else it takes.
enum StarterSpec {
    static let yaml = """
        # A JobEngine job spec. Check it with `engine-run check job.yaml`, run it with
        # `engine-run run job.yaml`. JSON works too: the same fields, in a .json file.

        # The job's name: running a spec with a known name records a new version of that job
        # and continues its unfinished items.
        name: my-first-job

        # How many items run at once.
        concurrency: 4

        # Automatic retries of transient failures (a source outage, a sink time-out).
        retry:
          max_attempts: 3        # 1 = fail at the first error and wait for `engine-run retry`
          mode: recover          # recover: resume from the last checkpoint; restart: from the beginning
          backoff_ms: 200        # the first wait; each further attempt doubles it
          max_recoveries: 5      # a worker that dies on the same item more often than this marks it crash_loop

        # How hard each checkpoint is pushed to disk: normal (fast, survives a crash of the process)
        # or full (also survives a power cut).
        checkpoint:
          sync: normal

        # Where documents come from, page by page. synthetic makes up documents (for trying things
        # out); jsonl reads a file; http, command and brightdata reach real sources.
        collector:
          type: synthetic
          documents: 500         # per item
          page_size: 50          # documents per page: one checkpoint each
          document_bytes: 512

        # Where documents go, batch by batch. jsonl writes one file per item ({item} is its name);
        # sqlite and postgres write rows; http and command hand batches to your own code.
        ingester:
          type: jsonl
          path: out/{item}.jsonl
          batch_size: 100        # documents per batch: one checkpoint each

        # The work items: each runs, fails and is retried on its own. params reach the collector.
        # For many items, keep them in a JSONL file instead: items_file: items.jsonl
        items:
          - name: first
            params:
              query: swift
          - name: second

        """
}
