import ColtSandbox
import Foundation
import OrderStore
import Testing
import TestSupport

/// One injected fault per test, on the real binary, each asserting the row's final state, the
/// journal's outcomes, that every attempt carried the row's one tracking id, and that the
/// sandbox holds at most one order (exactly the recorded one when the row was accepted).
///
/// Faults covered elsewhere and not repeated here: wrong credentials
/// (`CrashAndLifecycleTests.wrongCredentialsPauseSubmissionsAndSpendNoAttempts`), a token expiring
/// mid-run (`CrashAndLifecycleTests.anExpiredTokenIsRenewedWithoutSpendingAnAttempt`), an
/// untrusted certificate (`TLSTests.aPrivateCAIsTrustedOnlyThroughTheCAFile`), the wait a 429's
/// `Retry-After` imposes (`PolicyTests.retryAfterIsHonoured`), and the sequence of hostile
/// answers on one row (`InvariantTests.hostileAnswersAreJournaledAndRetried`).
@Suite(.serialized) struct FaultMatrixTests {
    /// A fault that fires once on the order endpoint, and what the ledger must say afterwards.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var rules: @Sendable () -> [FaultRule]
        var mode: TrackingIDMode = .replay
        var environment: [String: String] = [:]
        /// The journal's outcomes, in order; an entry "a|b" accepts either.
        var outcomes: [String]
        /// Another journal that is also right (libcurl resending by itself on a dead reused connection).
        var orOutcomes: [String]? = nil
        /// The least time between the failed attempt's end and the next attempt's start.
        var minimumWait: Double = 0
        var testDescription: String { "\(name) (\(mode.rawValue))" }
    }

    static let httpDateFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter
    }()

    static func httpDate(_ offset: TimeInterval) -> String {
        httpDateFormatter.string(from: Date().addingTimeInterval(offset))
    }

    /// After an answer that may hide an order, the journal shows the inventory read
    /// (`reconciled`) before anything is sent again: the order is adopted when it exists, and the
    /// row is sent again with its tracking id when it does not.
    static let cases: [Case] = [
        Case(name: "500", rules: { [.status(500, times: 1)] }, outcomes: ["server_error", "reconciled", "accepted"]),
        // 503's Retry-After is a per-row wait, capped by retry.max_delay: raise the cap to see it.
        Case(name: "503 with Retry-After: 2", rules: { [.status(503, retryAfter: "2", times: 1)] },
             environment: ["COLT_ORDERS_RETRY_MAX_DELAY": "10"], outcomes: ["server_error", "reconciled", "accepted"], minimumWait: 1.9),
        Case(name: "429 with Retry-After in seconds", rules: { [.status(429, retryAfter: "1", times: 1)] },
             environment: ["COLT_ORDERS_RETRY_MAX_DELAY": "10"], outcomes: ["throttled", "accepted"], minimumWait: 0.9),
        // An HTTP date is a moment, not a wait (checked below: the retry starts no earlier); 3 s
        // from the harness's start, whole seconds, so it is still ahead when the 429 comes.
        Case(name: "429 with Retry-After as an HTTP date", rules: { [.status(429, retryAfter: httpDate(3), times: 1)] },
             environment: ["COLT_ORDERS_RETRY_MAX_DELAY": "10"], outcomes: ["throttled", "accepted"], minimumWait: 0.001),
        Case(name: "a hang past the request timeout", rules: { [.fault(.hang, times: 1)] },
             environment: ["COLT_ORDERS_API_REQUEST_TIMEOUT": "3"], outcomes: ["timeout", "reconciled", "accepted"], minimumWait: 0),
        // The order exists: adopted from the inventory, never sent again, in either mode.
        Case(name: "order created, then 504", rules: { [.fault(.createThen504, times: 1)] }, mode: .replay,
             outcomes: ["server_error", "reconciled"]),
        Case(name: "order created, then 504", rules: { [.fault(.createThen504, times: 1)] }, mode: .ignore,
             outcomes: ["server_error", "reconciled"]),
        // The drop happens on the connection the token request opened: libcurl may resend on it
        // by itself, within the one attempt, and get the replay (or, ignoring tracking ids, a
        // refusal that the inventory read then turns into the order it shows).
        Case(name: "order created, then the connection dropped", rules: { [.fault(.createThenDrop, times: 1)] }, mode: .replay,
             outcomes: ["connection_lost", "reconciled"], orOutcomes: ["accepted"]),
        Case(name: "order created, then the connection dropped", rules: { [.fault(.createThenDrop, times: 1)] }, mode: .ignore,
             outcomes: ["connection_lost", "reconciled"], orOutcomes: ["rejected", "reconciled"]),
        Case(name: "a 10 MB response body", rules: { [.fault(.hugeBody, times: 1)] }, outcomes: ["bad_response", "reconciled", "accepted"]),
        Case(name: "invalid JSON", rules: { [.fault(.invalidJSON, times: 1)] }, outcomes: ["bad_response", "reconciled", "accepted"]),
        Case(name: "an HTML page from a gateway", rules: { [.fault(.html, times: 1)] }, outcomes: ["server_error", "reconciled", "accepted"]),
        Case(name: "a 2xx without an order id", rules: { [.fault(.noOrderID, times: 1)] }, outcomes: ["bad_response", "reconciled", "accepted"]),
    ]

    /// The row's final state, its journal, one tracking id, at most one order.
    static func expectOneRow(_ harness: DaemonHarness, state: String, outcomes: [String], orOutcomes: [String]? = nil,
                             attempts: Int? = nil) async throws {
        let row = try #require(try harness.rows("SELECT state, tracking_id, coalesce(order_id, ''), attempts, range_start FROM requests").first)
        #expect(row[0] == state, "final state: \(row)")
        if let attempts { #expect(row[3] == "\(attempts)", "attempts spent: \(row)") }
        let journal = try harness.rows("SELECT outcome, tracking_id, coalesce(http_status, ''), detail FROM attempts ORDER BY id")
        let expected = journal.count == orOutcomes?.count ? orOutcomes! : outcomes
        #expect(journal.count == expected.count, "journal: \(journal)")
        for (entry, expected) in zip(journal, expected) {
            #expect(expected.split(separator: "|").map(String.init).contains(entry[0]), "outcome \(entry) is not \(expected); journal: \(journal)")
        }
        #expect(Set(journal.map { $0[1] }) == [row[1]], "every journaled attempt carried the row's tracking id")
        let received = Set(await harness.sandbox.receivedTrackingIDs(path: orderPath))
        #expect(received.isSubset(of: [row[1]]), "the sandbox saw only the row's tracking id: \(received)")
        let orders = await harness.sandbox.orders(forNumber: row[4])
        #expect(orders.count <= 1, "at most one order: \(orders)")
        if state == "in_progress" {
            #expect(orders.map(\.id) == [row[2]], "the sandbox holds exactly the recorded order")
            #expect(orders.map(\.trackingID) == [row[1]])
        }
    }

    @Test(arguments: cases)
    func aFaultOnTheOrderEndpoint(_ fault: Case) async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.trackingIDMode = fault.mode
            $0.faults = fault.rules()
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let (status, log) = try await harness.drain(environment: fault.environment)
            #expect(status == 0, "\(log.suffix(2000))")
            // Every case ends accepted: the order the inventory shows is adopted, or the resend succeeds.
            try await Self.expectOneRow(harness, state: "in_progress", outcomes: fault.outcomes, orOutcomes: fault.orOutcomes)
            #expect(await harness.sandbox.stats().faultsFired.values.reduce(0, +) >= 1, "the fault fired")
            if fault.minimumWait > 0 {
                let spans = try harness.rows("SELECT started_at, ended_at FROM attempts ORDER BY id")
                let retried = try #require(Timestamp.date(spans[1][0]))
                let waited = retried.timeIntervalSince(try #require(Timestamp.date(spans[0][1])))
                #expect(waited >= fault.minimumWait, "waited \(waited) s before the retry")
                // Timestamps have milliseconds: allow for their rounding.
                if let date = harness.sandboxConfiguration.faults.compactMap(\.retryAfter).compactMap(Self.httpDateFormatter.date(from:)).first {
                    #expect(retried >= date.addingTimeInterval(-0.002), "retried at \(retried), before the Retry-After date \(date)")
                }
            }
        }
    }

    /// The token endpoint answers 503 for a while: nothing is sent, no attempt is spent, the
    /// daemon says why, and the row goes through once tokens come back.
    @Test func theTokenEndpointDown() async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.status(503, path: .token)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run")
            defer { daemon.signal(SIGKILL) }
            try await eventually("the token endpoint was asked several times") {
                await harness.sandbox.requestCount(path: "/authentication/v1/oauth/token") >= 3
            }
            #expect(daemon.stderr.contains("cannot get a token from Colt"), "\(daemon.stderr.suffix(2000))")
            #expect(try harness.value("SELECT state || ':' || attempts FROM requests") == "queued:0", "no attempt spent")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 0)
            await harness.sandbox.setFaults([])
            try await eventually("the row is accepted") { try harness.value("SELECT state FROM requests") == "in_progress" }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
            try await Self.expectOneRow(harness, state: "in_progress", outcomes: ["accepted"], attempts: 1)
        }
    }

    /// A host that does not resolve and a port nobody listens on: no token, so nothing is sent
    /// and no attempt spent; the daemon says why, keeps running, and stops cleanly.
    @Test(arguments: ["https://colt-orders-test.invalid", "http://127.0.0.1:1"])
    func anUnreachableAPI(baseURL: String) async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(londonNumbers(1)))
            var arguments = harness.arguments("run")
            arguments[arguments.firstIndex(of: "--base-url")! + 1] = baseURL
            let daemon = try DaemonProcess(arguments: arguments, environment: DaemonHarness.fastEnvironment, directory: harness.directory)
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon reports it cannot reach Colt") { daemon.stderr.contains("cannot get a token from Colt") }
            try await Task.sleep(for: .milliseconds(500))
            let line = daemon.stderr.split(separator: "\n").first { $0.contains("cannot get a token") }.map(String.init) ?? ""
            let words = baseURL.contains(".invalid") ? ["resolve", "host"] : ["connect", "refused"]
            #expect(words.contains { line.lowercased().contains($0) }, "the error says why: \(line)")
            #expect(try harness.value("SELECT state || ':' || attempts FROM requests") == "queued:0")
            #expect(try harness.value("SELECT count(*) FROM attempts") == "0")
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0, "\(daemon.stderr.suffix(2000))")
        }
    }

    /// Connection refused on the order endpoint itself, with a token in hand: the attempt is
    /// journaled as not sent, the row retries with its tracking id, and goes through once the
    /// API is back (a new sandbox on the same port, whose 401 to the old token is no attempt).
    @Test func connectionRefusedOnTheOrderEndpoint() async throws {
        let numbers = londonNumbers(2)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns([numbers[0]]))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_RETRY_MAX_ATTEMPTS": "1000"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the first row is accepted") { try harness.value("SELECT state FROM requests WHERE id = 1") == "in_progress" }
            await harness.sandbox.shutdown()
            try harness.insert(returns([numbers[1]]))
            try await eventually("the second row met a refused connection") {
                (Int(try harness.value("SELECT count(*) FROM attempts WHERE request_id = 2")) ?? 0) >= 2
            }
            let refused = try harness.rows("SELECT outcome, detail FROM attempts WHERE request_id = 2 AND ended_at IS NOT NULL ORDER BY id")
            #expect(refused.allSatisfy { $0[0] == "not_sent" }, "\(refused)")
            #expect(refused.allSatisfy { $0[1].lowercased().contains("connect") }, "\(refused)")
            #expect(try harness.value("SELECT state FROM requests WHERE id = 2") != "failed")

            var configuration = harness.sandboxConfiguration
            configuration.port = harness.sandbox.port
            configuration.inventory = activated([numbers[1]])
            configuration.seed = 99   // Colt's order ids are unique: the revived sandbox must not repeat the first one's
            let revived = try await ColtSandbox.start(configuration)
            // Stopped before the test returns, whether it passes or throws.
            let outcome = await Result(running: {
                try await eventually("the second row is accepted") { try harness.value("SELECT state FROM requests WHERE id = 2") == "in_progress" }
                daemon.signal(SIGTERM)
                #expect(try await daemon.wait() == 0)
                let journal = try harness.rows("SELECT outcome, tracking_id FROM attempts WHERE request_id = 2 ORDER BY id")
                #expect(Array(journal.map { $0[0] }.suffix(2)) == ["unauthorized", "accepted"] || journal.last?[0] == "accepted", "\(journal)")
                #expect(Set(journal.map { $0[1] }).count == 1, "one tracking id: \(journal)")
                let tracking = try harness.value("SELECT tracking_id FROM requests WHERE id = 2")
                #expect(await revived.orders(forNumber: numbers[1]).map(\.trackingID) == [tracking])
            })
            await revived.shutdown()
            try outcome.get()
        }
    }
}
