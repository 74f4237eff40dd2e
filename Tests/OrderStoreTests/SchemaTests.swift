import ColtModel
import Foundation
import OrderStore
import Testing
import TestSupport

/// The insert-time checks, driven through the real sqlite3 CLI as an operator would.
@Suite struct SchemaTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory("schema")
        path = directory.file("orders.db")
        let database = try Database(path: path)
        try database.useNow { _ = try Migrator.migrate($0) }
    }

    func insert(_ columns: String, _ values: String) throws -> ProcessResult {
        try sqlite3(path, "INSERT INTO requests (\(columns)) VALUES (\(values));")
    }

    /// The code's states and the schema's are the same list: the migrations are the source of
    /// truth, and RequestState must follow them.
    @Test func requestStateIsTheSchemasListOfStates() throws {
        let table = try sqlite3(path, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'requests'").stdout
        let check = try #require(table.range(of: "CHECK (state IN ("), "the requests table checks its state: \(table)")
        let list = table[check.upperBound...].prefix { $0 != ")" }
        let states = list.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "' ")) }
        #expect(Set(states) == Set(RequestState.allCases.map(\.rawValue)))
        #expect(states.count == RequestState.allCases.count)
        #expect(Ledger.terminalStates == ["completed", "rejected", "invalid", "failed", "cancelled"])
    }

    @Test func aValidRowIsAcceptedAndRangeEndDefaultsToRangeStart() throws {
        let result = try insert("action, country, range_start, service_profile", "'return', 'GB', '+442081324758', 'ANH'")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sqliteValue(path, "SELECT state || ' ' || range_end || ' ' || attempts FROM requests") == "queued +442081324758 0")
        let created = try sqliteValue(path, "SELECT created_at FROM requests")
        #expect(Timestamp.date(created) != nil, "created_at is ISO-8601 UTC: \(created)")
        #expect(created.hasSuffix("Z"))
    }

    @Test(arguments: [
        ("'retur', 'GB', '+442081324758', NULL, NULL, NULL", "requests.action"),
        ("NULL, 'GB', '+442081324758', NULL, NULL, NULL", "requests.action"),
        ("'return', 'US', '+442081324758', NULL, NULL, NULL", "requests.country"),
        ("'return', 'gb', '+442081324758', NULL, NULL, NULL", "requests.country"),
        ("'return', 'GB', '442081324758', NULL, NULL, NULL", "requests.range_start"),
        ("'return', 'GB', +442081324758, NULL, NULL, NULL", "requests.range_start"),
        ("'return', 'GB', '+042081324758', NULL, NULL, NULL", "requests.range_start"),
        ("'return', 'GB', '+4420', NULL, NULL, NULL", "requests.range_start"),
        ("'return', 'GB', '+4420813247581234', NULL, NULL, NULL", "requests.range_start"),
        ("'return', 'GB', '+44 2081324758', NULL, NULL, NULL", "requests.range_start"),
        ("'return', 'GB', '+442081324758', '+442081324757', NULL, NULL", "requests.range_end"),
        ("'return', 'GB', '+442081324758', '+4420813247580', NULL, NULL", "requests.range_end"),
        ("'return', 'GB', '+442081324758', '+44208132475x', NULL, NULL", "requests.range_end"),
        ("'return', 'GB', '+442081324758', NULL, '', NULL", "requests.service_profile"),
        ("'return', 'GB', '+442081324758', NULL, 'A B', NULL", "requests.service_profile"),
        ("'return', 'GB', '+442081324758', NULL, NULL, 'has space'", "requests.tracking_id"),
        ("'return', 'GB', '+442081324758', NULL, NULL, ''", "requests.tracking_id"),
        ("'return', 'GB', '+442081324758', NULL, NULL, 'a/b'", "requests.tracking_id"),
    ])
    func aBadRowIsRefusedNamingTheColumn(values: String, column: String) throws {
        let result = try insert("action, country, range_start, range_end, service_profile, tracking_id", values)
        #expect(result.status != 0)
        #expect(result.stderr.contains(column), "\(result.stderr)")
        #expect(try sqliteValue(path, "SELECT count(*) FROM requests") == "0")
    }

    @Test(arguments: ["range_start", "range_end", "service_profile", "tracking_id"])
    func aNULByteIsRefusedNamingTheColumn(column: String) throws {
        // length() and GLOB stop at a NUL, so the CHECKs alone would let '+44…' || char(0) || 'x' in.
        var values = ["range_start": "'+442081324758'", "range_end": "NULL", "service_profile": "NULL", "tracking_id": "NULL"]
        values[column] = column == "range_start" || column == "range_end" ? "'+442081324758' || char(0) || 'x'" : "'ab' || char(0) || 'cd'"
        let result = try insert("action, country, range_start, range_end, service_profile, tracking_id",
                                "'return', 'GB', \(values["range_start"]!), \(values["range_end"]!), \(values["service_profile"]!), \(values["tracking_id"]!)")
        #expect(result.status != 0)
        #expect(result.stderr.contains("requests.\(column) must not contain a NUL byte"), "\(result.stderr)")
    }

    @Test func aTooLongTrackingIDIsRefused() throws {
        let long = String(repeating: "a", count: 256)
        let result = try insert("action, country, range_start, tracking_id", "'return', 'GB', '+442081324758', '\(long)'")
        #expect(result.stderr.contains("requests.tracking_id"))
        let ok = try insert("action, country, range_start, tracking_id", "'return', 'GB', '+442081324758', '\(long.dropLast())'")
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    @Test func newRowsCannotChooseTheirState() throws {
        let result = try insert("action, country, range_start, state", "'return', 'GB', '+442081324758', 'in_progress'")
        #expect(result.stderr.contains("requests.state"), "\(result.stderr)")
    }

    @Test func twoRowsCannotShareATrackingID() throws {
        #expect(try insert("action, country, range_start, tracking_id", "'return', 'GB', '+442081324758', 'op-1'").status == 0)
        let second = try insert("action, country, range_start, tracking_id", "'return', 'GB', '+442081324759', 'op-1'")
        #expect(second.status != 0)
        #expect(second.stderr.contains("requests.tracking_id"), "\(second.stderr)")
    }

    @Test func aTrackingIDOnceSentIsNeverAcceptedAgain() throws {
        #expect(try insert("action, country, range_start, tracking_id", "'return', 'GB', '+442081324758', 'op-1'").status == 0)
        // As after `colt-orders retry`: the row moved on to a new id, the old one stays in the journal.
        _ = try sqlite3(path, """
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at) VALUES (1, 1, 'op-1', '2026-01-01T00:00:00.000Z');
            UPDATE requests SET tracking_id = 'op-2' WHERE id = 1;
            """)
        let again = try insert("action, country, range_start, tracking_id", "'return', 'GB', '+442081324760', 'op-1'")
        #expect(again.status != 0)
        #expect(again.stderr.contains("requests.tracking_id"), "\(again.stderr)")
    }

    @Test func orderFieldsAreFrozenOnceSubmitted() throws {
        #expect(try insert("action, country, range_start", "'return', 'GB', '+442081324758'").status == 0)
        #expect(try sqlite3(path, "UPDATE requests SET country = 'FR' WHERE id = 1").status == 0, "a queued row may still be edited")
        _ = try sqlite3(path, "UPDATE requests SET state = 'submitting' WHERE id = 1")
        let edit = try sqlite3(path, "UPDATE requests SET range_start = '+442081324759', range_end = '+442081324759' WHERE id = 1")
        #expect(edit.status != 0)
        #expect(edit.stderr.contains("cannot change"), "\(edit.stderr)")
    }

    @Test func theJournalIsAppendOnly() throws {
        #expect(try insert("action, country, range_start", "'return', 'GB', '+442081324758'").status == 0)
        _ = try sqlite3(path, "INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome) VALUES (1, 1, 't', 'x', 'y', 'accepted')")
        let edit = try sqlite3(path, "UPDATE attempts SET outcome = 'rejected'")
        #expect(edit.status != 0)
        #expect(edit.stderr.contains("append-only"))
    }
}

@Suite struct MigratorTests {
    @Test func migratesOnceAndRecordsVersionAndChecksum() throws {
        let directory = try TemporaryDirectory("migrate")
        defer { directory.remove() }
        let database = try Database(path: directory.file("orders.db"))
        let first = try database.useNow { try Migrator.migrate($0) }
        #expect(first.applied == Migration.all.map(\.version))
        let second = try database.useNow { try Migrator.migrate($0) }
        #expect(second.applied.isEmpty)
        let recorded = try sqliteValue(directory.file("orders.db"), "SELECT version || ' ' || checksum FROM schema_migrations WHERE version = 1")
        #expect(recorded == "1 \(Migration.all[0].checksum)")
    }

    @Test func anEditedMigrationStopsStartUp() throws {
        let directory = try TemporaryDirectory("migrate")
        defer { directory.remove() }
        let database = try Database(path: directory.file("orders.db"))
        try database.useNow { _ = try Migrator.migrate($0) }
        var edited = Migration.all
        edited[0] = Migration(version: 1, name: edited[0].name, sql: edited[0].sql + "\n-- edited\n")
        #expect {
            try database.useNow { try Migrator.migrate($0, migrations: edited) }
        } throws: { error in
            "\(error)".contains("must never be edited")
        }
    }

    @Test func aNewerDatabaseStopsStartUp() throws {
        let directory = try TemporaryDirectory("migrate")
        defer { directory.remove() }
        let database = try Database(path: directory.file("orders.db"))
        try database.useNow { _ = try Migrator.migrate($0) }
        _ = try sqlite3(directory.file("orders.db"), "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '0999_future', 'x')")
        #expect {
            try database.useNow { try Migrator.migrate($0) }
        } throws: { error in
            "\(error)".contains("newer than this colt-orders")
        }
    }

    @Test func aFailingMigrationLeavesNothingHalfApplied() throws {
        let directory = try TemporaryDirectory("migrate")
        defer { directory.remove() }
        let database = try Database(path: directory.file("orders.db"))
        let broken = Migration.all + [Migration(version: 99, name: "0099_broken", sql: "CREATE TABLE extra (x); SELECT * FROM missing_table;")]
        #expect(throws: DatabaseError.self) { try database.useNow { try Migrator.migrate($0, migrations: broken) } }
        #expect(try sqliteValue(directory.file("orders.db"), "SELECT count(*) FROM sqlite_master WHERE name IN ('requests', 'extra')") == "0")
    }
}
