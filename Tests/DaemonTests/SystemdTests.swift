import ColtSandbox
import Foundation
import Synchronization
import Testing
import TestSupport

/// The systemd integration: the unit (verify, security score), the notify protocol spoken by
/// the real binary, SIGHUP reloads, journald priority prefixes, and group-writable database
/// files under `UMask=0007`.
@Suite(.serialized) struct SystemdTests {
    /// The committed unit, found from this source file.
    static let unitFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd/colt-orders.service").path
    static let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    // MARK: The unit

    /// `systemd-analyze verify` accepts the unit, with ExecStart pointed at the built binary
    /// (verify insists that it exists) in a temporary copy.
    @Test func unitPassesSystemdAnalyzeVerify() throws {
        guard let analyze = Self.systemdAnalyze else {
            print("SKIPPED: systemd-analyze is not installed (apt-get install systemd); the unit was not verified")
            return
        }
        let unit = try String(contentsOfFile: Self.unitFile, encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/colt-orders run"), "the committed unit runs the installed binary")
        let directory = try TemporaryDirectory("unit")
        defer { directory.remove() }
        let copy = try directory.write("colt-orders.service", unit.replacingOccurrences(of: "/usr/local/bin/colt-orders", with: builtBinary()))
        let result = try run(analyze, ["verify", "--man=false", copy])
        print("systemd-analyze verify: exit \(result.status)\n\(result.stdout)\(result.stderr)")
        #expect(result.status == 0, "systemd-analyze verify failed:\n\(result.stderr)")
        #expect(!result.stderr.contains("colt-orders.service:"), "verify has remarks on the unit:\n\(result.stderr)")
    }

    /// `systemd-analyze security --offline=true` scores the unit's exposure at 2.0 or lower.
    @Test func unitExposureScoreIsAtMostOneAndAHalf() throws {
        guard let analyze = Self.systemdAnalyze else {
            print("SKIPPED: systemd-analyze is not installed (apt-get install systemd); the exposure score was not computed")
            return
        }
        let result = try run(analyze, ["security", "--offline=true", "--no-pager", Self.unitFile])
        let line = result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }.map(String.init) ?? ""
        print("systemd-analyze security: \(line)")
        let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        #expect(score != nil, "no score in the output:\n\(result.stdout)\n\(result.stderr)")
        #expect((score ?? 10) <= 1.5, "exposure \(score ?? -1) is above 1.5:\n\(result.stdout)")
        for setting in ["NoNewPrivileges=", "ProtectSystem=", "ProtectHome=", "PrivateTmp=", "PrivateDevices=", "SystemCallFilter=~@privileged"] {
            #expect(result.stdout.split(separator: "\n").contains { $0.contains("✓ \(setting)") }, "\(setting) is not counted as set")
        }
    }

    /// The template unit, one instance per Colt account.
    static let templateFile = URL(fileURLWithPath: unitFile).deletingLastPathComponent().appendingPathComponent("colt-orders@.service").path

    /// `colt-orders@.service` is `colt-orders.service` but for the instance's own files: the
    /// hardening and the lifecycle cannot drift apart between the two.
    @Test func theTemplateUnitDiffersFromTheUnitOnlyInTheInstancesFiles() throws {
        func settings(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .filter { !$0.hasPrefix("#") && !$0.isEmpty }.map(String.init)
        }
        let single = try settings(Self.unitFile), template = try settings(Self.templateFile)
        let instanced = single.map { line in
            switch line {
            case let l where l.hasPrefix("Description="): l.replacingOccurrences(of: "colt-orders:", with: "colt-orders (%i):")
            case let l where l.hasPrefix("ExecStart="): l.replacingOccurrences(of: "/etc/colt-orders/config.json", with: "/etc/colt-orders/%i/config.json")
            case "StateDirectory=colt-orders": "StateDirectory=colt-orders/%i"
            case "ConfigurationDirectory=colt-orders": "ConfigurationDirectory=colt-orders/%i"
            case let l where l.hasPrefix("LoadCredential="): l.replacingOccurrences(of: "/etc/colt-orders/", with: "/etc/colt-orders/%i/")
            default: line
            }
        }
        #expect(template.filter { !$0.hasPrefix("Environment=COLT_ORDERS_DATABASE_PATH=") } == instanced)
        #expect(template.contains("Environment=COLT_ORDERS_DATABASE_PATH=/var/lib/colt-orders/%i/orders.db"), "each instance its own database")
    }

    /// An instance of the template passes `systemd-analyze verify` and scores at most 1.5.
    @Test func anInstanceOfTheTemplatePassesVerifyAndScoresAtMostOneAndAHalf() throws {
        guard let analyze = Self.systemdAnalyze else {
            print("SKIPPED: systemd-analyze is not installed (apt-get install systemd); the template unit was not verified")
            return
        }
        let unit = try String(contentsOfFile: Self.templateFile, encoding: .utf8)
        let directory = try TemporaryDirectory("template")
        defer { directory.remove() }
        let copy = try directory.write("colt-orders@.service", unit.replacingOccurrences(of: "/usr/local/bin/colt-orders", with: builtBinary()))
        let instance = directory.file("colt-orders@acme.service")
        try FileManager.default.createSymbolicLink(atPath: instance, withDestinationPath: copy)
        let verified = try run(analyze, ["verify", "--man=false", instance])
        #expect(verified.status == 0, "systemd-analyze verify failed:\n\(verified.stderr)")
        #expect(!verified.stderr.contains("colt-orders@"), "verify has remarks on the template:\n\(verified.stderr)")
        let security = try run(analyze, ["security", "--offline=true", "--no-pager", instance])
        let line = security.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }.map(String.init) ?? ""
        let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
        print("systemd-analyze security colt-orders@acme: \(line)")
        #expect((score ?? 10) <= 1.5, "exposure \(score ?? -1) is above 1.5:\n\(security.stdout)\n\(security.stderr)")
    }

    // MARK: The notify protocol

    /// READY=1 once working, STATUS= with the figures, WATCHDOG=1 from the loop well within
    /// WATCHDOG_USEC, STOPPING=1 on SIGTERM, and a clean exit.
    @Test func notifiesReadyStatusWatchdogAndStopping() async throws {
        let numbers = londonNumbers(3, from: 3_100_000)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 3000, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let listener = try NotifyListener(path: harness.directory.file("notify.sock"))
            defer { listener.stop() }

            let watchdog = Duration.seconds(1)
            let daemon = try harness.launch("run", environment: [
                "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "", "COLT_ORDERS_SHUTDOWN_GRACE": "0.2",
            ])
            defer { daemon.signal(SIGKILL) }
            try await eventually(timeout: .seconds(10), "READY=1; stderr: \(daemon.stderr)") { listener.contains("READY=1") }
            let ready = listener.messages.first { $0.text.contains("READY=1") }!.at
            try await Task.sleep(for: .seconds(2.5))
            daemon.signal(SIGTERM)
            try await eventually(timeout: .seconds(10), "STOPPING=1") { listener.contains("STOPPING=1") }
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.stderr)")

            let messages = listener.messages
            let stopping = messages.first { $0.text.contains("STOPPING=1") }!.at
            let pings = messages.filter { $0.text == "WATCHDOG=1" && $0.at >= ready && $0.at <= stopping }.map(\.at)
            let gaps = zip([ready] + pings, pings + [stopping]).map { $1 - $0 }
            print("notify: \(messages.count) messages, \(pings.count) WATCHDOG=1 between READY=1 and STOPPING=1, longest gap \(gaps.max() ?? .zero)")
            #expect(pings.count >= 3, "WATCHDOG=1 keeps coming: \(messages.map(\.text))")
            #expect(gaps.allSatisfy { $0 < watchdog }, "every gap shorter than WATCHDOG_USEC: \(gaps)")
            let between = zip(pings, pings.dropFirst()).map { $1 - $0 }
            #expect(between.allSatisfy { $0 >= .milliseconds(450) }, "at most one ping per WATCHDOG_USEC/2: \(between)")
            let statuses = messages.map(\.text).filter { $0.hasPrefix("STATUS=") }
            #expect(statuses.contains { $0.contains("unsettled") }, "STATUS= lines with queue figures: \(statuses)")
            #expect(messages.contains { $0.text.contains("STATUS=") && $0.text.contains("3 unsettled") }, "figures count the queued rows: \(statuses)")
            #expect(messages.firstIndex { $0.text.contains("READY=1") }! < messages.firstIndex { $0.text.contains("STOPPING=1") }!)
        }
    }

    /// WATCHDOG=1 comes from the engine's loop, not from a timer: while the loop is held up (here
    /// by a slow token request, which it awaits) the pings stop, so systemd would restart a
    /// daemon whose loop is stuck.
    @Test func watchdogPingsStopWhileTheLoopIsHeldUp() async throws {
        let numbers = londonNumbers(1, from: 3_400_000)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 1800, path: .token)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let listener = try NotifyListener(path: harness.directory.file("notify.sock"))
            defer { listener.stop() }
            let daemon = try harness.launch("run", environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": ""])
            defer { daemon.signal(SIGKILL) }
            try await eventually(timeout: .seconds(10), "the row is accepted; stderr: \(daemon.stderr)") {
                try harness.value("SELECT state FROM requests") == "in_progress"
            }
            // Idle, the loop turns at least every 250 ms (a quarter of WATCHDOG_USEC) and pings
            // at most every 500 ms, so a ping comes within 750 ms of the loop turning again, at a
            // moment that depends on when the database watcher last woke it.
            try await Task.sleep(for: .milliseconds(1200))
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0)
            let pings = listener.messages.filter { $0.text == "WATCHDOG=1" }.map(\.at)
            let gaps = zip(pings, pings.dropFirst()).map { $1 - $0 }
            print("watchdog while the loop waits 1.8 s for a token: gaps \(gaps)")
            #expect(gaps.contains { $0 >= .milliseconds(1500) }, "no ping while the loop was held up: \(gaps)")
            #expect(gaps.last.map { $0 < .seconds(1) } == true, "pings resume once the loop turns again: \(gaps)")
        }
    }

    /// An abstract socket (`@name`) works too; a watchdog meant for another pid is not pinged.
    @Test func abstractNotifySocketAndWatchdogForAnotherPid() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let name = "@colt-orders-test-\(UUID().uuidString.prefix(8))"
            let listener = try NotifyListener(path: name)
            defer { listener.stop() }
            let daemon = try harness.launch("run", environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"])
            defer { daemon.signal(SIGKILL) }
            try await eventually(timeout: .seconds(10), "READY=1 on \(name); stderr: \(daemon.stderr)") { listener.contains("READY=1") }
            try await Task.sleep(for: .milliseconds(500))
            #expect(!listener.contains("WATCHDOG=1"), "WATCHDOG_PID names another process: no pings")
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0)
            #expect(listener.contains("STOPPING=1"))
        }
    }

    // MARK: SIGHUP

    /// SIGHUP applies a new submit.max_in_flight, warns about database.path (needs a restart),
    /// and refuses a broken file while keeping the running configuration; RELOADING=1 and
    /// READY=1 around each reload.
    @Test func sighupReloadsTunablesWarnsOnRestartSettingsAndRefusesBadConfiguration() async throws {
        let numbers = londonNumbers(1, from: 3_200_000)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            func config(maxInFlight: Int, database: String, level: String = "info") -> String {
                """
                {
                  "database": { "path": "\(database)" },
                  "api": { "base_url": "\(harness.sandbox.baseURL)", "client_id": "\(harness.sandboxConfiguration.clientID)",
                           "client_secret_file": "\(harness.secretFile)" },
                  "submit": { "max_in_flight": \(maxInFlight) },
                  "log": { "level": "\(level)" }
                }
                """
            }
            let file = try harness.directory.write("config.json", config(maxInFlight: 2, database: harness.database))
            let listener = try NotifyListener(path: harness.directory.file("notify.sock"))
            defer { listener.stop() }
            var environment = DaemonHarness.fastEnvironment
            environment["COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT"] = nil
            environment["NOTIFY_SOCKET"] = listener.path
            environment["WATCHDOG_USEC"] = "1000000"
            environment["WATCHDOG_PID"] = ""
            let daemon = try DaemonProcess(arguments: ["run", "--config", file], environment: environment, directory: harness.directory, name: "reload")
            defer { daemon.signal(SIGKILL) }
            try await eventually(timeout: .seconds(10), "READY=1; stderr: \(daemon.stderr)") { listener.contains("READY=1") }
            #expect(daemon.stderr.contains("max_in_flight=2"))

            /// Sends SIGHUP and waits for RELOADING=1 followed by READY=1.
            func reload() async throws {
                let before = listener.messages.count
                daemon.signal(SIGHUP)
                try await eventually(timeout: .seconds(5), "RELOADING=1 then READY=1") {
                    let texts = listener.messages.dropFirst(before).map(\.text)
                    guard let reloading = texts.firstIndex(where: { $0.contains("RELOADING=1") }) else { return false }
                    return texts[reloading...].contains { $0.contains("READY=1") }
                }
            }

            try harness.directory.write("config.json", config(maxInFlight: 3, database: harness.database))
            try await reload()
            try await eventually(timeout: .seconds(5), "the engine reports the reload") {
                daemon.stderr.contains("configuration reloaded max_in_flight=3")
            }
            #expect(daemon.stderr.contains("NOTICE setting changed new=3 old=2 setting=submit.max_in_flight"), "\(daemon.stderr)")
            #expect(!daemon.stderr.contains("needs a restart"), "nothing that needs a restart changed yet")

            let other = harness.directory.file("other.db")
            try harness.directory.write("config.json", config(maxInFlight: 3, database: other, level: "warning"))
            try await reload()
            try await eventually(timeout: .seconds(5), "a restart warning for database.path") {
                daemon.stderr.split(separator: "\n").contains { $0.contains("WARNING setting changed but needs a restart") && $0.contains("setting=database.path") }
            }
            #expect(!FileManager.default.fileExists(atPath: other), "the running daemon keeps its database")
            #expect(daemon.stderr.contains("NOTICE setting changed new=warning old=info setting=log.level"), "\(daemon.stderr)")

            try harness.directory.write("config.json", "{ \"submit\": { \"max_in_flight\": 0 } ")
            try await reload()
            try await eventually(timeout: .seconds(5), "the broken configuration is refused") {
                daemon.stderr.contains("new configuration refused; the running one is kept")
            }
            #expect(daemon.stderr.contains("ERROR configuration problem"), "each problem is logged")
            let notices = daemon.stderr.split(separator: "\n").filter { $0.contains("NOTICE SIGHUP: reading the configuration again") }
            #expect(notices.count == 2, "log.level warning applies from the second reload on: the third one logs no notice")
            #expect(listener.messages.last { $0.text.contains("READY=1") }?.text.contains("refused") == true)

            // Still working with the configuration it had: a row inserted now is submitted.
            try harness.insert(returns(numbers))
            try await eventually(timeout: .seconds(10), "the row is accepted after the refused reload") {
                try harness.value("SELECT state FROM requests") == "in_progress"
            }
            // Reloads keep the engine turning often enough for the watchdog (WATCHDOG_USEC 1 s).
            try await Task.sleep(for: .seconds(2))
            let firstReload = listener.messages.first { $0.text.contains("RELOADING=1") }!.at
            let pings = listener.messages.filter { $0.text == "WATCHDOG=1" && $0.at > firstReload }.map(\.at)
            let gaps = zip(pings, pings.dropFirst()).map { $1 - $0 }
            #expect(pings.count >= 3 && gaps.allSatisfy { $0 < .seconds(1) }, "WATCHDOG=1 within WATCHDOG_USEC after reloads: \(gaps)")
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(10)) == 0, "\(daemon.stderr)")
        }
    }

    // MARK: Logs and files

    /// With stderr on the journal (`$JOURNAL_STREAM` names it), lines carry syslog priority
    /// prefixes and no timestamp; otherwise plain timestamped lines.
    @Test func journalPriorityPrefixesOnlyWhenStderrIsTheJournal() async throws {
        let numbers = londonNumbers(1, from: 3_300_000)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            for journal in [true, false] {
                let log = harness.directory.file("drain-\(journal).err")
                FileManager.default.createFile(atPath: log, contents: nil)
                var info = stat()
                #expect(stat(log, &info) == 0)
                let stream = journal ? "\(info.st_dev):\(info.st_ino)" : "\(info.st_dev):\(info.st_ino + 1)"
                let status = try await runWaiting(builtBinary(), harness.arguments("drain", clientID: "wrong-client"),
                                                  environment: DaemonHarness.fastEnvironment.merging(["JOURNAL_STREAM": stream, "NOTIFY_SOCKET": ""]) { $1 },
                                                  stderr: log, directory: harness.directory)
                #expect(status == 1, "drain fails on refused credentials")
                let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
                let started = lines.first { $0.contains("colt-orders started") }
                let critical = lines.first { $0.contains("COLT REFUSED THE CLIENT CREDENTIALS") }
                if journal {
                    #expect(started?.hasPrefix("<6>INFO colt-orders started") == true, "\(lines)")
                    #expect(critical?.hasPrefix("<2>CRITICAL ") == true, "\(lines)")
                } else {
                    #expect(started?.firstMatch(of: /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO colt-orders started/) != nil, "\(lines)")
                    #expect(lines.allSatisfy { !$0.hasPrefix("<") }, "\(lines)")
                }
            }
        }
    }

    /// Under `UMask=0007` the database and its -wal/-shm files are group-writable (operators
    /// in the group insert rows); under the usual 0022 they are left as SQLite made them.
    @Test func databaseFilesAreGroupWritableWhenTheUmaskAllows() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            for (mask, groupWritable) in [("0007", true), ("0022", false)] {
                let database = harness.directory.file("umask-\(mask).db")
                var arguments = harness.arguments("drain")
                arguments[arguments.firstIndex(of: harness.database)!] = database
                let command = ([builtBinary()] + arguments).map { "'\($0)'" }.joined(separator: " ")
                let log = harness.directory.file("umask-\(mask).err")
                FileManager.default.createFile(atPath: log, contents: nil)
                let status = try await runWaiting("/bin/sh", ["-c", "umask \(mask) && exec \(command)"], environment: DaemonHarness.fastEnvironment, stderr: log, directory: harness.directory)
                #expect(status == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                var info = stat()
                #expect(stat(database, &info) == 0)
                let mode = info.st_mode & 0o777
                print("umask \(mask): \(database) mode \(String(mode, radix: 8))")
                #expect((mode & 0o060 == 0o060) == groupWritable, "mode \(String(mode, radix: 8)) under umask \(mask)")
                #expect(mode & 0o007 == (groupWritable ? 0 : 0o004), "others keep what SQLite gave them")
            }
        }
    }
}

/// Runs a process to its end, its stderr going to the file `stderr`.
func runWaiting(_ executable: String, _ arguments: [String], environment: [String: String], stderr: String,
                directory: TemporaryDirectory, timeout: Duration = .seconds(20)) async throws -> Int32 {
    try await DaemonProcess(command: [executable] + arguments, environment: environment, directory: directory, stderrPath: stderr)
        .wait(timeout: timeout)
}

/// A Unix datagram socket standing in for systemd's notify socket: records every message
/// with the time it arrived.
final class NotifyListener: Sendable {
    struct Message: Sendable {
        var text: String
        var at: ContinuousClock.Instant
    }

    let path: String
    private let descriptor: Int32
    private let received = Mutex<[Message]>([])
    private let stopped = Atomic<Bool>(false)

    /// Binds `path` (a file path, or `@name` for the abstract namespace) and starts reading.
    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else {
            close(descriptor)
            throw TestFailure("bind \(path): \(String(cString: strerror(errno)))")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !stopped.load(ordering: .relaxed) {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    let message = Message(text: String(decoding: buffer[..<count], as: UTF8.self), at: .now)
                    received.withLock { $0.append(message) }
                }
            }
            // The reading thread owns the descriptor's end, so stop() never blocks.
            close(descriptor)
            if !path.hasPrefix("@") { unlink(path) }
        }
        thread.start()
    }

    var messages: [Message] { received.withLock { $0 } }

    func contains(_ text: String) -> Bool { messages.contains { $0.text.contains(text) } }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}
