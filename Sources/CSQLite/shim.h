#ifndef COLT_CSQLITE_SHIM_H
#define COLT_CSQLITE_SHIM_H
#include <sqlite3.h>

/// sqlite3_bind_text with SQLITE_TRANSIENT (a macro Swift cannot import): SQLite copies the text.
static inline int colt_sqlite3_bind_text(sqlite3_stmt *stmt, int index, const char *text, int length) {
    return sqlite3_bind_text(stmt, index, text, length, SQLITE_TRANSIENT);
}

/// sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on) (variadic, so not callable from Swift). Only before
/// SQLite initialises, i.e. before the process opens its first connection; SQLITE_MISUSE after.
static inline int colt_sqlite3_config_memstatus(int on) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, on);
}
#endif
