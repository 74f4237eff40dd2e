#ifndef COLT_CSQLITE_SHIM_H
#define COLT_CSQLITE_SHIM_H
#include <sqlite3.h>

/// sqlite3_bind_text with SQLITE_TRANSIENT (a macro Swift cannot import): SQLite copies the text.
static inline int colt_sqlite3_bind_text(sqlite3_stmt *stmt, int index, const char *text, int length) {
    return sqlite3_bind_text(stmt, index, text, length, SQLITE_TRANSIENT);
}
#endif
