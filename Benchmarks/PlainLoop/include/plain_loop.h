#ifndef PLAIN_LOOP_H
#define PLAIN_LOOP_H

/// The plain SQLite loop the reference workload is held against (issue 12): `documents` rows of
/// `document_bytes` staged into one database and the same rows sunk into another, `batch` rows per
/// WAL/NORMAL transaction, each transaction with a checkpoint-row upsert, SQLite's default page
/// size, one thread. Returns the wall time in seconds, or a negative number when SQLite failed
/// (the message is printed on stderr).
double plain_sqlite_loop(const char *store_path, const char *sink_path, int items, int documents_per_item,
                         int document_bytes, int batch);

#endif
