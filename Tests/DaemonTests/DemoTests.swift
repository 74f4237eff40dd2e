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
            "1:completed", "2:completed", "3:completed", "4:completed", "5:completed", "6:completed",
            "7:completed", "8:rejected", "9:rejected", "10:rejected", "11:rejected", "12:invalid",
        ])
        // Followed through Colt's (sparse) inventory until every order completed.
        #expect(try sqliteValue(database, "SELECT count(*) FROM requests WHERE state = 'completed' AND order_id LIKE 'ORD-%' AND order_status = 'Completed' AND completed_at IS NOT NULL") == "7")
        #expect(try sqliteValue(database, "SELECT count(*) FROM order_numbers WHERE expected = 1") == "7")
        #expect(try sqliteValue(database, "SELECT count(*) FROM attempts WHERE outcome IN ('server_error', 'throttled')") == "3", "the demo shows a 503, a 429 and a 504, retried or reconciled")
        #expect(try sqliteValue(database, "SELECT count(*) FROM attempts WHERE outcome = 'reconciled' AND detail LIKE '%it is this row''s order%'") == "1",
                "the order whose answer was lost is adopted from the inventory")
        #expect(result.stdout.contains("order status"))
        // The printed ledger and the hints.
        #expect(result.stdout.contains("The ledger"))
        #expect(result.stdout.contains("invalid, never sent: country"))
        #expect(result.stdout.contains("CHECK constraint failed: requests.country"))
        #expect(result.stdout.contains("Try next:"))
        #expect(result.stdout.contains("sqlite3 \(database)"))
    }
}
