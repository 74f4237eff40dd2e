import ColtSandbox
import Foundation
import Testing
import TestSupport

/// Invariant 9 on the real binary, against the sparse Colt: the sandbox does not replay tracking
/// ids and its inventory answer holds only the number, its `resourceStatus` and the running
/// order's id. One test per branch of the reconciliation of an unknown outcome.
@Suite(.serialized) struct ReconciliationTests {
    static func sparse(_ numbers: [String], faults: [FaultRule], completion: Duration? = nil) async throws -> DaemonHarness {
        try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.trackingIDMode = .ignore
            $0.numberShape = .minimal
            $0.faults = faults
            $0.completionDelay = completion
        }
    }

    func journal(_ harness: DaemonHarness) throws -> [String] {
        try harness.rows("SELECT outcome FROM attempts ORDER BY id").map { $0[0] }
    }

    /// The order was made and its answer lost: every number carries one order no other row
    /// holds, so it is the row's. Nothing is sent again (a resend would be refused, 409, and the
    /// row recorded rejected while its order runs at Colt).
    @Test(arguments: [FaultRule.Kind.createThen504, .createThenDrop])
    func anOrderOnTheNumbersIsAdopted(fault: FaultRule.Kind) async throws {
        let numbers = londonNumbers(3)
        let harness = try await Self.sparse(numbers, faults: [.fault(fault, times: 1)])
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert([("return", "GB", numbers[0], numbers[2], "ANH")])
            let (status, log) = try await harness.drain()
            #expect(status == 0, "\(log.suffix(2000))")
            let row = try #require(try harness.rows("SELECT state, order_id, order_status, tracking_id FROM requests").first)
            let orders = await harness.sandbox.orders()
            #expect(orders.count == 1)
            let entries = try journal(harness)
            #expect(row[0] == "in_progress", "\(row) \(entries)")
            #expect(row[1] == orders.first?.id, "the order Colt made is the row's")
            #expect(row[3] == orders.first?.trackingID)
            let journal = try journal(harness)
            // The last entry is the inventory read (after the lost answer, or after the refusal of the
            // copy libcurl resent by itself on the dropped connection).
            #expect(journal.last == "reconciled", "\(journal)")
            let evidence = try harness.value("SELECT evidence FROM attempts WHERE outcome = 'reconciled' ORDER BY id DESC LIMIT 1")
            #expect(evidence.contains("\"answered\":3") && evidence.contains(orders.first!.id), "the journal keeps what Colt showed: \(evidence)")
            #expect(try harness.value("SELECT count(*) FROM order_numbers WHERE order_id = '\(orders.first!.id)'") == "1", "one run of three numbers")
            if fault == .createThen504 {
                #expect(await harness.sandbox.requestCount(path: orderPath) == 1, "never sent again")
            }
            #expect(log.contains("it is this row's order"), "one log line says why")
        }
    }

    /// The order was made and already completed when the inventory is read: the numbers show
    /// where the return leads and carry no order, so the work is done, never `rejected`.
    @Test func numbersAlreadyMovedAreDone() async throws {
        let numbers = londonNumbers(1)
        let harness = try await Self.sparse(numbers, faults: [.fault(.createThen504, times: 1)], completion: .zero)
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let (status, log) = try await harness.drain()
            #expect(status == 0, "\(log.suffix(2000))")
            let row = try #require(try harness.rows("SELECT state, coalesce(order_id, 'none'), order_status, completed_at IS NOT NULL FROM requests").first)
            let entries = try journal(harness)
            #expect(row == ["completed", "none", "Completed", "1"], "\(row) \(entries)")
            #expect(try journal(harness) == ["server_error", "reconciled"])
            let words = try harness.value("SELECT detail FROM attempts WHERE outcome = 'reconciled'")
            #expect(words.contains("the work is done") && words.contains("Quarantined"), "how it was established: \(words)")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 1)
        }
    }

    /// Nothing was made (a 500 that was not processed): the numbers are where they were and
    /// carry no order, so the row is sent again with its own tracking id.
    @Test func numbersWhereTheyWereAreSentAgain() async throws {
        let numbers = londonNumbers(1)
        let harness = try await Self.sparse(numbers, faults: [.status(500, times: 1)])
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            #expect(try await harness.drain().status == 0)
            #expect(try journal(harness) == ["server_error", "reconciled", "accepted"])
            let received = await harness.sandbox.receivedTrackingIDs(path: orderPath)
            #expect(received.count == 2 && Set(received).count == 1, "the same tracking id: \(received)")
            #expect(try harness.value("SELECT state FROM requests") == "in_progress")
            #expect(await harness.sandbox.orders().count == 1)
        }
    }

    /// The inventory cannot be read: nothing is sent while it cannot, the row shows as
    /// awaiting reconciliation, and the order is adopted once the inventory answers.
    @Test func aFailingLookupSendsNothing() async throws {
        let numbers = londonNumbers(1)
        let harness = try await Self.sparse(numbers, faults: [.fault(.createThen504, times: 1), .status(503, path: .number)])
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_RETRY_MAX_AGE": "600"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("several lookups failed") {
                (Int(try harness.value("SELECT lookups FROM requests")) ?? 0) >= 3
            }
            #expect(try harness.value("SELECT state FROM requests") == "reconciling")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 1, "nothing sent while the inventory cannot tell")
            #expect(try harness.value("SELECT count(*) FROM ledger_attention WHERE reason LIKE 'awaiting reconciliation%'") == "1")
            #expect(daemon.stderr.contains("awaiting reconciliation"), "one log line says so")
            await harness.sandbox.setFaults([])
            try await eventually("the order is adopted") { try harness.value("SELECT state FROM requests") == "in_progress" }
            #expect(try harness.value("SELECT order_id FROM requests") == (await harness.sandbox.orders()).first?.id)
            #expect(await harness.sandbox.requestCount(path: orderPath) == 1)
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }

    /// The numbers carry an order another row holds: never adopted, never sent; past
    /// retry.max_age the row is `unresolved`, saying what is known and what to do.
    @Test func anotherRowsOrderLeavesItUnresolved() async throws {
        let numbers = londonNumbers(1)
        let harness = try await Self.sparse(numbers, faults: [])
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            #expect(try await harness.drain().status == 0)
            let first = try harness.value("SELECT order_id FROM requests WHERE id = 1")
            // A second request for the same number meets a 503 whose outcome is unknown.
            try harness.insert([("reactivate", "GB", numbers[0], nil, "ANH")])
            await harness.sandbox.setFaults([.status(503, path: .reactivate, times: 1)])
            let (status, log) = try await harness.drain(environment: ["COLT_ORDERS_RETRY_MAX_AGE": "1.5"])
            #expect(status == 0, "\(log.suffix(2000))")
            let row = try #require(try harness.rows("SELECT state, coalesce(order_id, ''), attention FROM requests WHERE id = 2").first)
            #expect(row[0] == "unresolved", "\(row)")
            #expect(row[1] == "", "the other row's order is not taken")
            #expect(row[2].contains("request 1 holds") && row[2].contains(first), "what is known: \(row[2])")
            #expect(row[2].contains("colt-orders cancel 2") && row[2].contains("retry --force 2"), "what to do: \(row[2])")
            #expect(await harness.sandbox.requestCount(path: "/numberManagement/v1/reactivate/order") == 1, "never sent again")
            #expect(log.contains("UNRESOLVED"))
            #expect(try harness.value("SELECT count(*) FROM ledger_attention WHERE id = 2 AND state = 'unresolved'") == "1")
            // The operator decides: cancel it.
            let cancelled = try run(builtBinary(), ["cancel", "--database", harness.database, "2"])
            #expect(cancelled.status == 0, "\(cancelled.stderr)")
            #expect(try harness.value("SELECT state FROM requests WHERE id = 2") == "cancelled")
        }
    }
}
