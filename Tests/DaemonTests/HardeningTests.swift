@testable import ColtOrdersCLI
import ColtSandbox
import Foundation
import Testing
import TestSupport

@Suite struct HardeningTests {
    /// Text from Colt (an error message) can never start a forged log line.
    @Test func logValuesStayOnOneLine() {
        let hostile = "bad\n<2>CRITICAL forged line\r\u{1B}[31m"
        let value = OperatorLogHandler.quoted(hostile)
        #expect(!value.contains("\n") && !value.contains("\r") && !value.contains("\u{1B}"), "\(value)")
        #expect(value.hasPrefix("\"") && value.contains("\\n<2>CRITICAL"))
        #expect(OperatorLogHandler.quoted("plain") == "plain")
        #expect(OperatorLogHandler.quoted("a b") == "\"a b\"")
        #expect(!OperatorLogHandler.oneLine("message\nsecond").contains("\n"))
    }

    /// Two paths to one database file (here through a symlinked directory) meet at one lock.
    @Test func aSecondDaemonThroughAnotherPathToTheSameFileRefusesToStart() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let link = harness.directory.path + "-link"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: harness.directory.path)
            defer { try? FileManager.default.removeItem(atPath: link) }
            let first = try harness.launch("run")
            defer { first.signal(SIGKILL) }
            try await eventually("the first daemon is up") { first.stderr.contains("colt-orders started") }
            var arguments = harness.arguments("run")
            arguments[arguments.firstIndex(of: harness.database)!] = link + "/orders.db"
            let second = try DaemonProcess(arguments: arguments, environment: DaemonHarness.fastEnvironment, directory: harness.directory, name: "second")
            #expect(try await second.wait(timeout: .seconds(10)) == 1)
            #expect(second.stderr.contains("already using"), "\(second.stderr)")
            first.signal(SIGTERM)
            #expect(try await first.wait() == 0)
        }
    }

    /// Two names of one file (a hard link) meet at the lock on the file itself: the second
    /// daemon exits at once, and only one order is ever made per row.
    @Test func aSecondDaemonThroughAHardLinkRefusesToStart() async throws {
        let harness = try await DaemonHarness.start { $0.inventory = activated(londonNumbers(1)) }
        try await harness.inScope {
            try harness.createSchema()
            let other = harness.directory.file("other")
            try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
            try FileManager.default.linkItem(atPath: harness.database, toPath: other + "/link.db")
            let first = try harness.launch("run")
            defer { first.signal(SIGKILL) }
            try await eventually("the first daemon is up") { first.stderr.contains("colt-orders started") }
            var arguments = harness.arguments("run")
            arguments[arguments.firstIndex(of: harness.database)!] = other + "/link.db"
            let second = try DaemonProcess(arguments: arguments, environment: DaemonHarness.fastEnvironment, directory: harness.directory, name: "second")
            #expect(try await second.wait(timeout: .seconds(10)) == 1)
            #expect(second.stderr.contains("through another name (a hard link or a bind mount"), "\(second.stderr)")
            try harness.insert(returns(londonNumbers(1)))
            try await eventually("the row is accepted") { try harness.value("SELECT state FROM requests") == "in_progress" }
            #expect(await harness.sandbox.orders().count == 1)
            first.signal(SIGTERM)
            #expect(try await first.wait() == 0)
        }
    }

    /// `mv orders.db moved.db` under a running daemon: it stops, every commit is in the moved
    /// file (not left in the old name's write-ahead log), and it says where the file went.
    @Test func aMovedDatabaseKeepsEveryCommitAndIsNamed() async throws {
        let numbers = londonNumbers(40)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 30, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "2"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon is submitting") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") != "0"
            }
            let moved = harness.directory.file("moved.db")
            #expect(rename(harness.database, moved) == 0)
            let status = try await daemon.wait(timeout: .seconds(20))
            #expect(status != 0)
            #expect(daemon.stderr.contains("moved or renamed") && daemon.stderr.contains(moved), "\(daemon.stderr.suffix(2000))")
            // Read the moved file alone, as the next daemon would: every order Colt made is there.
            let accepted = try sqliteValue(moved, "SELECT count(*) FROM requests WHERE state = 'in_progress'")
            let orders = await harness.sandbox.orders().count
            let inFlight = try sqliteValue(moved, "SELECT count(*) FROM requests WHERE state = 'submitting'")
            #expect((Int(accepted) ?? 0) + (Int(inFlight) ?? 0) >= orders, "accepted \(accepted), submitting \(inFlight), Colt's orders \(orders)")
            #expect(try sqliteValue(moved, "SELECT count(*) FROM requests WHERE state = 'in_progress' AND order_id IS NULL") == "0")
        }
    }

    /// A row deleted while its request is in flight (the trigger dropped by hand): the daemon
    /// says so loudly, with what Colt answered, and goes on.
    @Test func aRowDeletedInFlightIsReportedWithColtsAnswer() async throws {
        let numbers = londonNumbers(2)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 1500, path: .order, times: 1)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns([numbers[0]]))
            let daemon = try harness.launch("run")
            defer { daemon.signal(SIGKILL) }
            try await eventually("the request is in flight") { await harness.sandbox.requestCount(path: orderPath) == 1 }
            let refused = try harness.sqlite("DELETE FROM requests WHERE id = 1")
            #expect(refused.status != 0 && refused.stderr.contains("only settled rows"), "\(refused.stderr)")
            #expect(try harness.sqlite("DROP TRIGGER requests_delete_settled_only; DELETE FROM requests WHERE id = 1").status == 0)
            try await eventually("the daemon says the row is gone") { daemon.stderr.contains("THE REQUEST'S ROW IS GONE") }
            let line = daemon.stderr.split(separator: "\n").first { $0.contains("ROW IS GONE") }.map(String.init) ?? ""
            let order = await harness.sandbox.orders().first?.id ?? "?"
            #expect(line.contains("order_id=\(order)") && line.contains("CRITICAL"), "\(line)")
            try harness.insert(returns([numbers[1]]))
            try await eventually("the daemon goes on") { try harness.value("SELECT state FROM requests WHERE id = 2") == "in_progress" }
        }
    }

    /// Plain HTTP (and an unauthenticated status endpoint) only to literal loopback addresses:
    /// never to a DNS name that merely starts with 127.
    @Test(arguments: ["http://127.evil.example", "http://127.0.0.1.nip.io", "http://127.1", "http://[::2]"])
    func onlyLiteralLoopbackIsLoopback(url: String) throws {
        let directory = try TemporaryDirectory("loopback")
        defer { directory.remove() }
        let secret = try directory.write("secret", "s\n")
        let result = try run(builtBinary(), ["check-config", "--base-url", url, "--client-id", "c", "--client-secret-file", secret,
                                             "--database", directory.file("x.db")])
        #expect(result.status != 0, "\(url) was accepted")
        #expect(result.stderr.contains("plain http:// is refused except to loopback"), "\(result.stderr)")
        let listen = try run(builtBinary(), ["check-config", "--base-url", "http://127.0.0.1:1", "--client-id", "c", "--client-secret-file", secret,
                                             "--database", directory.file("x.db")], environment: ProcessInfo.processInfo.environment.merging(["COLT_ORDERS_STATUS_LISTEN": "127.0.0.1.nip.io:9464"]) { $1 })
        #expect(listen.status != 0 && listen.stderr.contains("not a loopback address"), "\(listen.stderr)")
        #expect(try run(builtBinary(), ["check-config", "--base-url", "http://127.0.0.2:1", "--client-id", "c", "--client-secret-file", secret,
                                        "--database", directory.file("x.db")]).status == 0, "127.0.0.0/8 is loopback")
    }

    /// Text from Colt or an operator reaches the terminal escaped: no ESC sequence, no forged
    /// line, no right-to-left override, through show, list and status.
    @Test func hostileTextIsEscapedForTheTerminal() throws {
        let directory = try TemporaryDirectory("escape")
        defer { directory.remove() }
        let database = directory.file("orders.db")
        #expect(try run(builtBinary(), ["migrate", "--database", database]).status == 0)
        let hostile = "bad' || char(27) || '[2J' || char(10) || '<2>CRITICAL forged' || char(8238) || 'txet"
        let setup = try sqlite3(database, """
            INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324758');
            UPDATE requests SET state = 'submitting', tracking_id = 't-1' WHERE id = 1;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome, detail) VALUES (1, 1, 't-1', '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z', 'rejected', '\(hostile)');
            UPDATE requests SET state = 'rejected', last_error = '\(hostile)', colt_code = '\(hostile)' WHERE id = 1;
            """)
        #expect(setup.status == 0, "\(setup.stderr)")
        for command in [["show", "1"], ["list"], ["status"]] {
            let result = try run(builtBinary(), command + ["--database", database])
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(!result.stdout.contains("\u{1B}") && !result.stdout.contains("\u{202E}"), "\(command): raw control characters")
            #expect(!result.stdout.split(separator: "\n").contains { $0.hasPrefix("<2>CRITICAL") }, "\(command): a forged line")
            #expect(result.stdout.contains("\\u{1b}[2J") || result.stdout.contains("\\u{1b}"), "\(command): shown escaped: \(result.stdout)")
        }
    }

    /// The status endpoint under many half-sent requests: beyond its limit new connections are
    /// closed, the endpoint keeps answering, and a half-sent request is dropped after its timeout.
    @Test func halfOpenStatusConnectionsCannotExhaustTheDaemon() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_STATUS_LISTEN": "127.0.0.1:0"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the status endpoint listens") { daemon.stderr.contains("status endpoint listening") }
            let port = try #require(daemon.stderr.split(separator: "\n").first { $0.contains("status endpoint listening") }?
                .split(separator: ":").last.flatMap { Int($0.prefix { $0.isNumber }) })
            var sockets: [Int32] = []
            defer { sockets.forEach { close($0) } }
            for _ in 0..<100 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                #expect(connected == 0)
                _ = "GET /healthz HTTP/1.1\r\nHost: x".withCString { send(fd, $0, strlen($0), 0) }
                sockets.append(fd)
            }
            let health = try run("/usr/bin/curl", ["-s", "-m", "5", "http://127.0.0.1:\(port)/healthz"])
            // Closed by the server: end of stream, or a reset (it closed with our bytes unread).
            func closed(_ fd: Int32) -> Bool {
                var byte: UInt8 = 0
                let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                return count == 0 || (count < 0 && errno == ECONNRESET)
            }
            var closedEarly = 0
            let deadline = ContinuousClock.now + .seconds(5)
            var open = sockets
            while closedEarly < 36, ContinuousClock.now < deadline {
                let now = open.filter(closed)
                closedEarly += now.count
                open.removeAll { now.contains($0) }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(closedEarly >= 30, "connections beyond the limit are closed at once: \(closedEarly) of 100")
            _ = health   // (its place may be taken: it is the half-sent ones' timeout that frees them)
            // Half-sent requests are dropped after the idle timeout (10 s), freeing their places.
            let freed = ContinuousClock.now + .seconds(20)
            while !open.isEmpty, ContinuousClock.now < freed {
                let now = open.filter(closed)
                open.removeAll { now.contains($0) }
                try await Task.sleep(for: .milliseconds(200))
            }
            let after = try run("/usr/bin/curl", ["-s", "-m", "5", "http://127.0.0.1:\(port)/healthz"])
            #expect(after.stdout.contains("alive"), "the endpoint answers again: \(after.stdout) \(after.stderr)")
            let stillOpen = open.count
            #expect(stillOpen == 0, "every half-sent request was dropped: \(stillOpen) still open")
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
        }
    }

    /// The smaller holes: a secret others can read is warned of; JSON true and null are refused
    /// where they are no value; a port past 65535 is refused; another application's database is
    /// left alone; a huge range is refused as invalid, never sent.
    @Test func smallerHolesAreClosed() async throws {
        let directory = try TemporaryDirectory("holes")
        defer { directory.remove() }
        let secret = try directory.write("secret", "s3cret\n")
        chmod(secret, 0o644)
        let base = ["--client-id", "c", "--client-secret-file", secret, "--database", directory.file("x.db")]
        var result = try run(builtBinary(), ["check-config", "--base-url", "http://127.0.0.1:8080"] + base)
        #expect(result.status == 0 && result.stderr.contains("can be read by its group or by others") && result.stderr.contains("chmod 600"), "\(result.stderr)")
        result = try run(builtBinary(), ["check-config", "--base-url", "http://127.0.0.1:99999"] + base)
        #expect(result.status != 0 && result.stderr.contains("not a TCP port"), "\(result.stderr)")
        let config = try directory.write("config.json", #"{"retention": {"days": true}, "submit": {"max_in_flight": null}, "status": {"allow_actions": false}}"#)
        result = try run(builtBinary(), ["check-config", "--config", config, "--base-url", "http://127.0.0.1:8080"] + base)
        #expect(result.status != 0, "\(result.stdout)")
        #expect(result.stderr.contains("retention.days must be a number or a string, not true"), "\(result.stderr)")
        #expect(result.stderr.contains("submit.max_in_flight is null"), "\(result.stderr)")
        #expect(!result.stderr.contains("allow_actions"), "a boolean setting takes a boolean")

        let foreign = directory.file("other-app.db")
        _ = try sqlite3(foreign, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
        result = try run(builtBinary(), ["migrate", "--database", foreign])
        #expect(result.status != 0 && result.stderr.contains("not a colt-orders database") && result.stderr.contains("customers"), "\(result.stderr)")
        #expect(try sqliteValue(foreign, "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'") == "customers", "nothing was added")

        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert([("return", "GB", "+442080000000", "+442089999999", "ANH")])
            #expect(try await harness.drain().status == 0)
            let row = try #require(try harness.rows("SELECT state, last_error FROM requests").first)
            #expect(row[0] == "invalid" && row[1].contains("more than submit.max_range_size (10000)"), "\(row)")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 0, "never sent")
        }
    }

    /// An age too large to be a time is refused with the option's error, not a crash.
    @Test func absurdAgesAreRefused() throws {
        let directory = try TemporaryDirectory("ages")
        defer { directory.remove() }
        let database = directory.file("orders.db")
        #expect(try run(builtBinary(), ["migrate", "--database", database]).status == 0)
        for arguments in [["prune", "--older-than", "1e300d"], ["list", "--since", "1e300d"]] {
            let result = try run(builtBinary(), arguments + ["--database", database])
            #expect(result.status != 0 && result.status < 128, "\(arguments): exit \(result.status), \(result.stderr)")
        }
    }
}
