import Foundation
import Testing
import TestSupport

/// The operator's web page, served by the real daemon over a real ledger, loaded in a real
/// browser (headless Chromium) and read back from its screenshots (Tesseract); and its
/// authentication and actions over plain HTTP (curl), as an attacker would try them.
@Suite struct OperatorPageTests {
    static let hostileOrderID = #"<img src=x onerror=alert(1)>"#
    static let hostileMessage = #"</td><script>alert("colt")</script><b>bold</b>"#

    /// Rows in most states, with a hostile order id and a hostile Colt message, made through the
    /// transitions the schema allows; none of them is due, so the daemon leaves them as they are.
    static let ledger = """
        BEGIN;
        INSERT INTO requests (action, country, range_start, range_end, service_profile) VALUES
            ('return', 'GB', '+442071000001', NULL, 'ANH'), ('return', 'GB', '+442071000002', NULL, 'ANH'),
            ('return', 'GB', '+442071000003', NULL, 'ANH'), ('return', 'GB', '+442071000004', NULL, 'ANH'),
            ('reactivate', 'DE', '+4930100000', NULL, NULL), ('return', 'GB', '+442071000010', '+442071000019', 'ANH'),
            ('return', 'GB', '+442071000020', NULL, 'ANH'), ('return', 'GB', '+442071000030', NULL, 'ANH');
        UPDATE requests SET state = 'submitting', tracking_id = 'page-test-' || id,
            first_attempt_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 hours');
        INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, http_status, outcome, colt_code, colt_message, detail, duration_ms)
        SELECT id, 1, tracking_id, first_attempt_at, first_attempt_at,
               CASE WHEN id IN (4, 5) THEN 409 WHEN id IN (7, 8) THEN NULL ELSE 202 END,
               CASE WHEN id IN (4, 5) THEN 'rejected' WHEN id IN (7, 8) THEN 'timeout' ELSE 'accepted' END,
               CASE WHEN id IN (4, 5) THEN '005' END,
               CASE WHEN id = 4 THEN '\(hostileMessage)' WHEN id = 5 THEN 'Number not eligible' END,
               'fixture', 120
        FROM requests;
        INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome, detail, duration_ms)
            VALUES (7, 2, 'page-test-7', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hours'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hours'),
                    'timeout', 'no answer within 30 s', 30000);
        UPDATE requests SET state = 'in_progress', order_id = CASE WHEN id = 6 THEN '\(hostileOrderID)' ELSE 'ORD-' || id END,
            next_check_at = '2099-01-01T00:00:00.000Z' WHERE id IN (1, 2, 3, 6);
        UPDATE requests SET state = 'completed', order_status = 'Completed', completed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 minutes')
            WHERE id IN (1, 2, 3);
        UPDATE requests SET state = 'rejected', colt_code = '005', last_error = 'HTTP 409 from Colt: ' || (SELECT colt_message FROM attempts WHERE request_id = requests.id)
            WHERE id IN (4, 5);
        UPDATE requests SET state = 'failed', outcome_unknown = 1, attempts = 2, last_error = 'no answer within 30 s' WHERE id = 7;
        UPDATE requests SET state = 'unresolved', outcome_unknown = 1, attempts = 1, attention = 'the inventory did not say whether an order exists' WHERE id = 8;
        COMMIT;
        """

    struct Running {
        let harness: DaemonHarness
        let daemon: DaemonProcess
        let base: String
    }

    /// Runs `body` against the daemon over the fixture ledger, its status endpoint on a free
    /// loopback port; the daemon and the sandbox are stopped before this returns, whatever
    /// `body` does.
    static func withDaemon(environment: [String: String] = [:], _ body: (Running) async throws -> Void) async throws {
        let harness = try await DaemonHarness.start()
        do {
            try harness.createSchema()
            let seeded = try harness.sqlite(ledger)
            guard seeded.status == 0 else { throw TestFailure("fixture: \(seeded.stderr)") }
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_STATUS_LISTEN": "127.0.0.1:0"].merging(environment) { $1 })
            do {
                let port = try await statusPort(of: daemon)
                try await body(Running(harness: harness, daemon: daemon, base: "http://127.0.0.1:\(port)"))
            } catch {
                daemon.signal(SIGKILL)
                _ = try? await daemon.wait(timeout: .seconds(10))
                throw error
            }
            daemon.signal(SIGKILL)
            _ = try? await daemon.wait(timeout: .seconds(10))
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test func eachPageLoadsInABrowserAndShowsWhatTheLedgerHolds() async throws {
        try await Self.withDaemon { running in
            let browser = try Browser(directory: running.harness.directory)
            // The overview: rows per state, in the DOM and on the screen.
            let overview = try browser.dom(running.base + "/")
            for (state, count) in [("completed", 3), ("rejected", 2), ("in_progress", 1), ("failed", 1), ("unresolved", 1), ("queued", 0)] {
                #expect(overview.contains(#"<span class="badge \#(state)">\#(state)</span></a></td><td class="num">\#(count)</td>"#), "\(state)")
            }
            #expect(overview.contains("Rejections in the last 24 h: 2"))
            let overviewText = try browser.text(in: browser.screenshot(running.base + "/", name: "overview"))
            #expect(overviewText.contains("Requests by state"), "\(overviewText)")
            #expect(overviewText.contains("completed 3") && overviewText.contains("rejected 2"), "\(overviewText)")

            // A search by a number that lies inside a range finds the range's row.
            let search = running.base + "/ledger?q=%2B44+20+7100+0015"
            let found = try browser.dom(search)
            #expect(found.contains(#"<a href="/requests/6">6</a>"#), "\(found)")
            #expect(!found.contains(#"<a href="/requests/5">"#))
            let searchText = try browser.text(in: browser.screenshot(search, name: "search", height: 700))
            #expect(searchText.contains("+442071000010") && searchText.contains("+442071000019"), "\(searchText)")
            #expect(searchText.contains("1 request"), "\(searchText)")

            // One request: its attempts table, each attempt with its tracking id and outcome.
            let request = try browser.dom(running.base + "/requests/7")
            #expect(request.components(separatedBy: #"<td class="mono">page-test-7</td>"#).count == 3, "two attempts")
            let requestText = try browser.text(in: browser.screenshot(running.base + "/requests/7", name: "request"))
            #expect(requestText.contains("Attempts (2)"), "\(requestText)")
            #expect(requestText.contains("no answer within 30 s"), "\(requestText)")

            // The ledger page with filters: only the matching rows.
            let filtered = try browser.dom(running.base + "/ledger?state=rejected&country=GB")
            #expect(filtered.contains(#"<a href="/requests/4">4</a>"#) && !filtered.contains(#"<a href="/requests/5">5</a>"#))
        }
    }

    @Test func hostileTextFromColtIsShownAsTextNotMarkup() async throws {
        try await Self.withDaemon { running in
            let browser = try Browser(directory: running.harness.directory)
            for path in ["/requests/6", "/requests/4", "/ledger", "/"] {
                let dom = try browser.dom(running.base + path)
                // The browser built no element from Colt's text: no image, no script, no bold.
                #expect(!dom.contains("<img") && !dom.contains("<script") && !dom.contains("<b>"), "\(path): \(dom)")
            }
            let order = try browser.dom(running.base + "/requests/6")
            #expect(order.contains("&lt;img src=x onerror=alert(1)&gt;"), "\(order)")
            let rejected = try browser.dom(running.base + "/requests/4")
            #expect(rejected.contains(#"&lt;/td&gt;&lt;script&gt;alert("colt")&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;"#), "\(rejected)")
            // And the page forbids any script it did not serve itself.
            let headers = try run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", running.base + "/requests/6"]).stdout.lowercased()
            #expect(headers.contains("content-security-policy: default-src 'none'; style-src 'self'"), "\(headers)")
            #expect(headers.contains("x-content-type-options: nosniff"))
            // Without authentication only loopback names are answered: a rebound DNS name is not.
            let port = String(running.base.split(separator: ":").last ?? "")
            for host in ["evil.example:\(port)", "evil.example", "127.0.0.1.nip.io:\(port)", "127.0.0.010:\(port)"] {
                let refused = try Self.curl(running.base + "/ledger", ["-H", "Host: \(host)"])
                #expect(refused.status == 421, "\(host)")
                #expect(!refused.output.contains("+442071000001"), "\(host)")
            }
            for host in ["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)", "LOCALHOST"] {
                #expect(try Self.curl(running.base + "/ledger", ["-H", "Host: \(host)"]).status == 200, "\(host)")
            }
            // A link cannot make the page claim an action that did not happen.
            let forged = try Self.curl(running.base + "/requests/6?done=cancelled")
            #expect(forged.status == 200 && !forged.output.contains("Cancelled."), "\(forged.output)")
        }
    }

    /// curl against the endpoint: `(status, headers and body)`.
    static func curl(_ url: String, _ arguments: [String] = []) throws -> (status: Int, output: String) {
        let result = try run("/usr/bin/curl", ["-s", "-i", "-m", "5", "-w", "\n%{http_code}"] + arguments + [url])
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func actionsNeedSigningInAndThePagesCSRFToken() async throws {
        let directory = try TemporaryDirectory("page-auth")
        let users = try directory.write("status-users", "# operators\nalice:correct-horse-battery\n")
        chmod(users, 0o600)
        try await Self.withDaemon(environment: ["COLT_ORDERS_STATUS_AUTH_FILE": users, "COLT_ORDERS_STATUS_ALLOW_ACTIONS": "true"]) { running in
            let alice = ["-u", "alice:correct-horse-battery"]
            // Every endpoint asks for credentials, and refuses wrong ones.
            for path in ["/", "/ledger", "/requests/8", "/healthz", "/readyz", "/metrics", "/orders", "/orders/8", "/ui/style.css", "/no-such-page"] {
                let anonymous = try Self.curl(running.base + path)
                #expect(anonymous.status == 401, "\(path)")
                #expect(anonymous.output.lowercased().contains(#"www-authenticate: basic realm="colt-orders""#), "\(path)")
            }
            // A wrong password is answered after a second, and the journal hears of it once per 10 s.
            let started = ContinuousClock.now
            for path in ["/", "/metrics", "/orders"] {
                #expect(try Self.curl(running.base + path, ["-u", "alice:wrong-password-here"]).status == 401, "\(path)")
            }
            #expect(ContinuousClock.now - started >= .seconds(3))
            #expect(try Self.curl(running.base + "/", ["-u", "ALICE:correct-horse-battery"]).status == 401, "names are compared exactly")
            #expect(running.daemon.stderr.components(separatedBy: "wrong user name or password").count == 2, "\(running.daemon.stderr)")
            let page = try Self.curl(running.base + "/requests/8", alice)
            #expect(page.status == 200)
            let token = try #require(page.output.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1).description
            let before = try running.harness.rows("SELECT * FROM requests ORDER BY id")

            // Without the token, with a wrong one, or from another site: refused, nothing changed.
            let cancel = running.base + "/requests/8/cancel"
            for (why, extra) in [("no token", ["-d", "x=1"]), ("a wrong token", ["-d", "csrf=" + String(repeating: "0", count: 64)]),
                                 ("another site", ["-d", "csrf=\(token)", "-H", "Sec-Fetch-Site: cross-site"]),
                                 ("a sibling site", ["-d", "csrf=\(token)", "-H", "Sec-Fetch-Site: same-site"])] {
                let refused = try Self.curl(cancel, alice + extra)
                #expect(refused.status == 403, "\(why): \(refused.output)")
                #expect(refused.output.contains("Nothing was changed"), "\(why)")
            }
            // Signed in but without credentials: refused before anything else.
            #expect(try Self.curl(cancel, ["-d", "csrf=\(token)"]).status == 401)
            #expect(try running.harness.rows("SELECT * FROM requests ORDER BY id") == before)

            // With the token: the CLI's refusals, word for word, and its actions.
            let accepted = try Self.curl(running.base + "/requests/6/cancel", alice + ["-d", "csrf=\(token)"])
            #expect(accepted.status == 409)
            #expect(accepted.output.contains("cannot be cancelled: Colt already accepted it"), "\(accepted.output)")
            let risky = try Self.curl(running.base + "/requests/7/retry", alice + ["-d", "csrf=\(token)"])
            #expect(risky.status == 409)
            #expect(risky.output.contains("cannot be retried yet: an earlier attempt&#39;s outcome is unknown"), "\(risky.output)")
            #expect(risky.output.contains(#"name="force" value="1" required"#), "the page offers the forced retry with its warning")
            #expect(try running.harness.rows("SELECT * FROM requests ORDER BY id") == before)

            let cancelled = try Self.curl(cancel, alice + ["-d", "csrf=\(token)"])
            #expect(cancelled.status == 303, "\(cancelled.output)")
            #expect(cancelled.output.lowercased().contains("location: /requests/8?done=cancelled"))
            #expect(try running.harness.value("SELECT state FROM requests WHERE id = 8") == "cancelled")
            #expect(try running.harness.value("SELECT last_error FROM requests WHERE id = 8").hasPrefix("cancelled by an operator"))

            let forced = try Self.curl(running.base + "/requests/7/retry", alice + ["-d", "csrf=\(token)&force=1"])
            #expect(forced.status == 303, "\(forced.output)")
            #expect(try running.harness.value("SELECT tracking_id FROM requests WHERE id = 7") != "page-test-7")
            #expect(running.daemon.stderr.contains("operator action from the status page"), "\(running.daemon.stderr)")
            #expect(running.daemon.stderr.contains("user=alice"), "the log names who acted")
            #expect(!running.daemon.stderr.contains("correct-horse-battery"), "the password is never logged")
        }
        directory.remove()
    }

    @Test func anActionOnABusyDatabaseSaysSoAndChangesNothing() async throws {
        let directory = try TemporaryDirectory("page-busy")
        let users = try directory.write("status-users", "alice:correct-horse-battery\r\nbob:another-long-password\r\n")
        chmod(users, 0o600)
        try await Self.withDaemon(environment: ["COLT_ORDERS_STATUS_AUTH_FILE": users, "COLT_ORDERS_STATUS_ALLOW_ACTIONS": "true"]) { running in
            // Both users of a file with CRLF line ends can sign in.
            #expect(try Self.curl(running.base + "/healthz", ["-u", "bob:another-long-password"]).status == 200)
            let page = try Self.curl(running.base + "/requests/8", ["-u", "alice:correct-horse-battery"])
            let token = try #require(page.output.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/)?.1).description
            // Someone holds the write lock longer than the action waits for it (5 s).
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/bin/sh")
            holder.arguments = ["-c", "(echo '.timeout 5000'; echo 'BEGIN IMMEDIATE;'; sleep 8; echo 'COMMIT;') | sqlite3 \(running.harness.database)"]
            try holder.run()
            // Only once the lock is really held (a write that does not wait fails).
            try await eventually("sqlite3 holds the write lock") {
                try run("/usr/bin/sqlite3", [running.harness.database, "BEGIN IMMEDIATE; ROLLBACK;"]).status != 0
            }
            let busy = try Self.curl(running.base + "/requests/8/cancel", ["-m", "20", "-u", "alice:correct-horse-battery", "-d", "csrf=\(token)"])
            holder.waitUntilExit()
            #expect(busy.status == 503, "\(busy.output)")
            #expect(busy.output.contains("The database did not answer") && busy.output.contains("Nothing was changed"), "\(busy.output)")
            #expect(busy.output.lowercased().contains("content-security-policy:"), "an error page carries the same headers")
            #expect(running.daemon.stderr.contains("status page: a cancel failed"), "\(running.daemon.stderr)")
            #expect(try running.harness.value("SELECT state FROM requests WHERE id = 8") == "unresolved")
            // Once the lock is free, the same form works, and says what the cancel leaves open.
            let cancelled = try Self.curl(running.base + "/requests/8/cancel", ["-L", "-u", "alice:correct-horse-battery", "-d", "csrf=\(token)"])
            #expect(cancelled.output.contains("Colt may have created an order under tracking id page-test-8"), "\(cancelled.output)")
        }
        directory.remove()
    }

    @Test func thePageIsReadOnlyUnlessActionsAreTurnedOn() async throws {
        try await Self.withDaemon { running in
            let page = try Self.curl(running.base + "/requests/8")
            #expect(page.status == 200)
            #expect(page.output.contains("This page is read-only."))
            #expect(!page.output.contains(#"<form method="post""#))
            let refused = try Self.curl(running.base + "/requests/8/cancel", ["-d", "csrf=x"])
            #expect(refused.status == 403)
            #expect(refused.output.contains("set status.allow_actions = true"), "\(refused.output)")
            #expect(try running.harness.value("SELECT state FROM requests WHERE id = 8") == "unresolved")
        }
    }

    @Test func offLoopbackTheEndpointNeedsItsCredentialsFile() throws {
        let directory = try TemporaryDirectory("page-settings")
        defer { directory.remove() }
        let secret = try directory.write("secret", "s\n")
        chmod(secret, 0o600)
        func check(_ environment: [String: String], file: String? = nil) throws -> ProcessResult {
            var arguments = ["check-config", "--database", directory.file("o.db"), "--client-id", "c", "--client-secret-file", secret]
            if let file { arguments += ["--config", try directory.write("config.json", file)] }
            return try run(builtBinary(), arguments, environment: environment)
        }
        var result = try check(["COLT_ORDERS_STATUS_LISTEN": "0.0.0.0:9464"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("status.listen (from environment variable COLT_ORDERS_STATUS_LISTEN): '0.0.0.0:9464' is not a loopback address; off loopback the status endpoint and its pages need authentication: set status.auth_file"), "\(result.stderr)")
        result = try check(["COLT_ORDERS_STATUS_ALLOW_ACTIONS": "true"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("status.allow_actions (from environment variable COLT_ORDERS_STATUS_ALLOW_ACTIONS): actions need signing in; set status.auth_file as well"), "\(result.stderr)")
        let short = try directory.write("users", "alice:correct-horse-battery\nbob:short\n")
        result = try check(["COLT_ORDERS_STATUS_AUTH_FILE": short])
        #expect(result.stderr.contains("\(short) line 2: the password of bob is shorter than 12 characters"), "\(result.stderr)")
        result = try check([:], file: #"{"status": {"listen": "0.0.0.0:9464", "allow_non_loopback": true}}"#)
        #expect(result.stderr.contains("status.allow_non_loopback is no longer a setting"), "\(result.stderr)")
        // `false` asked for what is now the rule: an old configuration that says so still starts.
        result = try check([:], file: #"{"status": {"listen": "127.0.0.1:9464", "allow_non_loopback": false}}"#)
        #expect(result.status == 0, "\(result.stderr)")
        // Loopback is spelled canonically: 127.0.0.010 is octal to some resolvers, a name to others.
        result = try check(["COLT_ORDERS_STATUS_LISTEN": "127.0.0.010:9464"])
        #expect(result.status == 2 && result.stderr.contains("is not a loopback address"), "\(result.stderr)")
        let padded = try directory.write("padded-users", "alice:correct-horse-battery \n")
        result = try check(["COLT_ORDERS_STATUS_AUTH_FILE": padded])
        #expect(result.stderr.contains("\(padded) line 1: the password of alice begins or ends with a space or tab"), "\(result.stderr)")
        // With a credentials file, any address; a file others can read is named.
        let good = try directory.write("good-users", "alice:correct-horse-battery\n")
        chmod(good, 0o644)
        result = try check(["COLT_ORDERS_STATUS_LISTEN": "0.0.0.0:9464", "COLT_ORDERS_STATUS_AUTH_FILE": good])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("can be read by its group or by others"), "\(result.stderr)")
        // Under systemd the credential is found by its name.
        let credentials = directory.file("credentials")
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good, toPath: credentials + "/status-users")
        result = try check(["COLT_ORDERS_STATUS_LISTEN": "0.0.0.0:9464", "CREDENTIALS_DIRECTORY": credentials])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("status.auth_file = \(credentials)/status-users  [systemd credential status-users]"), "\(result.stdout)")
    }
}
