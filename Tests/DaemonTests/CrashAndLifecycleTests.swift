import ColtSandbox
import Foundation
import OrderStore
import Testing
import TestSupport

@Suite(.serialized) struct CrashAndLifecycleTests {
    /// Invariant 4: `kill -9` at any instant loses no row and never gives a row a second
    /// tracking id; rows left `submitting` resume with their own id. In both of the
    /// sandbox's tracking-id modes, the sandbox ends with exactly one order per row.
    @Test(arguments: TrackingIDMode.allCases)
    func killDashNineDuringSubmissionsLosesAndDuplicatesNothing(mode: TrackingIDMode) async throws {
        let numbers = londonNumbers(150)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.trackingIDMode = mode
            $0.faults = [.latency(milliseconds: 80, path: .order), .fault(.createThenDrop, probability: 0.05)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))

            var kills = 0
            var generator = SystemRandomNumberGenerator()
            while kills < 6, try harness.value("SELECT count(*) FROM requests WHERE state IN ('queued', 'submitting', 'retrying', 'reconciling')") != "0" {
                let daemon = try harness.launch("run", name: "run\(kills)")
                try await Task.sleep(for: .milliseconds(Int64.random(in: 150...600, using: &generator)))
                daemon.signal(SIGKILL)
                _ = try await daemon.wait()
                kills += 1
            }
            let (status, log) = try await harness.drain()
            #expect(status == 0, "\(log.suffix(2000))")
            #expect(kills >= 3, "the daemon was killed mid-drain")

            let rows = try harness.rows("SELECT id, state, tracking_id, order_id FROM requests ORDER BY id")
            #expect(rows.count == numbers.count, "no row lost")
            for row in rows {
                let history = try harness.rows("SELECT outcome, detail FROM attempts WHERE request_id = \(row[0])")
                #expect(row[1] == "in_progress", "every row settled and accepted: \(row) \(history)")
                let journal = Set(try harness.rows("SELECT DISTINCT tracking_id FROM attempts WHERE request_id = \(row[0])").map { $0[0] })
                #expect(journal == [row[2]], "one tracking id per row: \(journal)")
                let orders = await harness.sandbox.orders(forTrackingID: row[2])
                #expect(orders.map(\.id) == [row[3]], "exactly one order, the one recorded, for row \(row[0])")
            }
            #expect(await harness.sandbox.orders().count == numbers.count, "no duplicate orders")
            #expect(try harness.value("SELECT count(*) FROM attempts WHERE outcome = 'interrupted'") != "0" || mode == .ignore,
                    "some kills caught requests in flight")
        }
    }

    /// SIGTERM with requests in flight: they finish, are recorded, and the process exits 0.
    @Test func sigtermLetsRequestsInFlightFinishAndExitsZero() async throws {
        let numbers = londonNumbers(4)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 1500, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run")
            defer { daemon.signal(SIGKILL) }
            try await eventually("requests are in flight") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'submitting'") == "4"
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.stderr)")
            #expect(try harness.rows("SELECT state FROM requests").map { $0[0] } == Array(repeating: "in_progress", count: 4))
            #expect(try harness.value("SELECT count(*) FROM attempts WHERE ended_at IS NULL") == "0")
        }
    }

    /// Requests still unanswered when the daemon stops are interrupted: at the end of the
    /// shutdown grace (SIGTERM), or by a kill (SIGKILL, resumed at the next start). Either way
    /// they are journaled `interrupted`, spend one attempt (one rule for both), and are
    /// reconciled at the next start: the orders Colt made meanwhile are adopted from its
    /// inventory, with no resend.
    @Test(arguments: [SIGTERM, SIGKILL])
    func requestsInterruptedByAStopResumeWithTheirTrackingID(signal: Int32) async throws {
        let numbers = londonNumbers(2)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 10_000, path: .order, times: 2)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SHUTDOWN_GRACE": "0.5", "COLT_ORDERS_API_REQUEST_TIMEOUT": "30"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("both requests are in flight") { await harness.sandbox.requestCount(path: orderPath) == 2 }
            let tracking = try harness.rows("SELECT tracking_id FROM requests ORDER BY id").map { $0[0] }
            let started = ContinuousClock.now
            daemon.signal(signal)
            let status = try await daemon.wait(timeout: .seconds(10))
            if signal == SIGTERM {
                #expect(status == 0, "\(daemon.stderr.suffix(2000))")
                #expect(ContinuousClock.now - started < .seconds(5), "the grace is 0.5 s")
                #expect(try harness.rows("SELECT state, attempts FROM requests ORDER BY id") == [["reconciling", "1"], ["reconciling", "1"]])
                #expect(try harness.rows("SELECT outcome FROM attempts ORDER BY id").map { $0[0] } == ["interrupted", "interrupted"])
            } else {
                #expect(try harness.rows("SELECT state, attempts FROM requests ORDER BY id") == [["submitting", "0"], ["submitting", "0"]])
            }
            // Colt created the orders meanwhile; the next start finds them in the inventory.
            try await eventually("the sandbox finished the slow requests") { await harness.sandbox.orders().count == 2 }
            #expect(try await harness.drain().status == 0)
            #expect(try harness.rows("SELECT state, tracking_id, attempts FROM requests ORDER BY id")
                    == [["in_progress", tracking[0], "1"], ["in_progress", tracking[1], "1"]])
            #expect(try harness.rows("SELECT outcome FROM attempts ORDER BY id").map { $0[0] } == ["interrupted", "interrupted", "reconciled", "reconciled"])
            #expect(await harness.sandbox.requestCount(path: orderPath) == 2, "adopted, not sent again")
            #expect(await harness.sandbox.orders().count == 2, "no second order")
        }
    }

    /// Rows claimed ahead of a free place (the claim window) were never sent: a stop puts them
    /// back as they were, with no journal row and no attempt spent, and they go at the next start
    /// with the tracking id they were given.
    @Test func rowsClaimedAheadArePutBackAtAStop() async throws {
        let numbers = londonNumbers(6)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 10_000, path: .order, times: 2)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try await launchWithTwoInFlightAndTwoClaimedAhead(harness)
            defer { daemon.signal(SIGKILL) }
            let tracking = try harness.rows("SELECT tracking_id FROM requests ORDER BY id").map { $0[0] }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.stderr.suffix(2000))")
            #expect(try harness.rows("SELECT state, attempts, tracking_id IS NOT NULL FROM requests ORDER BY id") == [
                ["reconciling", "1", "1"], ["reconciling", "1", "1"], ["queued", "0", "1"], ["queued", "0", "1"], ["queued", "0", "0"], ["queued", "0", "0"],
            ])
            #expect(try harness.rows("SELECT request_id, outcome FROM attempts ORDER BY id") == [["1", "interrupted"], ["2", "interrupted"]],
                    "no journal row for a request never sent")
            try await eventually("the sandbox finished the slow requests") { await harness.sandbox.orders().count == 2 }
            #expect(try await harness.drain().status == 0)
            #expect(try harness.rows("SELECT state FROM requests").map { $0[0] } == Array(repeating: "in_progress", count: 6))
            #expect(try harness.rows("SELECT tracking_id FROM requests ORDER BY id LIMIT 4").map { $0[0] } == Array(tracking.prefix(4)))
            #expect(await harness.sandbox.requestCount(path: orderPath) == 6, "two adopted, four sent once each")
        }
    }

    /// Starts the daemon with two places in flight at 100 requests a second, so that two more
    /// rows wait claimed ahead, and returns once two are at Colt and four are `submitting`.
    func launchWithTwoInFlightAndTwoClaimedAhead(_ harness: DaemonHarness) async throws -> DaemonProcess {
        let daemon = try harness.launch("run", environment: [
            "COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "2", "COLT_ORDERS_SUBMIT_RATE_PER_SECOND": "100",
            "COLT_ORDERS_SHUTDOWN_GRACE": "0.5", "COLT_ORDERS_API_REQUEST_TIMEOUT": "30",
        ])
        do {
            try await eventually("two rows in flight, two claimed ahead") {
                let sent = await harness.sandbox.requestCount(path: orderPath)
                return try sent == 2 && harness.value("SELECT count(*) FROM requests WHERE state = 'submitting'") == "4"
            }
        } catch {
            daemon.signal(SIGKILL)
            throw error
        }
        return daemon
    }

    /// Rows claimed ahead that waited a second for a place are put back, and are not claimed
    /// ahead again until an answer frees a place: while Colt is slow they stay queued, so an
    /// operator can cancel one, instead of being claimed and put back every second.
    @Test func rowsPutBackWaitForAnAnswerBeforeTheyAreClaimedAheadAgain() async throws {
        let numbers = londonNumbers(4)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 8_000, path: .order, times: 2)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try await launchWithTwoInFlightAndTwoClaimedAhead(harness)
            defer { daemon.signal(SIGKILL) }
            try await eventually(timeout: .seconds(5), "the two claimed ahead are put back after a second") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'queued'") == "2"
            }
            // Colt still holds the two in flight for several seconds: the two rows stay queued.
            for _ in 0..<15 {
                try await Task.sleep(for: .milliseconds(100))
                #expect(try harness.value("SELECT group_concat(state) FROM (SELECT state FROM requests ORDER BY id)") == "submitting,submitting,queued,queued")
            }
            let cancelled = try run(builtBinary(), ["cancel", "--database", harness.database, "4"])
            #expect(cancelled.status == 0, "\(cancelled.stderr)")
            #expect(try harness.value("SELECT state FROM requests WHERE id = 4") == "cancelled")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 2, "nothing else was sent")
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.stderr.suffix(2000))")
        }
    }

    /// Another of the daemon's services failing (the status endpoint's port is taken) stops the
    /// daemon at once with the reason, instead of leaving the engine running on its own.
    @Test func aFailingStatusEndpointStopsTheDaemon() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let taken = "127.0.0.1:\(harness.sandbox.port)"
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_STATUS_LISTEN": taken])
            defer { daemon.signal(SIGKILL) }
            let status = try await daemon.wait(timeout: .seconds(15))
            #expect(status == 1)
            #expect(daemon.stderr.contains("colt-orders stopped on an error"), "\(daemon.stderr.suffix(2000))")
        }
    }

    /// Wrong credentials: nothing is sent, no row spends an attempt, and the drain says why.
    @Test func wrongCredentialsPauseSubmissionsAndSpendNoAttempts() async throws {
        let numbers = londonNumbers(3)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let wrong = try harness.directory.write("wrong-secret", "not-the-secret\n")
            let process = try harness.launch("drain", secretFile: wrong)
            #expect(try await process.wait(timeout: .seconds(20)) == 1)
            #expect(process.stderr.contains("REFUSED THE CLIENT CREDENTIALS"), "\(process.stderr)")
            #expect(!process.stderr.contains("not-the-secret"))
            #expect(try harness.value("SELECT count(*) FROM attempts") == "0")
            #expect(try harness.value("SELECT group_concat(state || ':' || attempts) FROM requests") == "queued:0,queued:0,queued:0")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 0)
        }
    }

    /// Nothing to send: `drain` ends at once without asking Colt for a token (it may be offline).
    @Test func drainingAnEmptyQueueNeedsNoToken() async throws {
        let directory = try TemporaryDirectory("empty")
        defer { directory.remove() }
        let secret = try directory.write("secret", "x\n")
        let result = try run(builtBinary(), ["drain", "--database", directory.file("orders.db"), "--base-url", "http://127.0.0.1:9",
                                             "--client-id", "c", "--client-secret-file", secret])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("drained"))
        #expect(!result.stderr.contains("cannot get a token"), "\(result.stderr)")
    }

    /// A token that expires mid-run: a new one at once, and the 401 is not an attempt.
    @Test func anExpiredTokenIsRenewedWithoutSpendingAnAttempt() async throws {
        let numbers = londonNumbers(2)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns([numbers[0]]))
            let daemon = try harness.launch("run")
            defer { daemon.signal(SIGKILL) }
            try await eventually("the first row is accepted") { try harness.value("SELECT state FROM requests WHERE id = 1") == "in_progress" }
            await harness.sandbox.expireTokens()
            try harness.insert(returns([numbers[1]]))
            try await eventually("the second row is accepted") { try harness.value("SELECT state FROM requests WHERE id = 2") == "in_progress" }
            #expect(try harness.value("SELECT attempts FROM requests WHERE id = 2") == "1")
            #expect(try harness.rows("SELECT outcome FROM attempts WHERE request_id = 2 ORDER BY id").map { $0[0] } == ["unauthorized", "accepted"])
            #expect(await harness.sandbox.requestCount(path: "/authentication/v1/oauth/token") == 2)
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }

    /// Colt refuses a row for good: `rejected`, with Colt's code and message kept.
    @Test func aRefusedRowIsRejectedWithColtsWords() async throws {
        let harness = try await DaemonHarness.start {
            $0.inventory = [InventoryNumber(number: "+442071234567", country: "GB", serviceProfile: "ANH", status: .quarantined)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(["+442071234567"]))
            #expect(try await harness.drain().status == 0)
            let row = try #require(try harness.rows("SELECT state, colt_code, last_error, attempts FROM requests").first)
            #expect(row[0] == "rejected")
            #expect(!row[1].isEmpty, "Colt's code is kept")
            #expect(row[2].contains("Quarantined"), "Colt's message is kept: \(row[2])")
            #expect(row[3] == "1", "a refusal is not retried")
        }
    }

    /// A row inserted while the daemon idles is picked up without waiting for a poll cycle.
    @Test func aNewRowIsPickedUpPromptly() async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            // The fallback check every 60 s cannot be what finds the row: the file event does.
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_DATABASE_POLL_INTERVAL": "60"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon is up") { daemon.stderr.contains("colt-orders started") }
            try await Task.sleep(for: .milliseconds(300))
            try harness.insert(returns(numbers))
            try await eventually(timeout: .seconds(10), "the row reaches Colt") {
                await harness.sandbox.requestCount(path: orderPath) == 1
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }

    /// A writer that keeps its connection open (the sqlite3 shell, an application) makes no file
    /// event after its commit, nor a close: its last WAL write comes before its fsync. Its rows
    /// are still picked up at once, not by the fallback check (60 s here). With the watcher that
    /// passed on only a burst's first event and then slept, most such rows waited for the check.
    @Test func rowsFromAConnectionHeldOpenArePickedUpPromptly() async throws {
        let numbers = londonNumbers(3, from: 3_500_000)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_DATABASE_POLL_INTERVAL": "60"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon is up") { daemon.stderr.contains("colt-orders started") }
            let connection = try Connection(path: harness.database, mode: .readWrite)
            for (index, number) in numbers.enumerated() {
                try await Task.sleep(for: .milliseconds(300))
                try connection.execute("INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '\(number)', 'ANH')")
                try await eventually(timeout: .seconds(5), "row \(index + 1) of \(numbers.count) reaches Colt") {
                    await harness.sandbox.requestCount(path: orderPath) == index + 1
                }
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }
}

@Suite struct ConfigurationTests {
    @Test func plainHTTPIsRefusedExceptToLoopback() throws {
        let directory = try TemporaryDirectory("config")
        defer { directory.remove() }
        let secret = try directory.write("secret", "x\n")
        let result = try run(builtBinary(), ["check-config", "--base-url", "http://colt.example.com", "--client-id", "c", "--client-secret-file", secret])
        #expect(result.status == 2)
        #expect(result.stderr.contains("api.base_url"), "\(result.stderr)")
        #expect(result.stderr.contains("plain http:// is refused"))
        let loopback = try run(builtBinary(), ["check-config", "--base-url", "http://127.0.0.1:9", "--client-id", "c", "--client-secret-file", secret])
        #expect(loopback.status == 0, "\(loopback.stderr)")
    }

    @Test func everyProblemIsNamedWithItsSource() throws {
        let directory = try TemporaryDirectory("config")
        defer { directory.remove() }
        let file = try directory.write("config.json", #"{"submit": {"max_in_flight": 0, "max_inflight": 3}, "api": {"client_id": "c", "client_secret_file": "/nonexistent"}}"#)
        let result = try run(builtBinary(), ["check-config", "--config", file], environment: ["COLT_ORDERS_RETRY_MAX_ATTEMPTS": "many", "PATH": "/usr/bin:/bin"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("unknown setting 'submit.max_inflight'"), "\(result.stderr)")
        #expect(result.stderr.contains("did you mean 'submit.max_in_flight'"))
        #expect(result.stderr.contains("api.client_secret_file"))
        #expect(result.stderr.contains("environment variable COLT_ORDERS_RETRY_MAX_ATTEMPTS"))
        let fixed = try directory.write("fixed.json", #"{"submit": {"max_in_flight": 8}, "api": {"client_id": "c", "client_secret_file": "\#(directory.file("secret"))"}}"#)
        try directory.write("secret", "x")
        let ok = try run(builtBinary(), ["check-config", "--config", fixed])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("submit.max_in_flight = 8  [\(fixed): submit.max_in_flight]"), "\(ok.stdout)")
        #expect(ok.stdout.contains("retry.max_attempts = 12  [default]"))
    }

    /// The layers, highest first: a flag over a variable over the file over systemd's
    /// credentials over the default; check-config names the one each value came from.
    @Test func eachValueComesFromTheHighestLayerThatSetsIt() throws {
        let directory = try TemporaryDirectory("config")
        defer { directory.remove() }
        let credentials = directory.file("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try directory.write("credentials/client-secret", "from-systemd\n")
        let file = try directory.write("config.json", #"""
            {"api": {"client_id": "from-file"}, "submit": {"max_in_flight": 2, "rate_per_second": 3, "max_range_size": 40},
             "log": {"level": "notice"}}
            """#)
        let environment = ["PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": credentials,
                           "COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "5", "COLT_ORDERS_SUBMIT_RATE_PER_SECOND": "6"]
        let result = try run(builtBinary(), ["check-config", "--config", file, "--max-in-flight", "7", "--log-level", "debug"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        for line in [
            "submit.max_in_flight = 7  [flag --max-in-flight]",  // flag > variable > file
            "log.level = debug  [flag --log-level]",  // flag > file
            "submit.rate_per_second = 6  [environment variable COLT_ORDERS_SUBMIT_RATE_PER_SECOND]",  // variable > file
            "submit.max_range_size = 40  [\(file): submit.max_range_size]",
            "api.client_id = from-file  [\(file): api.client_id]",
            "api.client_secret_file = \(credentials)/client-secret (read, <redacted>)  [systemd credential client-secret]",
            "retry.max_attempts = 12  [default]",
            "retention.days = (not set)",
        ] {
            #expect(result.stdout.contains(line), "\(line) not in \(result.stdout)")
        }
        #expect(!result.stdout.contains("from-systemd"))
        // A file named on the command line outranks the credential.
        let secret = try directory.write("secret", "x\n")
        let flagged = try run(builtBinary(), ["check-config", "--config", file, "--client-secret-file", secret], environment: environment)
        #expect(flagged.stdout.contains("api.client_secret_file = \(secret) (read, <redacted>)  [flag --client-secret-file]"), "\(flagged.stdout)")
    }
}
