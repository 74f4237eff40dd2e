import CSQLite

/// An error from SQLite, with the file and, where there was one, the statement involved.
public struct DatabaseError: Error, Sendable, CustomStringConvertible {
    /// SQLite's extended result code, or `SQLITE_ERROR` for errors found by colt-orders itself.
    public var code: Int32
    /// The database file.
    public var path: String
    /// What went wrong, in SQLite's words or ours.
    public var message: String
    /// The first line of the statement that failed, if any.
    public var sql: String?

    public init(code: Int32 = SQLITE_ERROR, path: String, message: String, sql: String? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.sql = sql.map { String($0.split(separator: "\n", maxSplits: 1).first ?? "") }
    }

    /// The lock was held by another connection for longer than the busy timeout.
    public var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }

    public var description: String {
        var text = "\(path): \(message)"
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: text += " (another process holds the database lock; it is retried)"
        case SQLITE_READONLY: text += " (the file or its directory is read-only for this user: check owner and mode)"
        case SQLITE_FULL: text += " (the disk is full: free space, then restart)"
        default: break
        }
        return text
    }
}
