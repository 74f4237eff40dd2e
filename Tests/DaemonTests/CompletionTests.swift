import ColtSandbox
import Foundation
import Testing
import TestSupport

/// Invariant 10 on the real binary: every in_progress order is followed through Colt's (sparse)
/// inventory until it completes or is flagged, and a restart resumes the following.
@Suite(.serialized) struct CompletionTests {
    static let tracking = ["COLT_ORDERS_TRACKING_CHECK_INTERVAL": "1"]

    static func sandbox(_ numbers: [String], completion: Duration?, shape: NumberShape = .minimal,
                        overrides: [String: NumberStatus] = [:]) async throws -> DaemonHarness {
        try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.trackingIDMode = .ignore
            $0.numberShape = shape
            $0.completionDelay = completion
            $0.completionOverrides = overrides
        }
    }

    /// `drain --until-completed` follows the orders until Colt's inventory shows them done, and
    /// records when, Colt's words, and every number's final status.
    @Test(arguments: NumberShape.allCases)
    func ordersReachCompleted(shape: NumberShape) async throws {
        let numbers = londonNumbers(12)
        let harness = try await Self.sandbox(numbers, completion: .milliseconds(1500), shape: shape)
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(Array(numbers.prefix(2))) + [("return", "GB", numbers[2], numbers[11], "ANH")])
            let process = try harness.launch("drain", environment: Self.tracking, name: "drain", extra: ["--until-completed"])
            let status = try await process.wait(timeout: .seconds(60))
            #expect(status == 0, "\(process.stderr.suffix(2000))")
            let rows = try harness.rows("SELECT state, order_status, completed_at IS NOT NULL, attention IS NULL FROM requests ORDER BY id")
            #expect(rows == Array(repeating: ["completed", "Completed", "1", "1"], count: 3), "\(rows)")
            #expect(try harness.rows("SELECT request_id, first_number, last_number, numbers, status, expected FROM order_numbers ORDER BY request_id") == [
                ["1", numbers[0], numbers[0], "1", "Quarantined", "1"],
                ["2", numbers[1], numbers[1], "1", "Quarantined", "1"],
                ["3", numbers[2], numbers[11], "10", "Quarantined", "1"],
            ])
            #expect(try harness.value("SELECT count(*) FROM attempts WHERE outcome = 'completed'") == "3", "each completion is journaled")
            #expect(process.stderr.contains("order completed"))
        }
    }

    /// A daemon killed while it follows orders: the next one picks the following up from the
    /// database and the orders complete.
    @Test func aRestartResumesTracking() async throws {
        let numbers = londonNumbers(3)
        let harness = try await Self.sandbox(numbers, completion: .seconds(3))
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let first = try harness.launch("run", environment: Self.tracking, name: "first")
            try await eventually("the orders are accepted and checked") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress' AND checked_at IS NOT NULL") == "3"
            }
            first.signal(SIGKILL)
            _ = try await first.wait()
            #expect(try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress' AND next_check_at IS NOT NULL") == "3")
            let second = try harness.launch("run", environment: Self.tracking, name: "second")
            defer { second.signal(SIGKILL) }
            try await eventually(timeout: .seconds(30), "the orders complete") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'completed'") == "3"
            }
            second.signal(SIGTERM)
            #expect(try await second.wait() == 0)
            #expect(await harness.sandbox.orders().count == 3)
        }
    }

    /// An order still in progress past tracking.stall_after is flagged once: the row, the
    /// attention view, `status`, and one log line. Drain --until-completed ends on a flagged row.
    @Test func aStalledOrderIsFlagged() async throws {
        let numbers = londonNumbers(1)
        let harness = try await Self.sandbox(numbers, completion: nil)
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let process = try harness.launch("drain", environment: Self.tracking.merging(["COLT_ORDERS_TRACKING_STALL_AFTER": "2"]) { $1 },
                                             name: "drain", extra: ["--until-completed"])
            #expect(try await process.wait(timeout: .seconds(60)) == 0, "\(process.stderr.suffix(2000))")
            let row = try #require(try harness.rows("SELECT state, attention FROM requests").first)
            #expect(row[0] == "in_progress")
            #expect(row[1].hasPrefix("stalled: order ORD-"), "\(row)")
            #expect(process.stderr.components(separatedBy: "order stalled").count == 2, "one log line")
            #expect(try harness.value("SELECT count(*) FROM ledger_attention WHERE reason LIKE 'stalled%'") == "1")
            let status = try run(builtBinary(), ["status", "--database", harness.database])
            #expect(status.stdout.contains("stalled orders      1"), "\(status.stdout)")
            #expect(try harness.value("SELECT count(*) FROM attempts WHERE outcome = 'stalled'") == "1")
        }
    }

    /// A number that ends where the action does not lead is recorded and flagged.
    @Test func anUnexpectedFinalStatusIsFlagged() async throws {
        let numbers = londonNumbers(2)
        let harness = try await Self.sandbox(numbers, completion: .milliseconds(500), overrides: [numbers[1]: .activated])
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert([("return", "GB", numbers[0], numbers[1], "ANH")])
            let process = try harness.launch("drain", environment: Self.tracking, name: "drain", extra: ["--until-completed"])
            #expect(try await process.wait(timeout: .seconds(60)) == 0, "\(process.stderr.suffix(2000))")
            let row = try #require(try harness.rows("SELECT state, attention FROM requests").first)
            #expect(row[0] == "completed")
            #expect(row[1].contains("unexpected final status") && row[1].contains("\(numbers[1]): Activated"), "\(row)")
            #expect(try harness.rows("SELECT first_number, status, expected FROM order_numbers ORDER BY first_number") == [
                [numbers[0], "Quarantined", "1"], [numbers[1], "Activated", "0"],
            ])
            #expect(process.stderr.contains("numbers ended in an unexpected status"))
            let status = try run(builtBinary(), ["status", "--database", harness.database])
            #expect(status.stdout.contains("unexpected final    1"), "\(status.stdout)")
        }
    }
}
