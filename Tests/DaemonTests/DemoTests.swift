import Foundation
import Testing
import TestSupport

/// The README's main command ends with the ledger it should.
@Suite struct DemoTests {
    @Test func theDemoEndsWithTheExpectedLedger() async throws {
        let directory = try TemporaryDirectory("demo")
        defer { directory.remove() }
        let result = try run(builtBinary(), ["demo", "--directory", directory.path, "--log-level", "warning"])
        #expect(result.status == 0, "\(result.stderr.suffix(3000))")
        let database = directory.file("orders.db")
        let states = try sqlite3(database, "SELECT id || ':' || state FROM requests ORDER BY id").stdout
            .split(separator: "\n").map(String.init)
        #expect(states == [
            "1:in_progress", "2:in_progress", "3:in_progress", "4:in_progress", "5:in_progress", "6:in_progress",
            "7:in_progress", "8:rejected", "9:rejected", "10:rejected", "11:rejected", "12:invalid",
        ])
        #expect(try sqliteValue(database, "SELECT count(*) FROM requests WHERE state = 'in_progress' AND order_id LIKE 'ORD-%' AND order_status = 'In progress'") == "7")
        #expect(try sqliteValue(database, "SELECT count(*) FROM attempts WHERE outcome IN ('server_error', 'throttled')") == "2", "the demo shows one 503 and one 429, retried")
        // The printed ledger and the hints.
        #expect(result.stdout.contains("The ledger"))
        #expect(result.stdout.contains("invalid, never sent: country"))
        #expect(result.stdout.contains("CHECK constraint failed: requests.country"))
        #expect(result.stdout.contains("Try next:"))
        #expect(result.stdout.contains("sqlite3 \(database)"))
    }
}
