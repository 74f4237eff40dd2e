import ColtSandbox
import Foundation
import Testing
import TestSupport

/// Whether this process may mount a tmpfs (root in a container that allows it).
func canMountTmpfs() -> Bool {
    guard let directory = try? TemporaryDirectory("mount-probe") else { return false }
    defer { directory.remove() }
    guard let mounted = try? run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", directory.path]), mounted.status == 0 else {
        return false
    }
    _ = try? run("/usr/bin/umount", [directory.path])
    return true
}

/// The database misbehaving under the daemon: another process holding the write lock, the file
/// removed or made read-only, the disk full; and rows that slipped past the insert-time checks.
@Suite(.serialized) struct DatabaseFaultTests {
    /// Every row accepted, each with one tracking id and exactly its recorded order.
    func expectAllAccepted(_ harness: DaemonHarness, count: Int) async throws {
        let rows = try harness.rows("SELECT id, state, tracking_id, coalesce(order_id, '') FROM requests ORDER BY id")
        #expect(rows.count == count, "no row lost")
        #expect(rows.allSatisfy { $0[1] == "in_progress" }, "\(rows.filter { $0[1] != "in_progress" }.prefix(5))")
        let twoIDs = try harness.rows("SELECT request_id FROM attempts GROUP BY request_id HAVING count(DISTINCT tracking_id) > 1")
        #expect(twoIDs.isEmpty, "rows with two tracking ids: \(twoIDs)")
        let orders = await harness.sandbox.orders()
        #expect(orders.count == count, "one order per row, no duplicate")
        let recorded = Dictionary(uniqueKeysWithValues: rows.map { ($0[2], $0[3]) })
        #expect(orders.allSatisfy { recorded[$0.trackingID] == $0.id }, "each order is the one its row recorded")
    }

    /// The sqlite3 CLI holds the write lock for 10 s (twice the daemon's 5 s busy timeout)
    /// while requests are in flight: the daemon warns, waits, and carries on; no row is lost,
    /// nothing is sent twice, and the operator's own INSERT in that transaction is drained too.
    @Test func aWriteLockHeldForTenSecondsIsWaitedOut() async throws {
        let numbers = londonNumbers(61)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 200, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(Array(numbers.prefix(60))))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "2"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon is submitting") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") != "0"
            }

            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/bin/sh")
            holder.arguments = ["-c", """
                { echo 'BEGIN IMMEDIATE;'
                  echo "INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '\(numbers[60])', 'ANH');"
                  echo "SELECT 'locked';"
                  sleep 10
                  echo 'COMMIT;'; } | /usr/bin/sqlite3 -bail -cmd '.timeout 5000' '\(harness.database)'
                """]
            let output = Pipe()
            holder.standardOutput = output
            try holder.run()
            let locked = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            #expect(locked.contains("locked"), "the lock holder began its transaction: \(locked)")
            let lockedAt = ContinuousClock.now
            let acceptedBefore = try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'")
            while holder.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            #expect(holder.terminationStatus == 0)
            #expect(ContinuousClock.now - lockedAt >= .seconds(9), "the lock was held about 10 s")
            #expect(daemon.process.isRunning, "the daemon outlived the lock: \(daemon.stderr.suffix(3000))")
            #expect(acceptedBefore != "60", "requests were still to be made when the lock was taken")

            // Outcomes that arrived while the lock was held were recorded once it was released: the
            // daemon waited (and said so) instead of stopping, and carries on.
            try await eventually(timeout: .seconds(60), "every row, the lock holder's too, is accepted") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "61"
            }
            #expect(daemon.process.isRunning, "the daemon carried on: \(daemon.stderr.suffix(1500))")
            #expect(!daemon.stderr.contains("CRITICAL"), "no critical error: \(daemon.stderr.suffix(1500))")
            #expect(daemon.stderr.contains("locked"), "the daemon said the database was locked: \(daemon.stderr.suffix(2000))")
            // One lock, one warning and one notice, whichever parts of the engine (claims, records)
            // met it and however many times they tried.
            let warnings = daemon.stderr.components(separatedBy: "the database is locked by another process").count - 1
            #expect(warnings == 1, "one warning for the one lock: \(daemon.stderr.suffix(3000))")
            #expect(daemon.stderr.components(separatedBy: "the database lock was released").count - 1 == 1)
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0)
            try await expectAllAccepted(harness, count: 61)
        }
    }

    /// The database file is removed under a running daemon: it says so and exits non-zero,
    /// rather than writing on to a deleted file or creating an empty one.
    @Test func theDatabaseFileRemovedWhileRunning() async throws {
        let numbers = londonNumbers(200)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 100, path: .order)]
        }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(numbers))
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "2"])
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon is submitting") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") != "0"
            }
            try FileManager.default.removeItem(atPath: harness.database)
            let status = try await daemon.wait(timeout: .seconds(20))
            #expect(status != 0, "a non-zero exit")
            #expect(daemon.stderr.contains("removed"), "a clear error: \(daemon.stderr.suffix(2000))")
            #expect(!FileManager.default.fileExists(atPath: harness.database), "no new, empty database in its place")
        }
    }

    /// The database made read-only for the daemon's user. While it runs, the descriptors it
    /// already holds stay writable (POSIX), so it carries on; at the next start it stops at
    /// once with a clear error and a non-zero exit, and writes nothing.
    @Test func aReadOnlyDatabase() async throws {
        let numbers = londonNumbers(20)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            try harness.insert(returns(Array(numbers.prefix(10))))
            // The daemon runs as `nobody`: root writes whatever the file's mode says.
            for path in [harness.directory.path, harness.secretFile] { chmod(path, 0o777) }
            for file in try FileManager.default.contentsOfDirectory(atPath: harness.directory.path) {
                chown(harness.directory.file(file), 65534, 65534)
            }
            // The real binary run as `nobody` (uid 65534), for file modes to bind it.
            func launchAsNobody(_ command: String, name: String) throws -> DaemonProcess {
                try DaemonProcess(arguments: harness.arguments(command), environment: DaemonHarness.fastEnvironment, directory: harness.directory,
                                  name: name, launcher: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
            }
            let daemon = try launchAsNobody("run", name: "nobody")
            defer { daemon.signal(SIGKILL) }
            try await eventually("the daemon drained the first rows") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "10"
            }
            for file in ["orders.db", "orders.db-wal", "orders.db-shm"] { chmod(harness.directory.file(file), 0o444) }
            chmod(harness.directory.path, 0o555)
            defer { chmod(harness.directory.path, 0o777) }
            try harness.insert(returns(Array(numbers.suffix(10))))  // root may still write
            try await eventually("the running daemon drains new rows through the descriptors it holds") {
                try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "20" || !daemon.process.isRunning
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait() == 0, "\(daemon.stderr.suffix(2000))")

            let before = try Data(contentsOf: URL(fileURLWithPath: harness.database))
            try harness.insert([("return", "GB", "+442079999999", nil, "ANH")])
            _ = try harness.sqlite("PRAGMA wal_checkpoint(TRUNCATE)")
            let snapshot = try Data(contentsOf: URL(fileURLWithPath: harness.database))
            let restarted = try launchAsNobody("drain", name: "restart")
            let status = try await restarted.wait(timeout: .seconds(20))
            #expect(status != 0, "a non-zero exit")
            let message = restarted.stderr.lowercased()
            #expect(message.contains("read-only") || message.contains("readonly"), "a clear error: \(restarted.stderr.suffix(2000))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: harness.database)) == snapshot, "nothing written")
            #expect(before.count > 0)
            #expect(try harness.value("SELECT state || ':' || attempts FROM requests WHERE range_start = '+442079999999'") == "queued:0")
            #expect(try harness.value("PRAGMA integrity_check") == "ok")
        }
    }

    /// The disk fills up mid-drain (a small tmpfs): a clear error and a non-zero exit; the file
    /// passes `PRAGMA integrity_check`; once space is freed a restart finishes every row with
    /// its own tracking id and no duplicate order.
    @Test(.enabled(if: canMountTmpfs(), "skipped: mounting a tmpfs is not permitted here (needs root and CAP_SYS_ADMIN)"))
    func aFullDisk() async throws {
        let numbers = londonNumbers(300)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.trackingIDMode = .ignore  // a resent tracking id is processed again: duplicates would show
        }
        try await harness.inScope {
            let mount = harness.directory.file("disk")
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            let mounted = try run("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount])
            try #require(mounted.status == 0, "\(mounted.stderr)")
            defer { _ = try? run("/usr/bin/umount", ["-l", mount]) }
            let database = mount + "/orders.db"
            let migrate = try run(builtBinary(), ["migrate", "--database", database])
            try #require(migrate.status == 0, "\(migrate.stderr)")
            var sql = "BEGIN;"
            for number in numbers { sql += "INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '\(number)', 'ANH');" }
            sql += "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);"
            #expect(try sqlite3(database, sql).status == 0)
            // Leave about 48 KiB free: enough to start, not enough for 300 rows' journal.
            let free = try #require((try FileManager.default.attributesOfFileSystem(forPath: mount)[.systemFreeSize] as? NSNumber)?.intValue)
            let filler = mount + "/filler"
            FileManager.default.createFile(atPath: filler, contents: Data(count: max(0, free - 48 * 1024)))

            var arguments = harness.arguments("drain")
            arguments[arguments.firstIndex(of: "--database")! + 1] = database
            let daemon = try DaemonProcess(arguments: arguments, environment: DaemonHarness.fastEnvironment, directory: harness.directory, name: "full")
            let status = try await daemon.wait(timeout: .seconds(60))
            #expect(status != 0, "a non-zero exit")
            #expect(daemon.stderr.contains("disk is full") || daemon.stderr.contains("database or disk is full"), "a clear error: \(daemon.stderr.suffix(2000))")
            let settled = Int(try sqliteValue(database, "SELECT count(*) FROM requests WHERE state = 'in_progress'")) ?? -1
            #expect(settled < 300, "the disk filled before the drain ended (\(settled) accepted)")
            #expect(try sqliteValue(database, "PRAGMA integrity_check") == "ok")

            try FileManager.default.removeItem(atPath: filler)
            let again = try DaemonProcess(arguments: arguments, environment: DaemonHarness.fastEnvironment, directory: harness.directory, name: "again")
            #expect(try await again.wait(timeout: .seconds(60)) == 0, "\(again.stderr.suffix(2000))")
            #expect(try sqliteValue(database, "PRAGMA integrity_check") == "ok")
            let rows = try sqlite3(database, "SELECT tracking_id, order_id, state FROM requests").stdout.split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
            #expect(rows.count == 300 && rows.allSatisfy { $0.count == 3 && $0[2] == "in_progress" }, "every row accepted")
            #expect(try sqliteValue(database, "SELECT count(*) FROM (SELECT request_id FROM attempts GROUP BY request_id HAVING count(DISTINCT tracking_id) > 1)") == "0")
            let orders = await harness.sandbox.orders()
            #expect(orders.count == 300, "one order per row")
            let recorded = Dictionary(uniqueKeysWithValues: rows.filter { $0.count == 3 }.map { ($0[0], $0[1]) })
            #expect(orders.allSatisfy { recorded[$0.trackingID] == $0.id })
        }
    }

    /// Rows that slipped past the insert-time checks (inserted with CHECK constraints off) are
    /// validated again by the daemon: `invalid`, with a message naming the column; never sent.
    @Test func rowsThatBypassedTheChecksBecomeInvalid() async throws {
        let numbers = londonNumbers(1)
        let harness = try await DaemonHarness.start { $0.inventory = activated(numbers) }
        try await harness.inScope {
            try harness.createSchema()
            let hostile: [(values: String, column: String)] = [
                ("'retour', 'GB', '+442071000001', '+442071000001', NULL, NULL", "action"),
                ("'return', 'UK', '+442071000002', '+442071000002', NULL, NULL", "country"),
                ("'return', 'GB', '+042071000003', '+042071000003', NULL, NULL", "range_start"),
                ("'return', 'GB', '+44 2071000004', '+44 2071000004', NULL, NULL", "range_start"),
                ("'return', 'GB', '+1234', '+1234', NULL, NULL", "range_start"),
                ("'return', 'GB', '+442071000006', '+442071000005', NULL, NULL", "range_end"),
                ("'return', 'GB', '+442071000007', '+4420710000070', NULL, NULL", "range_end"),
                ("'return', 'GB', '+442071000008', '+442071000008', 'A B', NULL", "service_profile"),
                ("'return', 'GB', '+442071000009', '+442071000009', NULL, 'has space'", "tracking_id"),
                ("'return', 'GB', 442071000010, 442071000010, NULL, NULL", "range_start"),
            ]
            var sql = "PRAGMA ignore_check_constraints = ON; BEGIN;"
            for row in hostile {
                sql += "INSERT INTO requests (action, country, range_start, range_end, service_profile, tracking_id) VALUES (\(row.values));"
            }
            sql += "INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '\(numbers[0])', 'ANH'); COMMIT;"
            let inserted = try harness.sqlite(sql)
            try #require(inserted.status == 0, "\(inserted.stderr)")
            #expect(try harness.value("SELECT count(*) FROM requests") == "\(hostile.count + 1)")

            let (status, log) = try await harness.drain()
            #expect(status == 0, "\(log.suffix(2000))")
            let rows = try harness.rows("SELECT id, state, coalesce(last_error, ''), attempts FROM requests ORDER BY id")
            for (row, expected) in zip(rows, hostile) {
                #expect(row[1] == "invalid", "\(row)")
                #expect(row[2].hasPrefix(expected.column + ":") || row[2].contains(expected.column), "the message names \(expected.column): \(row)")
                #expect(row[3] == "0", "no attempt spent")
            }
            #expect(rows.last?[1] == "in_progress", "the valid row beside them goes through")
            #expect(await harness.sandbox.requestCount(path: orderPath) == 1, "nothing invalid was sent")
            #expect(try harness.value("SELECT count(*) FROM attempts") == "1")
        }
    }
}
