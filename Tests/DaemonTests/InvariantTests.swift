import ColtSandbox
import Foundation
import OrderStore
import Testing
import TestSupport

/// London numbers +442070000000 + i, all Activated under service profile ANH.
func londonNumbers(_ count: Int, from first: Int = 1_000_000) -> [String] {
    (0..<count).map { "+44207" + String(first + $0) }
}

func activated(_ numbers: [String]) -> [InventoryNumber] {
    numbers.map { InventoryNumber(number: $0, country: "GB", serviceProfile: "ANH", status: .activated) }
}

func returns(_ numbers: [String]) -> [(action: String, country: String, start: String, end: String?, profile: String?)] {
    numbers.map { ("return", "GB", $0, nil, "ANH") }
}

let orderPath = "/numberManagement/v1/return/order"

/// The invariants of docs/design.md, each shown on the real binary, a real SQLite file and real HTTP.
@Suite(.serialized) struct InvariantTests {
    @Test func queuedRowsBecomeColtOrdersWithTheirOrderID() async throws {
        let numbers = londonNumbers(3)
        var inventory = activated(numbers)
        inventory.append(InventoryNumber(number: "+4930123456", country: "DE", serviceProfile: nil, status: .quarantined))
        let harness = try await DaemonHarness.start { $0.inventory = inventory }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers) + [("reactivate", "DE", "+4930123456", nil, nil)])

            let (status, log) = try await harness.drain()
            #expect(status == 0, "\(log)")
            let rows = try harness.rows("SELECT id, state, order_id, order_status, tracking_id, attempts FROM requests ORDER BY id")
            #expect(rows.count == 4)
            for row in rows {
                #expect(row[1] == "in_progress", "\(row)")
                #expect(row[3] == "In progress")
                #expect(row[5] == "1")
                let orders = await harness.sandbox.orders(forTrackingID: row[4])
                #expect(orders.map(\.id) == [row[2]], "the sandbox holds exactly this row's order under its tracking id")
                #expect(log.contains("tracking_id=\(row[4])"), "the log names each request's tracking id")
            }
            let reactivation = await harness.sandbox.orders(forNumber: "+4930123456")
            #expect(reactivation.map(\.action) == ["reactivate"])
            #expect(try harness.value("SELECT count(*) FROM attempts WHERE outcome = 'accepted' AND http_status BETWEEN 200 AND 299") == "4")
        }
    }

    /// Invariant 1: the tracking id is committed before the request leaves, and every attempt
    /// (after a 5xx, a timeout, a dropped connection) sends the same one.
    @Test func theTrackingIDIsCommittedFirstAndKeptAcrossRetries() async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.fault(.hang, times: 1)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_API_REQUEST_TIMEOUT": "1.5"])
            defer { daemon.signal(SIGKILL) }

            // While the first request hangs in the sandbox, the database already holds its tracking id.
            try await eventually("the first request reaches the sandbox") {
                await harness.sandbox.receivedTrackingIDs(path: orderPath).count == 1
            }
            let sent = await harness.sandbox.receivedTrackingIDs(path: orderPath)[0]
            #expect(try harness.rows("SELECT state, tracking_id FROM requests") == [["submitting", sent]])

            // Then 500, 503, a dropped connection after the order was made, and success.
            await harness.sandbox.setFaults([.status(500, times: 1), .status(503, retryAfter: "0", times: 1), .fault(.createThenDrop, times: 1)])
            try await eventually("the row is accepted") { try harness.value("SELECT state FROM requests") == "in_progress" }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)

            let received = await harness.sandbox.receivedTrackingIDs(path: orderPath)
            #expect(received.count >= 5, "hang, 500, 503, drop, then the same again (libcurl's own resend, or ours): \(received)")
            #expect(Set(received) == [sent], "every attempt sent the first tracking id")
            #expect(Set(try harness.rows("SELECT tracking_id FROM attempts").map { $0[0] }) == [sent])
            let journal = try harness.rows("SELECT outcome FROM attempts ORDER BY id").map { $0[0] }
            // Each unknown outcome is followed by an inventory read before the next send.
            let outcomes = journal.filter { $0 != "reconciled" }
            #expect(journal.prefix(6) == ["timeout", "reconciled", "server_error", "reconciled", "server_error", "reconciled"], "\(journal)")
            // Every request that reached the sandbox is in the journal: an attempt that libcurl sent
            // twice (a reused connection dropped before any answer) says so.
            let resent = Int(try harness.value("SELECT count(*) FROM attempts WHERE detail LIKE '%libcurl sent this request 2 times%'"))!
            #expect(received.count == outcomes.count + resent, "\(received.count) received, \(outcomes.count) journaled, \(resent) resent by libcurl")
            #expect(journal.last == "accepted" || journal.last == "reconciled", "accepted, or adopted from the inventory after the drop: \(journal)")
            #expect(await harness.sandbox.orders(forNumber: numbers[0]).count == 1, "one order for the number, whatever was retried")
            #expect(try harness.value("SELECT order_id FROM requests") == (await harness.sandbox.orders(forNumber: numbers[0]))[0].id)
        }
    }

    /// Invariant 2: no two rows share a tracking id (the daemon's ids too).
    @Test func noTwoRowsShareATrackingID() async throws {
        let numbers = londonNumbers(50)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            #expect(try await harness.drain().status == 0)
            #expect(try harness.value("SELECT count(DISTINCT tracking_id) || '/' || count(*) FROM requests WHERE state = 'in_progress'") == "50/50")
            let duplicate = try harness.sqlite("INSERT INTO requests (action, country, range_start, tracking_id) VALUES ('return', 'GB', '+442079999999', (SELECT tracking_id FROM requests WHERE id = 1))")
            #expect(duplicate.status != 0)
            #expect(duplicate.stderr.contains("tracking_id"))
        }
    }

    /// Invariant 3: overlapping rows are submitted one at a time in id order; others in parallel.
    @Test func overlappingRangesAreNeverInFlightTogether() async throws {
        let numbers = londonNumbers(20)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers) + [InventoryNumber(number: "+442071000100", country: "GB", serviceProfile: "ANH", status: .activated)]
            $0.faults = [.latency(milliseconds: 300, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            // Row 1 returns numbers 0..9 as a range; row 2 returns number 5 alone (Colt refuses it
            // once 1 moved it, which is fine: what matters is that they never race); row 3 is elsewhere.
            try harness.insert([
                ("return", "GB", numbers[0], numbers[9], "ANH"),
                ("return", "GB", numbers[5], nil, "ANH"),
                ("return", "GB", "+442071000100", nil, "ANH"),
                ("return", "GB", numbers[9], numbers[12], "ANH"),
            ])
            #expect(try await harness.drain().status == 0)
            let spans = try harness.rows("SELECT request_id, started_at, ended_at FROM attempts ORDER BY id")
            func span(_ id: String) throws -> (Date, Date) {
                let row = try #require(spans.first { $0[0] == id })
                return (try #require(Timestamp.date(row[1])), try #require(Timestamp.date(row[2])))
            }
            let (start1, end1) = try span("1"), (start2, _) = try span("2"), (start3, end3) = try span("3"), (start4, _) = try span("4")
            #expect(start2 >= end1, "row 2 overlaps row 1: it starts only after row 1 ended")
            #expect(start4 >= end1, "row 4 overlaps row 1")
            #expect(start3 < end1 && start1 < end3, "row 3 overlaps nothing and went in parallel with row 1")
        }
    }

    /// Invariant 5: one daemon per database.
    @Test func aSecondDaemonOnTheSameDatabaseRefusesToStart() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let first = try harness.launch("run")
            defer { first.signal(SIGKILL) }
            try await eventually("the first daemon has created the database") {
                first.stderr.contains("colt-orders started")
            }
            let started = ContinuousClock.now
            let second = try harness.launch("run", name: "second")
            let status = try await second.wait(timeout: .seconds(10))
            #expect(status == 1)
            #expect(ContinuousClock.now - started < .seconds(5), "it exits at once")
            #expect(second.stderr.contains("already using \(harness.database)"), "\(second.stderr)")
            #expect(second.stderr.contains("pid \(first.pid)"), "it names the running daemon: \(second.stderr)")
            first.signal(SIGTERM)
            #expect(try await first.wait() == 0)
            // Once the first is gone, a new one may start.
            let third = try harness.launch("drain", name: "third")
            #expect(try await third.wait() == 0, "\(third.stderr)")
        }
    }

    /// Invariant 6: no answer from the network crashes the daemon; every attempt is journaled.
    @Test func hostileAnswersAreJournaledAndRetried() async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.trackingIDMode = .replay
            // Rules are tried in order and each fires once: one hostile answer per attempt.
            $0.faults = [.fault(.invalidJSON, times: 1), .fault(.html, times: 1), .fault(.noOrderID, times: 1),
                         .fault(.hugeBody, times: 1), .fault(.createThen504, times: 1)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let (status, log) = try await harness.drain()
            #expect(status == 0, "\(log.suffix(2000))")
            #expect(try harness.value("SELECT state FROM requests") == "in_progress")
            let journal = try harness.rows("SELECT outcome, http_status, length(response_body), detail FROM attempts ORDER BY id")
            #expect(journal.count == 10, "\(journal)")
            // Each hostile answer may hide an order: the inventory is read before the next send, and
            // the order the last one made (then answered 504) is adopted from it.
            #expect(journal.map { $0[0] } == ["bad_response", "reconciled", "server_error", "reconciled", "bad_response", "reconciled",
                                              "bad_response", "reconciled", "server_error", "reconciled"], "\(journal)")
            #expect(journal.allSatisfy { (Int($0[2]) ?? 0) <= 4200 }, "response bodies are capped in the journal")
            #expect(await harness.sandbox.orders(forNumber: numbers[0]).count == 1)
        }
    }

    /// Invariant 7: secrets never appear in logs, the database, or errors.
    @Test func secretsNeverAppearInLogsOrTheDatabase() async throws {
        let numbers = londonNumbers(2)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.clientSecret = "s3cr3t-DO-NOT-LEAK-4711"
            $0.faults = [.fault(.tokenExpired, times: 1), .status(500, times: 1)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let (status, log) = try await harness.drain(environment: ["COLT_ORDERS_LOG_LEVEL": "trace"])
            #expect(status == 0, "\(log)")
            let dump = try run("/usr/bin/sqlite3", [harness.database, ".dump"]).stdout
            for text in [log, dump] {
                #expect(!text.contains("s3cr3t-DO-NOT-LEAK-4711"))
                #expect(!text.contains("Bearer "), "no bearer token")
                #expect(!text.contains("Basic "), "no basic credentials")
            }
            let check = try run(builtBinary(), harness.arguments("check-config"))
            #expect(check.status == 0, "\(check.stderr)")
            #expect(!check.stdout.contains("s3cr3t"), "\(check.stdout)")
        }
    }

    /// Invariant 8, the cause: no transaction is held across a network call. While requests
    /// hang in Colt for 8 s, an operator's INSERT (waiting at most 5 s for the lock) goes through.
    @Test func noTransactionIsHeldAcrossANetworkCall() async throws {
        let numbers = londonNumbers(4)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 8000, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(Array(numbers.prefix(3))))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_API_REQUEST_TIMEOUT": "20"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("three requests are in flight") {
                await harness.sandbox.requestCount(path: orderPath) == 3
            }
            let started = ContinuousClock.now
            let insert = try harness.sqlite("INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '\(numbers[3])', 'ANH')")
            #expect(insert.status == 0, "\(insert.stderr)")
            #expect(ContinuousClock.now - started < .seconds(4), "the INSERT did not wait for the requests in flight")
            let states = try harness.rows("SELECT id, state FROM requests ORDER BY id").map { $0.joined(separator: ":") }
            #expect(states.prefix(3) == ["1:submitting", "2:submitting", "3:submitting"], "the first three were still in flight: \(states)")
        }
    }

    /// Invariant 8: the operator's INSERTs are never refused as locked while the daemon drains.
    @Test func operatorInsertsAreNeverRefusedWhileTheDaemonDrains() async throws {
        let numbers = londonNumbers(600)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(Array(numbers.prefix(400))))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "16"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon is submitting") { try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") != "0" }
            // 200 separate INSERTs, each its own sqlite3 process and transaction, during the drain.
            var refused: [String] = []
            for number in numbers.suffix(200) {
                let result = try harness.sqlite("INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '\(number)', 'ANH')")
                if result.status != 0 { refused.append(result.stderr) }
            }
            #expect(refused.isEmpty, "\(refused.prefix(3))")
            try await eventually(timeout: .seconds(60), "every row is accepted") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "600"
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }
}
