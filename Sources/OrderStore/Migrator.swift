import Foundation

/// One schema change, from `migrations/NNNN_name.sql`, embedded in the binary at build time.
public struct Migration: Sendable {
    /// The number the file name starts with; migrations apply in this order.
    public let version: Int
    /// The file name without `.sql`.
    public let name: String
    /// The file's SQL.
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// FNV-1a 64 of the SQL: enough to notice that an applied migration's file was edited.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Every migration this binary carries.
    public static var all: [Migration] { embedded }
}

/// Brings a database's schema up to date, in one transaction, recording each migration's
/// version and checksum in `schema_migrations`.
public enum Migrator {
    /// What ``migrate(_:migrations:)`` did.
    public struct Report: Sendable, Equatable {
        /// Versions applied now.
        public var applied: [Int]
        /// The schema version afterwards.
        public var version: Int
        /// Indexes the daemon's queries name that were missing (dropped by hand) and were made
        /// again from their migration.
        public var restoredIndexes: [String] = []
    }

    /// The indexes the daemon's queries name (`INDEXED BY`). SQLite refuses to run a query whose
    /// named index is missing, so one dropped by hand would stop every claim, or every check
    /// of an order; ``migrate(_:migrations:)`` makes any that is missing again.
    public static let namedIndexes = [
        "requests_created", "requests_due", "requests_tracking", "requests_state",
        "requests_submitting_ends", "requests_retrying_ends", "requests_reconciling_ends",
    ]

    /// Applies the migrations the database lacks.
    ///
    /// Foreign keys are off while they run (SQLite's way to rebuild a table that others
    /// reference, without its `DROP` cascading), and checked before the transaction commits.
    ///
    /// - Throws: ``DatabaseError`` when the database is newer than this binary, or when an
    ///   applied migration's SQL differs from the one this binary carries.
    @discardableResult
    public static func migrate(_ connection: Connection, migrations: [Migration] = Migration.all) throws -> Report {
        try connection.execute("PRAGMA foreign_keys = OFF")
        defer { try? connection.execute("PRAGMA foreign_keys = ON") }
        return try connection.transaction(.immediate) {
            // Another application's database is left alone: its tables are named, and nothing is added.
            let ours = try connection.first("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", [], { _ in true }) != nil
            let tables = try connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") { $0.text(0) ?? "" }
            if !ours, !tables.isEmpty {
                throw DatabaseError(
                    path: connection.path,
                    message: "not a colt-orders database: it already holds other tables (\(tables.prefix(5).joined(separator: ", "))\(tables.count > 5 ? ", …" : "")) and no schema_migrations; nothing was changed. Point database.path at a new file, or at an existing colt-orders database")
            }
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT NOT NULL,
                    checksum   TEXT NOT NULL,
                    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                )
                """)
            let applied = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version") {
                (version: $0.int(0), name: $0.text(1) ?? "", checksum: $0.text(2) ?? "")
            }
            let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
            let newest = migrations.map(\.version).max() ?? 0
            for row in applied {
                guard let migration = known[row.version] else {
                    throw DatabaseError(
                        path: connection.path,
                        message: "the database has schema version \(row.version) (\(row.name)), newer than this colt-orders knows (\(newest)); run a newer colt-orders, or restore a backup made for this version")
                }
                if migration.checksum != row.checksum {
                    throw DatabaseError(
                        path: connection.path,
                        message: "migration \(row.version) (\(row.name)) was applied with checksum \(row.checksum), but this binary's migrations/\(migration.name).sql has \(migration.checksum): an applied migration must never be edited; add a new migration instead")
                }
            }
            let done = Set(applied.map(\.version))
            var report = Report(applied: [], version: applied.map(\.version).max() ?? 0)
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(migration.version) {
                do {
                    try connection.execute(migration.sql)
                } catch let error as DatabaseError {
                    throw DatabaseError(code: error.code, path: connection.path, message: "migration \(migration.name).sql failed: \(error.message)")
                }
                try connection.run(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    [.integer(Int64(migration.version)), .text(migration.name), .text(migration.checksum)])
                report.applied.append(migration.version)
                report.version = migration.version
            }
            report.restoredIndexes = try restoreNamedIndexes(connection, migrations: migrations)
            if !report.applied.isEmpty, let broken = try connection.first("PRAGMA foreign_key_check", [], { $0.text(0) ?? "?" }) {
                throw DatabaseError(path: connection.path, message: "the migrations left rows in \(broken) that point at missing rows; nothing was changed")
            }
            return report
        }
    }

    /// Makes each of ``namedIndexes`` that is missing again, from the last migration that
    /// creates it (the migrations stay the one source of the schema); returns their names.
    private static func restoreNamedIndexes(_ connection: Connection, migrations: [Migration]) throws -> [String] {
        let present = Set(try connection.query("SELECT name FROM sqlite_master WHERE type = 'index'") { $0.text(0) ?? "" })
        var restored: [String] = []
        for name in namedIndexes where !present.contains(name) {
            let statement = migrations.sorted { $0.version > $1.version }.lazy.compactMap { createStatement(of: name, in: $0.sql) }.first
            guard let statement else { continue }
            try connection.execute(statement)
            restored.append(name)
        }
        return restored
    }

    /// The `CREATE INDEX name ...;` statement in `sql`, if any.
    static func createStatement(of index: String, in sql: String) -> String? {
        guard let start = sql.range(of: "CREATE INDEX \(index) ON ")?.lowerBound,
              let end = sql[start...].firstIndex(of: ";")
        else { return nil }
        return String(sql[start...end])
    }
}
