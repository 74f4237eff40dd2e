import Foundation
import OrderStore
import Testing
import TestSupport

/// What a careless operator can no longer do to the table through the sqlite3 CLI (issue 10):
/// each refusal names the column and the command to use instead, and changes nothing.
@Suite struct HardenedSchemaTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory("hardened")
        path = directory.file("orders.db")
        let database = try Database(path: path)
        try database.useNow { _ = try Migrator.migrate($0) }
        _ = try sqlite3(path, """
            INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324758');
            INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324759');
            """)
    }

    /// The row as the daemon leaves it after Colt accepted it (the daemon's transitions).
    func accept(_ id: Int, tracking: String) throws {
        let result = try sqlite3(path, """
            UPDATE requests SET state = 'submitting', tracking_id = '\(tracking)' WHERE id = \(id);
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at) VALUES (\(id), 1, '\(tracking)', '2026-12-01T00:00:00.000Z');
            UPDATE requests SET state = 'in_progress', order_id = 'ORD-\(id)', next_check_at = '2026-12-01T01:00:00.000Z' WHERE id = \(id);
            """)
        #expect(result.status == 0, "\(result.stderr)")
    }

    func refused(_ sql: String, _ words: String..., sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try sqlite3(path, "SELECT * FROM requests; SELECT count(*) FROM attempts;").stdout
        let result = try sqlite3(path, sql)
        #expect(result.status != 0, "\(sql) went through", sourceLocation: sourceLocation)
        for word in words { #expect(result.stderr.contains(word), "\(sql): \(result.stderr)", sourceLocation: sourceLocation) }
        #expect(try sqlite3(path, "SELECT * FROM requests; SELECT count(*) FROM attempts;").stdout == before, "nothing changed", sourceLocation: sourceLocation)
    }

    @Test func anAcceptedOrderCannotBeSentAgainNorLost() throws {
        try accept(1, tracking: "t-1")
        try refused("UPDATE requests SET state = 'queued', order_id = NULL WHERE id = 1", "requests.state", "stays in_progress")
        try refused("UPDATE requests SET order_id = 'ORD-OTHER' WHERE id = 1", "requests.order_id")
        try refused("UPDATE requests SET tracking_id = 't-new' WHERE id = 1", "requests.tracking_id", "cannot change once sent")
        try refused("UPDATE requests SET next_check_at = 'garbage' WHERE id = 1", "requests.next_check_at")
    }

    /// Walking around the rules in two steps, or replacing the row, fails too.
    @Test func noTwoStepWalksNorReplacements() throws {
        try accept(1, tracking: "t-1")
        try refused("INSERT OR REPLACE INTO requests (id, action, country, range_start) VALUES (1, 'return', 'GB', '+442081324758')", "requests.id")
        try refused("UPDATE OR REPLACE requests SET id = 1 WHERE id = 2", "requests.id cannot change")
        try refused("UPDATE requests SET state = 'cancelled' WHERE id = 1", "requests.state")
        // A row whose outcome is unknown cannot be made to look known.
        #expect(try sqlite3(path, """
            UPDATE requests SET state = 'submitting', tracking_id = 't-2' WHERE id = 2;
            UPDATE requests SET state = 'reconciling', outcome_unknown = 1, next_attempt_at = '2026-12-01T00:00:00.000Z' WHERE id = 2;
            """).status == 0)
        try refused("UPDATE requests SET state = 'retrying', outcome_unknown = 0 WHERE id = 2", "requests.")
        try refused("UPDATE requests SET outcome_unknown = 0 WHERE id = 2", "requests.outcome_unknown", "retry --force")
        try refused("UPDATE requests SET next_attempt_at = date('now') WHERE id = 2", "requests.next_attempt_at")
        try refused("UPDATE sent_tracking_ids SET tracking_id = 'x' || tracking_id", "cannot change")
    }

    @Test func aQueuedRowCannotPassForAccepted() throws {
        try refused("UPDATE requests SET state = 'in_progress' WHERE id = 1", "requests.state", "colt-orders cancel", "colt-orders retry")
        try refused("UPDATE requests SET state = 'completed', order_id = 'ORD-X' WHERE id = 1", "requests.state")
    }

    @Test(arguments: ["'garbage'", "NULL", "'tomorrow'"])
    func aRetryingRowNeedsATime(value: String) throws {
        #expect(try sqlite3(path, "UPDATE requests SET state = 'submitting', tracking_id = 't-1' WHERE id = 1").status == 0)
        #expect(try sqlite3(path, "UPDATE requests SET state = 'retrying', next_attempt_at = '2026-12-01T00:00:00.000Z' WHERE id = 1").status == 0)
        try refused("UPDATE requests SET next_attempt_at = \(value) WHERE id = 1", "requests.next_attempt_at", "colt-orders retry", "colt-orders cancel")
    }

    @Test func backToQueuedOnlyUnderANewTrackingID() throws {
        #expect(try sqlite3(path, """
            UPDATE requests SET state = 'submitting', tracking_id = 't-1' WHERE id = 1;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at) VALUES (1, 1, 't-1', '2026-12-01T00:00:00.000Z');
            UPDATE requests SET state = 'failed' WHERE id = 1;
            """).status == 0)
        try refused("UPDATE requests SET state = 'queued' WHERE id = 1", "colt-orders retry")
        // What `colt-orders retry` does goes through.
        #expect(try sqlite3(path, "UPDATE requests SET state = 'queued', tracking_id = 't-2' WHERE id = 1").status == 0)
    }

    @Test func aRowColtMayBeWorkingOnCannotBeDeleted() throws {
        #expect(try sqlite3(path, "UPDATE requests SET state = 'submitting', tracking_id = 't-1' WHERE id = 1").status == 0)
        for id in [1, 2] {
            try refused("DELETE FROM requests WHERE id = \(id)", "only settled rows", "colt-orders cancel", "colt-orders prune")
        }
        #expect(try sqlite3(path, "UPDATE requests SET state = 'cancelled' WHERE id = 2; DELETE FROM requests WHERE id = 2").status == 0,
                "a settled row may go")
    }

    @Test func aTrackingIDSentOnceIsNeverUsedAgainEvenAfterPrune() throws {
        #expect(try sqlite3(path, """
            UPDATE requests SET state = 'submitting', tracking_id = 't-1' WHERE id = 1;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at) VALUES (1, 1, 't-1', '2026-12-01T00:00:00.000Z');
            UPDATE requests SET state = 'rejected' WHERE id = 1;
            """).status == 0)
        let pruned = try run(builtBinary(), ["prune", "--older-than", "0d", "--database", path])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(try sqliteValue(path, "SELECT count(*) FROM attempts") == "0")
        try refused("INSERT INTO requests (action, country, range_start, tracking_id) VALUES ('return', 'GB', '+442081324760', 't-1')",
                    "requests.tracking_id", "already used")
        try refused("UPDATE requests SET tracking_id = 't-1' WHERE id = 2", "requests.tracking_id", "already used")
        try refused("DELETE FROM sent_tracking_ids", "cannot be deleted")
    }

    @Test(arguments: [
        ("'＋442081324760'", "range_start must be plain ASCII", "look-alike"),
        ("'+44208132٤760'", "range_start must be plain ASCII", "look-alike"),
        ("X'2B343432303831333234373630'", "range_start must be text", "not a number or a BLOB"),
        ("'+4420813247' || char(0) || '60'", "range_start must not contain a NUL byte", "NUL"),
    ])
    func badTextIsNamedForWhatItIs(_ value: String, _ message: String, _ hint: String) throws {
        try refused("INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', \(value))", "requests.\(message)", hint)
    }

    /// Migration 4 rebuilds `requests`: ids stay never reused, pruned rows' included.
    @Test func idsAreNeverReusedAcrossTheRebuild() throws {
        let old = directory.file("old.db")
        let database = try Database(path: old)
        try database.useNow { db in
            _ = try Migrator.migrate(db, migrations: Array(Migration.all.prefix(3)))
            try db.execute("""
                INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324758');
                INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324759');
                DELETE FROM requests;
                """)
            _ = try Migrator.migrate(db)
            try db.execute("INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324760')")
        }
        #expect(try sqliteValue(old, "SELECT id FROM requests") == "3")
        #expect(try sqliteValue(old, "PRAGMA foreign_key_check") == "")
    }
}
