import ColtSandbox
import Foundation
import OrderStore
import Testing
import TestSupport

/// Retry policy, global backoff, rate limit and TLS, on the real binary.
@Suite(.serialized) struct PolicyTests {
    /// The start and end of each order request sent (inventory reads left out).
    func attemptStarts(_ harness: DaemonHarness, request: Int? = nil) throws -> [(Date, Date?)] {
        let filter = request.map { "AND request_id = \($0)" } ?? ""
        return try harness.rows("SELECT started_at, coalesce(ended_at, '') FROM attempts WHERE outcome IS NOT 'reconciled' \(filter) ORDER BY id").map {
            (Timestamp.date($0[0])!, Timestamp.date($0[1]))
        }
    }

    @Test(arguments: ["2", "HTTP-DATE"])
    func retryAfterIsHonoured(form: String) async throws {
        let numbers = londonNumbers(1)
        // An HTTP date has whole seconds, and the daemon takes a moment to start: ask for 4 s
        // from now, so well over a second remains when the 429 arrives.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let value = form == "HTTP-DATE" ? formatter.string(from: Date().addingTimeInterval(4)) : form
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.status(429, retryAfter: value, times: 1)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            // Retry-After is capped by retry.max_delay (0.3 s in the fast test settings): raise it.
            #expect(try await harness.drain(environment: ["COLT_ORDERS_RETRY_MAX_DELAY": "10"]).status == 0)
            let spans = try attemptStarts(harness)
            #expect(spans.count == 2)
            // From the first attempt's start (its end is stamped after recording, which a loaded
            // machine can delay) to the second's: the pause runs from the 429, after the first start.
            let waited = spans[1].0.timeIntervalSince(spans[0].0)
            #expect(waited >= (form == "HTTP-DATE" ? 1.0 : 1.9), "the retry waited for Retry-After (\(value)), not the 50-300 ms backoff: \(waited) s")
            #expect(try harness.value("SELECT state FROM requests") == "in_progress")
        }
    }

    @Test func retriesAreCappedAndTheRowFailsSayingWhy() async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.status(500)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            #expect(try await harness.drain(environment: ["COLT_ORDERS_RETRY_MAX_ATTEMPTS": "3"]).status == 0)
            let row = try #require(try harness.rows("SELECT state, attempts, last_error FROM requests").first)
            #expect(row[0] == "failed")
            #expect(row[1] == "3")
            #expect(row[2].contains("gave up after 3 attempts"), "\(row[2])")
            #expect(row[2].contains("nothing was created") && row[2].contains("HTTP 500"),
                    "a 500's outcome is unknown: the row fails only once the inventory shows no order, and says so: \(row[2])")
            #expect(try harness.value("SELECT count(*) FROM attempts WHERE outcome = 'reconciled'") == "3", "the inventory was read before each resend and before failing")
            // Backoff grows: the gaps between attempts are not all the first delay.
            let spans = try attemptStarts(harness)
            #expect(spans.count == 3)
            let received = await harness.sandbox.receivedTrackingIDs(path: orderPath)
            #expect(Set(received).count == 1)
        }
    }

    @Test func whenTheWholeAPIFailsEverySubmissionWaits() async throws {
        let numbers = londonNumbers(20)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.status(503)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run", environment: [
                "COLT_ORDERS_BACKOFF_FAILURE_THRESHOLD": "3", "COLT_ORDERS_BACKOFF_INITIAL_PAUSE": "1",
                "COLT_ORDERS_BACKOFF_MAX_PAUSE": "1", "COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "2",
            ])
            defer { daemon.signal(SIGKILL) }
            try await Task.sleep(for: .milliseconds(2500))
            let sent = await harness.sandbox.requestCount(path: orderPath)
            // Without the breaker, 20 rows retrying every 50-300 ms would send well over 100.
            #expect(sent <= 10, "the API was failing: the daemon paused instead of spending every row's attempts (\(sent) sent)")
            #expect(daemon.stderr.contains("the Colt API is failing"))
            // The API recovers: the probe succeeds, the breaker closes, everything drains.
            await harness.sandbox.setFaults([])
            try await eventually(timeout: .seconds(20), "every row is accepted") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "20"
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }

    @Test func theRateLimitSpacesRequests() async throws {
        let numbers = londonNumbers(12)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            #expect(try await harness.drain(environment: ["COLT_ORDERS_SUBMIT_RATE_PER_SECOND": "5"]).status == 0)
            let starts = try attemptStarts(harness).map(\.0)
            #expect(starts.count == 12)
            // A burst of 5, then one every 200 ms: the 12th starts at least 7 × 200 ms after the 1st.
            #expect(starts.last!.timeIntervalSince(starts.first!) >= 1.3, "\(starts.last!.timeIntervalSince(starts.first!)) s")
        }
    }
}

/// TLS: verification is always on; a private CA is trusted only through api.ca_file.
@Suite(.serialized) struct TLSTests {
    @Test func aPrivateCAIsTrustedOnlyThroughTheCAFile() async throws {
        let numbers = londonNumbers(2)
        let harness = try await DaemonHarness.start(tls: true) { $0.inventory = activated(numbers) }
        try await harness.inScope {
            let ca = try #require(harness.certificates).ca
            #expect(harness.baseURL.hasPrefix("https://"))
            try harness.createSchema()
            try harness.insert(returns([numbers[0]]))

            // Without the CA file the certificate is not trusted: the token request already fails,
            // so nothing is sent and no row spends an attempt; the daemon says why and waits.
            let untrusted = try harness.launch("run", name: "untrusted")
            try await eventually("the daemon reports the certificate problem") {
                untrusted.stderr.contains("cannot get a token from Colt")
            }
            untrusted.signal(SIGTERM)
            #expect(try await untrusted.wait() == 0)
            let line = untrusted.stderr.split(separator: "\n").first { $0.contains("cannot get a token") }.map(String.init) ?? ""
            #expect(line.lowercased().contains("certificate") || line.contains("SSL") || line.contains("TLS"), "\(line)")
            #expect(await harness.sandbox.orders().isEmpty)
            #expect(await harness.sandbox.requestCount(path: "/authentication/v1/oauth/token") == 0, "the TLS handshake failed before any request")
            #expect(try harness.value("SELECT state || ':' || attempts FROM requests") == "queued:0")
            #expect(try harness.value("SELECT count(*) FROM attempts") == "0")

            // With it, the same row goes through.
            try harness.insert(returns([numbers[1]]))
            let trusted = try harness.launch("drain", environment: ["COLT_ORDERS_API_CA_FILE": ca], name: "trusted")
            #expect(try await trusted.wait() == 0, "\(trusted.stderr.suffix(2000))")
            #expect(try harness.value("SELECT group_concat(state) FROM requests") == "in_progress,in_progress")
        }
    }
}
