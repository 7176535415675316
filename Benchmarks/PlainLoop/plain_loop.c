#include "plain_loop.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int check(sqlite3 *db, int code, const char *what) {
    if (code == SQLITE_OK || code == SQLITE_DONE || code == SQLITE_ROW) return 0;
    fprintf(stderr, "plain loop: %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
}

static sqlite3 *open_database(const char *path, const char *schema) {
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) { check(db, SQLITE_ERROR, path); return NULL; }
    if (check(db, sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL, NULL, NULL), "settings")
        || check(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema")) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static const char *schema =
    "CREATE TABLE rows (item TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL,"
    " PRIMARY KEY (item, seq));"
    "CREATE TABLE checkpoints (item TEXT NOT NULL PRIMARY KEY, documents INTEGER NOT NULL);";

/// One table's worth: every item's documents, `batch` rows and a checkpoint upsert per transaction.
static int fill(sqlite3 *db, int items, int documents_per_item, const unsigned char *body, int document_bytes, int batch) {
    sqlite3_stmt *insert = NULL, *upsert = NULL;
    if (check(db, sqlite3_prepare_v2(db, "INSERT INTO rows (item, seq, key, body) VALUES (?, ?, ?, ?)", -1, &insert, NULL), "prepare")
        || check(db, sqlite3_prepare_v2(db, "INSERT INTO checkpoints (item, documents) VALUES (?, ?)"
                                            " ON CONFLICT (item) DO UPDATE SET documents = excluded.documents", -1, &upsert, NULL), "prepare"))
        return -1;
    char item[32], key[64];
    int failed = 0;
    for (int i = 0; i < items && !failed; i++) {
        snprintf(item, sizeof item, "item-%05d", i);
        for (int first = 0; first < documents_per_item && !failed; first += batch) {
            failed |= check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
            int end = first + batch < documents_per_item ? first + batch : documents_per_item;
            for (int seq = first; seq < end && !failed; seq++) {
                snprintf(key, sizeof key, "%s-%d", item, seq);
                sqlite3_bind_text(insert, 1, item, -1, SQLITE_STATIC);
                sqlite3_bind_int(insert, 2, seq);
                sqlite3_bind_text(insert, 3, key, -1, SQLITE_STATIC);
                sqlite3_bind_blob(insert, 4, body, document_bytes, SQLITE_STATIC);
                failed |= check(db, sqlite3_step(insert), "insert");
                sqlite3_reset(insert);
            }
            sqlite3_bind_text(upsert, 1, item, -1, SQLITE_STATIC);
            sqlite3_bind_int(upsert, 2, end);
            failed |= check(db, sqlite3_step(upsert), "checkpoint");
            sqlite3_reset(upsert);
            failed |= check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
        }
    }
    sqlite3_finalize(insert);
    sqlite3_finalize(upsert);
    return failed ? -1 : 0;
}

double plain_sqlite_loop(const char *store_path, const char *sink_path, int items, int documents_per_item,
                         int document_bytes, int batch) {
    unsigned char *body = malloc((size_t)document_bytes);
    if (!body) return -1;
    for (int i = 0; i < document_bytes; i++) body[i] = (unsigned char)('a' + i % 26);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    sqlite3 *store = open_database(store_path, schema);
    sqlite3 *sink = open_database(sink_path, schema);
    int failed = !store || !sink;
    if (!failed) failed = fill(store, items, documents_per_item, body, document_bytes, batch) != 0;
    if (!failed) failed = fill(sink, items, documents_per_item, body, document_bytes, batch) != 0;
    sqlite3_close(store);
    sqlite3_close(sink);
    clock_gettime(CLOCK_MONOTONIC, &end);
    free(body);
    if (failed) return -1;
    return (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
}
