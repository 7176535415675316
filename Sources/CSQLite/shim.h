#ifndef JOBENGINE_CSQLITE_SHIM_H
#define JOBENGINE_CSQLITE_SHIM_H

#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift cannot import.
// These helpers bind with it so SQLite copies the bytes before the Swift buffer goes away.
static inline int jobengine_bind_text(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}

static inline int jobengine_bind_blob(sqlite3_stmt *statement, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(statement, index, bytes, length, SQLITE_TRANSIENT);
}

// sqlite3_config is variadic, which Swift cannot call. Memory statistics take a process-wide
// mutex on every allocation and free inside SQLite; the engine never reads them, and with several
// connections busy on several threads that mutex is contended. Only effective before SQLite
// initializes (else SQLITE_MISUSE, and nothing changes).
static inline int jobengine_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#endif
