import CSQLite
import Foundation

/// What ``Backup/copy(_:to:)`` wrote.
public struct BackupReport: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var requests: Int
    public var schemaVersion: Int
    /// The highest request id in the copy: every row committed before the copy began is in it.
    public var highestRequestID: Int64?
}

/// An online, consistent copy of the database, taken while the daemon runs.
///
/// SQLite's backup API copies every page in one step, inside one read transaction of the
/// source: in WAL mode a reader never blocks the daemon's writes (nor they it), so the copy is
/// the database as of one commit and the daemon is not held up at all. The copy is written to
/// `PATH.partial`, made a single self-contained file (rollback journal, no `-wal`), checked with
/// `PRAGMA integrity_check` and `foreign_key_check`, flushed to disk, and only then renamed
/// to `PATH`: a failed or interrupted backup never leaves a file that looks whole.
public enum Backup {
    /// Copies the database `source` is open on to `path`, which must not exist.
    ///
    /// - Throws: ``DatabaseError`` naming the file and what went wrong; nothing is left at `path`.
    @discardableResult
    public static func copy(_ source: Connection, to path: String) throws -> BackupReport {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw DatabaseError(path: path, message: "exists already; a backup never overwrites a file: choose a new name, or remove it first")
        }
        let partial = path + ".partial"
        for leftover in [partial, partial + "-journal", partial + "-wal", partial + "-shm"] {
            try? FileManager.default.removeItem(atPath: leftover)
        }
        do {
            try write(source, to: partial)
            // The copy holds what the database holds: it gets the database's permissions.
            var info = stat()
            if stat(source.path, &info) == 0 { chmod(partial, info.st_mode & 0o777) }
            let report = try check(partial, finalPath: path)
            try flush(partial)
            guard rename(partial, path) == 0 else {
                throw DatabaseError(path: path, message: "could not rename \(partial) to it: \(String(cString: strerror(errno)))")
            }
            try flush(URL(fileURLWithPath: path).deletingLastPathComponent().path)
            return report
        } catch {
            for leftover in [partial, partial + "-journal", partial + "-wal", partial + "-shm"] {
                try? FileManager.default.removeItem(atPath: leftover)
            }
            throw error
        }
    }

    private static func write(_ source: Connection, to partial: String) throws {
        let destination = try Connection(path: partial, mode: .readWriteCreate)
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            throw DatabaseError(code: sqlite3_extended_errcode(destination.handle), path: partial,
                                message: "cannot start the backup: \(String(cString: sqlite3_errmsg(destination.handle)))")
        }
        // All pages in one step: one read transaction of the source, so one consistent snapshot.
        let stepped = sqlite3_backup_step(backup, -1)
        let finished = sqlite3_backup_finish(backup)
        guard stepped == SQLITE_DONE, finished == SQLITE_OK else {
            let code = stepped == SQLITE_DONE ? finished : stepped
            throw DatabaseError(code: code, path: source.path, message: "the backup to \(partial) failed: \(String(cString: sqlite3_errstr(code)))")
        }
        // One self-contained file: the copy came over in WAL mode, as the source is.
        try destination.execute("PRAGMA journal_mode = DELETE")
    }

    private static func check(_ partial: String, finalPath: String) throws -> BackupReport {
        let copy = try Connection(path: partial, mode: .readOnly)
        let integrity = try copy.query("PRAGMA integrity_check") { $0.text(0) ?? "" }
        guard integrity == ["ok"] else {
            throw DatabaseError(path: partial, message: "the copy fails PRAGMA integrity_check: \(integrity.prefix(5).joined(separator: "; "))")
        }
        let orphans = try copy.query("PRAGMA foreign_key_check") { $0.text(0) ?? "" }
        guard orphans.isEmpty else {
            throw DatabaseError(path: partial, message: "the copy fails PRAGMA foreign_key_check (\(orphans.count) rows, in \(Set(orphans).sorted().joined(separator: ", ")))")
        }
        let requests = try copy.first("SELECT count(*), max(id) FROM requests") { ($0.int(0), $0.isNull(1) ? nil : $0.integer(1)) }
        let version = try copy.first("SELECT max(version) FROM schema_migrations") { $0.int(0) } ?? 0
        let size = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0
        return BackupReport(path: finalPath, bytes: size, requests: requests?.0 ?? 0, schemaVersion: version, highestRequestID: requests?.1 ?? nil)
    }

    /// What ``restore(from:to:stamp:)`` did.
    public struct RestoreReport: Sendable, Equatable {
        public var requests: Int
        /// Rows not yet settled in the backup: each reads Colt's inventory before it is sent.
        public var unsettled: Int
        /// Where the database that was replaced now is (its `-wal` beside it), if there was one.
        public var replacedDatabase: String?
    }

    /// Puts the backup at `backup` in place of the database at `database`. The daemon must not
    /// be running (the caller holds its lock).
    ///
    /// A backup is the ledger as it was: the daemon may have sent rows that it still shows as
    /// queued or retrying, and Colt may have made their orders. So every row not yet settled is
    /// marked `outcome_unknown`: the daemon reads Colt's inventory before it sends any of them,
    /// and takes the order it finds instead of making a second one (invariant 9). The database
    /// that is replaced is moved aside, its `-wal` with it, never deleted.
    public static func restore(from backup: String, to database: String, stamp: String) throws -> RestoreReport {
        let checked = try check(backup, finalPath: backup)
        let incoming = database + ".restoring"
        for leftover in [incoming, incoming + "-journal", incoming + "-wal", incoming + "-shm"] {
            try? FileManager.default.removeItem(atPath: leftover)
        }
        do {
            try FileManager.default.copyItem(atPath: backup, toPath: incoming)
        } catch {
            throw DatabaseError(path: incoming, message: "cannot copy the backup \(backup) here: \(error.localizedDescription)")
        }
        let unsettled: Int
        do {
            let copy = try Connection(path: incoming, mode: .readWrite)
            unsettled = try copy.transaction(.immediate) {
                try copy.run("""
                    UPDATE requests SET outcome_unknown = 1,
                        last_error = 'restored from a backup on ' || ?1 || ': the daemon may have sent this row after the backup was taken, so Colt''s inventory is read before it is sent'
                            || coalesce(' (last error: ' || last_error || ')', '')
                    WHERE state IN ('queued', 'submitting', 'retrying', 'reconciling')
                    """, [.text(stamp)])
            }
            try copy.execute("PRAGMA journal_mode = DELETE")
        }
        try flush(incoming)
        var replaced: String?
        let existing = (try? FileManager.default.attributesOfItem(atPath: database)[.size] as? Int) ?? nil
        if existing == 0 {
            try? FileManager.default.removeItem(atPath: database)  // an empty file (the lock's open made it) holds nothing
        } else if existing != nil {
            let aside = database + ".replaced-" + stamp.filter { $0.isNumber }
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
                guard rename(database + suffix, aside + suffix) == 0 else {
                    throw DatabaseError(path: database + suffix, message: "could not move it aside to \(aside + suffix): \(String(cString: strerror(errno))); nothing was restored")
                }
            }
            replaced = aside
        }
        guard rename(incoming, database) == 0 else {
            throw DatabaseError(path: database, message: "could not rename \(incoming) to it: \(String(cString: strerror(errno)))")
        }
        try flush(URL(fileURLWithPath: database).deletingLastPathComponent().path)
        return RestoreReport(requests: checked.requests, unsettled: unsettled, replacedDatabase: replaced)
    }

    /// fsync(2) on a file or a directory.
    private static func flush(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw DatabaseError(path: path, message: "cannot open it to flush it: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw DatabaseError(path: path, message: "fsync failed: \(String(cString: strerror(errno)))") }
    }
}
