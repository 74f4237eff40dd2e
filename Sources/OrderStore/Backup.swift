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

/// What ``Backup/restore(from:to:stamp:)`` did.
public struct RestoreReport: Sendable, Equatable {
    public var requests: Int
    /// Rows not yet settled, or settled but able to be sent again, in the backup: each reads
    /// Colt's inventory before it is sent.
    public var marked: Int
    /// Where the database that was replaced now is, if there was one.
    public var replacedDatabase: String?
    /// Rows the replaced database had that the backup has not (added after it was taken).
    public var missing: Int
    /// Rows the replaced database showed cancelled, cancelled again in the restored one.
    public var cancelledAgain: Int
}

/// Online, consistent copies of the database, and putting one back.
///
/// A copy is taken with SQLite's backup API in one step, inside one read transaction of the
/// source: in WAL mode a reader never blocks the daemon's writes (nor they it), so the copy is
/// the database as of one commit and the daemon is not held up at all. It is written to a
/// temporary file of its own beside the target, made one self-contained file (rollback journal,
/// no `-wal`), checked with `PRAGMA integrity_check` and `foreign_key_check`, flushed, and only
/// then linked into place, never over an existing file.
public enum Backup {
    /// Copies the database `source` is open on to `path`, which must not exist.
    ///
    /// - Throws: ``DatabaseError`` naming the file and what went wrong; nothing is left at `path`.
    @discardableResult
    public static func copy(_ source: Connection, to path: String) throws -> BackupReport {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw DatabaseError(path: path, message: "exists already; a backup never overwrites a file: choose a new name, or remove it first")
        }
        let partial = temporaryName(beside: path, purpose: "partial")
        defer { removeWithSidecars(partial) }
        try write(source, to: partial, mode: fileMode(of: source.path))
        var report = try check(partial, reportedAs: "the copy of \(source.path)")
        report.path = path
        try flush(partial)
        // link(2) fails when `path` appeared meanwhile (another backup to the same name).
        guard link(partial, path) == 0 else {
            throw DatabaseError(path: path, message: "could not put the copy in place (\(String(cString: strerror(errno)))); nothing was written there")
        }
        try flush(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        return report
    }

    /// Puts the backup at `backup` in place of the database at `database`. The daemon must not
    /// be running: the caller holds its lock.
    ///
    /// A backup is the ledger as it was, and the daemon may have sent rows after it was taken:
    /// rows it shows queued or retrying may have orders at Colt, and rows it shows rejected,
    /// failed or unresolved may have been sent again. So every such row is marked
    /// `outcome_unknown`: the daemon reads Colt's inventory before it sends one, and takes the
    /// order it finds instead of making a second one (invariant 9); `retry` of a settled one
    /// then needs `--force`. When the replaced database can still be read, rows it shows
    /// cancelled are cancelled again, the ids it handed out are never handed out again, and the
    /// rows it has that the backup has not are counted (they are in the replaced file).
    ///
    /// The replaced database is checkpointed and moved aside (`DATABASE.replaced-TIME`), never
    /// deleted; nothing is put in place while a `-wal` of it remains.
    public static func restore(from backup: String, to database: String, stamp: String) throws -> RestoreReport {
        let incoming = temporaryName(beside: database, purpose: "restoring")
        defer { removeWithSidecars(incoming) }
        do {
            // Copied with the backup API, so a backup with a -wal of its own comes over whole.
            let source = try Connection(path: backup, mode: .readOnly)
            try write(source, to: incoming, mode: fileMode(of: database) ?? fileMode(of: backup))
        }
        let checked = try check(incoming, reportedAs: backup)
        let existing = (try? FileManager.default.attributesOfItem(atPath: database)[.size] as? Int) ?? nil
        let (marked, cancelled, missing): (Int, Int, Int)
        do {
            // Closed again before the replaced database is checkpointed and moved.
            let replaced = (existing ?? 0) > 0 ? try? Connection(path: database, mode: .readOnly) : nil
            (marked, cancelled, missing) = try mark(incoming, against: replaced, stamp: stamp)
        }
        try flush(incoming)

        var aside: String?
        if let existing, existing > 0 {
            // Its last commits into the main file, and one file to move: a -wal moved apart from
            // its database, or left beside another, would be lost or replayed onto the wrong file.
            if let old = try? Connection(path: database, mode: .readWrite) {
                _ = try? old.query("PRAGMA wal_checkpoint(TRUNCATE)") { _ in () }
                try? old.execute("PRAGMA journal_mode = DELETE")
            }
            let target = database + ".replaced-" + stamp.filter { $0.isNumber }
            for suffix in ["", "-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: database + suffix) {
                guard rename(database + suffix, target + suffix) == 0 else {
                    throw DatabaseError(path: database + suffix, message: "could not move it aside to \(target + suffix): \(String(cString: strerror(errno))); nothing was restored")
                }
            }
            aside = target
        } else if existing == 0 {
            try? FileManager.default.removeItem(atPath: database)  // the lock's open made it: it holds nothing
        }
        for suffix in ["-wal", "-journal"] where FileManager.default.fileExists(atPath: database + suffix) {
            throw DatabaseError(path: database + suffix, message: "is still there with no database beside it; SQLite would replay it onto the restored file. Move it away (it is not the backup's), then restore again; nothing was restored")
        }
        try? FileManager.default.removeItem(atPath: database + "-shm")  // an index of a -wal that is gone
        guard rename(incoming, database) == 0 else {
            throw DatabaseError(path: database, message: "could not rename \(incoming) to it: \(String(cString: strerror(errno)))")
        }
        try flush(URL(fileURLWithPath: database).deletingLastPathComponent().path)
        return RestoreReport(requests: checked.requests, marked: marked, replacedDatabase: aside, missing: missing, cancelledAgain: cancelled)
    }

    /// Marks the copy's rows that may be sent again; with the replaced database, cancels what it
    /// cancelled and carries its id high-water mark. Returns (marked, cancelled again, missing).
    private static func mark(_ path: String, against replaced: Connection?, stamp: String) throws -> (Int, Int, Int) {
        let copy = try Connection(path: path, mode: .readWrite)
        return try copy.transaction(.immediate) {
            var cancelled = 0, missing = 0
            // A replaced database that cannot be read (the reason to restore, often) adds nothing.
            if let replaced, let cancelledThere = try? replaced.query("SELECT id FROM requests WHERE state = 'cancelled'", [], { $0.integer(0) }) {
                for id in cancelledThere {
                    cancelled += try copy.run("""
                        UPDATE requests SET state = 'cancelled', next_attempt_at = NULL, updated_at = ?2,
                            last_error = 'cancelled again on restoring a backup on ' || ?2 || ': the replaced database had it cancelled'
                        WHERE id = ?1 AND state IN ('queued', 'retrying', 'unresolved')
                        """, [.integer(id), .text(stamp)])
                }
                let ours = try copy.first("SELECT max(id) FROM requests") { $0.integer(0) } ?? 0
                missing = (try? replaced.first("SELECT count(*) FROM requests WHERE id > ?1", [.integer(ours)]) { $0.int(0) } ?? 0) ?? 0
                // Ids the replaced database handed out are never handed out again.
                if let highest = try? replaced.first("SELECT max(seq) FROM sqlite_sequence WHERE name = 'requests'", [], { $0.integer(0) }), highest > 0 {
                    if try copy.run("UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'requests'", [.integer(highest)]) == 0 {
                        try copy.run("INSERT INTO sqlite_sequence (name, seq) VALUES ('requests', ?1)", [.integer(highest)])
                    }
                }
            }
            let marked = try copy.run("""
                UPDATE requests SET outcome_unknown = 1,
                    last_error = 'restored from a backup on ' || ?1 || ': the daemon may have sent this row after the backup was taken, so Colt''s inventory is read before it is sent again'
                        || coalesce(' (last error: ' || last_error || ')', '')
                WHERE state IN ('queued', 'submitting', 'retrying', 'reconciling', 'rejected', 'failed', 'unresolved')
                """, [.text(stamp)])
            return (marked, cancelled, missing)
        }
    }

    private static func write(_ source: Connection, to path: String, mode: mode_t?) throws {
        let destination = try Connection(path: path, mode: .readWriteCreate)
        // The copy holds what the database holds: it gets the database's permissions at once.
        if let mode { chmod(path, mode) }
        guard let backup = sqlite3_backup_init(destination.handle, "main", source.handle, "main") else {
            throw DatabaseError(code: sqlite3_extended_errcode(destination.handle), path: path,
                                message: "cannot start the copy: \(String(cString: sqlite3_errmsg(destination.handle)))")
        }
        // All pages in one step: one read transaction of the source, so one consistent snapshot.
        let stepped = sqlite3_backup_step(backup, -1)
        let finished = sqlite3_backup_finish(backup)
        guard stepped == SQLITE_DONE, finished == SQLITE_OK else {
            let code = stepped == SQLITE_DONE ? finished : stepped
            throw DatabaseError(code: code, path: source.path, message: "copying it to \(path) failed: \(String(cString: sqlite3_errstr(code)))")
        }
        // One self-contained file: the pages came over in WAL mode, as the source is.
        try destination.execute("PRAGMA journal_mode = DELETE")
    }

    private static func check(_ path: String, reportedAs name: String) throws -> BackupReport {
        let copy = try Connection(path: path, mode: .readOnly)
        let integrity = try copy.query("PRAGMA integrity_check") { $0.text(0) ?? "" }
        guard integrity == ["ok"] else {
            throw DatabaseError(path: name, message: "fails PRAGMA integrity_check: \(integrity.prefix(5).joined(separator: "; "))")
        }
        let orphans = try copy.query("PRAGMA foreign_key_check") { $0.text(0) ?? "" }
        guard orphans.isEmpty else {
            throw DatabaseError(path: name, message: "fails PRAGMA foreign_key_check (\(orphans.count) rows, in \(Set(orphans).sorted().joined(separator: ", ")))")
        }
        guard try copy.first("SELECT count(*) FROM sqlite_master WHERE name IN ('requests', 'schema_migrations')", [], { $0.int(0) }) == 2 else {
            throw DatabaseError(path: name, message: "is not a colt-orders database (no requests or schema_migrations table)")
        }
        let requests = try copy.first("SELECT count(*), max(id) FROM requests") { ($0.int(0), $0.isNull(1) ? nil : $0.integer(1)) }
        let version = try copy.first("SELECT max(version) FROM schema_migrations") { $0.int(0) } ?? 0
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return BackupReport(path: name, bytes: size, requests: requests?.0 ?? 0, schemaVersion: version, highestRequestID: requests?.1 ?? nil)
    }

    /// `PATH.purpose-PID-RANDOM`: a name no other copy in progress uses.
    private static func temporaryName(beside path: String, purpose: String) -> String {
        "\(path).\(purpose)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    private static func removeWithSidecars(_ path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private static func fileMode(of path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 && info.st_size > 0 ? info.st_mode & 0o777 : nil
    }

    /// fsync(2) on a file or a directory.
    private static func flush(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw DatabaseError(path: path, message: "cannot open it to flush it: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw DatabaseError(path: path, message: "fsync failed: \(String(cString: strerror(errno)))") }
    }
}
