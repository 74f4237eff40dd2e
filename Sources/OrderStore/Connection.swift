import CSQLite
import Foundation

/// SQLite's process-wide settings, applied once before the first connection opens (a global's
/// lazy initialiser is thread-safe). Memory statistics off: with them on, every allocation and
/// free SQLite makes (about 270 per order in a drain) takes a process-wide mutex to count
/// itself (BENCHMARKS.md, 2026-12-08); nothing here reads them (`sqlite3_memory_used`, the
/// soft heap limit).
private let sqliteConfigured: Int32 = colt_sqlite3_config_memstatus(0)

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe: it belongs to one thread at a time. The daemon reaches it only through
/// ``Database``, which runs every use on its own serial queue.
public final class Connection {
    /// The database file this connection has open.
    public let path: String
    let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    private var hotStatements: [ObjectIdentifier: (sql: HotPathSQL, statement: Statement)] = [:]
    private let fileIdentity: (device: UInt64, inode: UInt64)?

    /// How a connection opens its file.
    public enum Mode: Sendable {
        /// Read and write; the file is created when it does not exist.
        case readWriteCreate
        /// Read and write an existing file.
        case readWrite
        /// Read only, for inspection commands.
        case readOnly
    }

    /// Opens `path`, in WAL mode with foreign keys on, waiting up to `busyTimeout` for locks.
    public init(path: String, mode: Mode = .readWriteCreate, busyTimeout: Duration = .seconds(5)) throws(DatabaseError) {
        self.path = path
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        switch mode {
        case .readWriteCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        }
        if mode != .readWriteCreate, !FileManager.default.fileExists(atPath: path) {
            throw DatabaseError(path: path, message: "no database file here; check the path, or run the daemon once to create it")
        }
        _ = sqliteConfigured
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw DatabaseError(code: code, path: path, message: "cannot open the database: \(message)")
        }
        handle = db
        fileIdentity = Self.identity(of: path)
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(db, Int32(clamping: milliseconds))
        sqlite3_extended_result_codes(db, 1)
        do {
            if mode != .readOnly {
                try execute("PRAGMA journal_mode = WAL")
                try execute("PRAGMA synchronous = FULL")
            }
            try execute("PRAGMA foreign_keys = ON")
        } catch {
            sqlite3_close_v2(db)
            throw error
        }
    }

    deinit {
        statements.removeAll()
        hotStatements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more SQL statements that return no rows.
    public func execute(_ sql: String) throws(DatabaseError) {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &error)
        if code != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw DatabaseError(code: code, path: path, message: message, sql: sql)
        }
    }

    /// A prepared statement for `sql`, compiled once and reused.
    public func statement(_ sql: String) throws(DatabaseError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = try prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// The prepared statement for a hot-path statement, found by the object's identity. The
    /// cache keeps the object, so its identity cannot be reused by another while cached.
    func statement(_ sql: HotPathSQL) throws(DatabaseError) -> Statement {
        if let cached = hotStatements[ObjectIdentifier(sql)] {
            cached.statement.reset()
            return cached.statement
        }
        let statement = try prepare(sql.text)
        hotStatements[ObjectIdentifier(sql)] = (sql, statement)
        return statement
    }

    private func prepare(_ sql: String) throws(DatabaseError) -> Statement {
        var pointer: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard code == SQLITE_OK, let pointer else {
            throw DatabaseError(code: code, path: path, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        return Statement(pointer, connection: self, sql: sql)
    }

    /// Runs a statement that returns no rows; returns how many rows it changed.
    @discardableResult
    public func run(_ sql: String, _ arguments: [SQLValue] = []) throws(DatabaseError) -> Int {
        try run(statement(sql), arguments)
    }

    /// Runs a hot-path statement that returns no rows; returns how many rows it changed.
    @discardableResult
    func run(_ sql: HotPathSQL, _ arguments: [SQLValue] = []) throws(DatabaseError) -> Int {
        try run(statement(sql), arguments)
    }

    private func run(_ statement: Statement, _ arguments: [SQLValue]) throws(DatabaseError) -> Int {
        try statement.bind(arguments)
        while try statement.step() {}
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps each row.
    public func query<T>(_ sql: String, _ arguments: [SQLValue] = [], _ map: (Row) throws -> T) throws -> [T] {
        try query(statement(sql), arguments, map)
    }

    /// Runs a hot-path query and maps each row.
    func query<T>(_ sql: HotPathSQL, _ arguments: [SQLValue] = [], _ map: (Row) throws -> T) throws -> [T] {
        try query(statement(sql), arguments, map)
    }

    private func query<T>(_ statement: Statement, _ arguments: [SQLValue], _ map: (Row) throws -> T) throws -> [T] {
        try statement.bind(arguments)
        var rows: [T] = []
        while try statement.step() {
            rows.append(try map(Row(statement: statement)))
        }
        return rows
    }

    /// Runs a query and hands each row to `body` as it comes: memory does not grow with the rows.
    public func forEachRow(_ sql: String, _ arguments: [SQLValue] = [], _ body: (Row) throws -> Void) throws {
        let statement = try statement(sql)
        try statement.bind(arguments)
        defer { statement.reset() }
        while try statement.step() {
            try body(Row(statement: statement))
        }
    }

    /// Runs a hot-path query and hands each row to `body` until it returns `false`: the rows
    /// after it are never read.
    func walk(_ sql: HotPathSQL, _ arguments: [SQLValue] = [], _ body: (Row) throws -> Bool) throws {
        let statement = try statement(sql)
        try statement.bind(arguments)
        defer { statement.reset() }
        while try statement.step(), try body(Row(statement: statement)) {}
    }

    /// The first row of a query, mapped, or `nil` when there is none.
    public func first<T>(_ sql: String, _ arguments: [SQLValue] = [], _ map: (Row) throws -> T) throws -> T? {
        try first(statement(sql), arguments, map)
    }

    /// The first row of a hot-path query, mapped, or `nil` when there is none.
    func first<T>(_ sql: HotPathSQL, _ arguments: [SQLValue] = [], _ map: (Row) throws -> T) throws -> T? {
        try first(statement(sql), arguments, map)
    }

    private func first<T>(_ statement: Statement, _ arguments: [SQLValue], _ map: (Row) throws -> T) throws -> T? {
        try statement.bind(arguments)
        defer { statement.reset() }
        return try statement.step() ? map(Row(statement: statement)) : nil
    }

    /// How many rows this connection's statements have stepped through in full scans of a table
    /// or index (SQLite's `SQLITE_STMTSTATUS_FULLSCAN_STEP`) since the last call, which resets
    /// the count. 0 after a query means every table it touched was sought by index.
    public func fullScanSteps() -> Int {
        (statements.values + hotStatements.values.map(\.statement))
            .reduce(0) { $0 + Int(sqlite3_stmt_status($1.pointer, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1)) }
    }

    /// The rowid of the last row this connection inserted.
    public var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The kinds of transaction SQLite offers.
    public enum TransactionKind: String, Sendable {
        /// Takes the write lock at the first write; for reads.
        case deferred = "DEFERRED"
        /// Takes the write lock at once, so the transaction never fails half-way on a busy lock.
        case immediate = "IMMEDIATE"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// SQLite's counter of commits by *other* connections: it changes when someone else wrote.
    public func dataVersion() throws(DatabaseError) -> Int64 {
        let statement = try statement("PRAGMA data_version")
        guard try statement.step() else { return 0 }
        defer { statement.reset() }
        return sqlite3_column_int64(statement.pointer, 0)
    }

    /// Throws when the file at ``path`` is no longer the file this connection opened
    /// (removed or replaced): SQLite would otherwise go on writing to a deleted inode.
    ///
    /// Before it throws, every commit still in the write-ahead log is copied into the file this
    /// connection holds open (a checkpoint): the log stays behind under the old name when the
    /// file is moved, and a database read without it would miss the last commits (a row Colt
    /// accepted would look queued, and be sent again). The error says where the file is now.
    public func checkFileStillThere() throws(DatabaseError) {
        guard let opened = fileIdentity else { return }
        let now = Self.identity(of: path)
        if let now, now == opened { return }
        // The checkpoint reports `busy` = 1 when a reader kept it from copying everything: try a
        // few times, and say so when it never completes.
        var checkpointed = false
        for attempt in 0..<20 where !checkpointed {
            if attempt > 0 { usleep(100_000) }
            checkpointed = (try? first("PRAGMA wal_checkpoint(TRUNCATE)", [], { $0.int(0) == 0 })) == true
        }
        let saved = checkpointed ? "every commit was written into it first" : "its last commits could not be written into it (the write-ahead log \(path)-wal holds them: keep it beside the file)"
        switch Self.openedPath(of: opened) {
        case let moved? where moved != path:
            throw DatabaseError(path: path, message: "the database file was moved or renamed while in use: it is now \(moved), and \(saved). The daemon stops; start it again on the new path (or move the file back)")
        case _ where now == nil:
            throw DatabaseError(path: path, message: "the database file was removed while in use; nothing more can be recorded, so the daemon stops. Restore the file and restart")
        default:
            throw DatabaseError(path: path, message: "the database file was replaced while in use; restart the daemon to use the new file (the old one: \(saved))")
        }
    }

    /// The path by which this process has the file `identity` open now (`/proc/self/fd`), if any.
    private static func openedPath(of identity: (device: UInt64, inode: UInt64)) -> String? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        for entry in entries {
            var info = stat()
            guard stat("/proc/self/fd/\(entry)", &info) == 0, UInt64(info.st_dev) == identity.device, UInt64(info.st_ino) == identity.inode,
                  let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)"),
                  !target.hasSuffix(" (deleted)")
            else { continue }
            return target
        }
        return nil
    }

    private static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}

/// The text of a statement run for every order, made once for the process (a `static let`). A
/// connection finds its prepared statement by this object's identity, where a `String` is found
/// by hashing its whole text at each run: that hashing, and building the longer texts again at
/// each run, cost about 2% of the daemon's instructions per order (BENCHMARKS.md, 2026-12-08).
///
/// Internal, so that only this module's `static let`s make them: one made at each run would
/// be prepared, and cached, at each run.
final class HotPathSQL: Sendable, CustomStringConvertible {
    /// The SQL.
    let text: String

    /// Statement text for ``Connection``'s hot-path cache.
    init(_ text: String) { self.text = text }

    var description: String { text }
}

/// A value bound to, or read from, an SQL statement.
public enum SQLValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case integer(Int64)
    case text(String)
    case real(Double)
    case null

    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }

    /// Text, or NULL for `nil`.
    public static func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
    /// An integer, or NULL for `nil`.
    public static func integer(_ value: Int?) -> SQLValue { value.map { .integer(Int64($0)) } ?? .null }
}

/// A prepared statement, owned by its ``Connection``'s cache.
public final class Statement {
    let pointer: OpaquePointer
    private unowned let connection: Connection
    let sql: String

    init(_ pointer: OpaquePointer, connection: Connection, sql: String) {
        self.pointer = pointer
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(pointer) }

    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
    }

    func bind(_ values: [SQLValue]) throws(DatabaseError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let number): code = sqlite3_bind_int64(pointer, index, number)
            case .real(let number): code = sqlite3_bind_double(pointer, index, number)
            case .null: code = sqlite3_bind_null(pointer, index)
            case .text(let text) where text.isEmpty:
                // Not through withUTF8: an empty buffer may have no address, and a null one binds NULL.
                code = colt_sqlite3_bind_text(pointer, index, "", 0)
            case .text(var text):
                // SQLite copies the bytes (SQLITE_TRANSIENT); the length keeps an embedded NUL.
                code = text.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { colt_sqlite3_bind_text(pointer, index, $0.baseAddress, Int32($0.count)) }
                }
            }
            if code != SQLITE_OK {
                throw DatabaseError(code: code, path: connection.path, message: String(cString: sqlite3_errmsg(connection.handle)), sql: sql)
            }
        }
    }

    /// Advances to the next row; `false` when the statement is done.
    func step() throws(DatabaseError) -> Bool {
        switch sqlite3_step(pointer) {
        case SQLITE_ROW: return true
        case SQLITE_DONE:
            sqlite3_reset(pointer)
            return false
        case let code:
            let message = String(cString: sqlite3_errmsg(connection.handle))
            sqlite3_reset(pointer)
            throw DatabaseError(code: code, path: connection.path, message: message, sql: sql)
        }
    }
}

/// The current row of a query, read by column index.
public struct Row {
    fileprivate let statement: Statement

    /// The column as an integer (0 for NULL).
    public func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement.pointer, column) }

    /// The column as an `Int` (0 for NULL).
    public func int(_ column: Int32) -> Int { Int(integer(column)) }

    /// The column as a floating-point number (0 for NULL).
    public func double(_ column: Int32) -> Double { sqlite3_column_double(statement.pointer, column) }

    /// The column as text, `nil` for NULL.
    /// Reads every byte SQLite holds (an embedded NUL included, so that validation sees it
    /// instead of a shortened value); invalid UTF-8 is replaced.
    public func text(_ column: Int32) -> String? {
        guard sqlite3_column_type(statement.pointer, column) != SQLITE_NULL,
              let bytes = sqlite3_column_text(statement.pointer, column)
        else { return nil }
        let count = Int(sqlite3_column_bytes(statement.pointer, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Whether the column is NULL.
    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement.pointer, column) == SQLITE_NULL }
}
