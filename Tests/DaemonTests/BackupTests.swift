import ColtSandbox
import Foundation
import Testing
import TestSupport

/// `colt-orders backup` while the daemon drains, and a restore from it.
@Suite struct BackupTests {
    @Test func aBackupDuringADrainIsWholeAndRestores() async throws {
        let numbers = londonNumbers(600)
        let harness = try await DaemonHarness.start {
            $0.inventory = activated(numbers)
            $0.faults = [.latency(milliseconds: 20, path: .order)]
        }
        defer { harness.directory.remove() }
        try harness.createSchema()
        try harness.insert(returns(numbers))
        let daemon = try harness.launch("run", environment: ["COLT_ORDERS_SUBMIT_RATE_PER_SECOND": "300"])
        do {
            try await eventually("the drain is under way") {
                try Int(harness.value("SELECT count(*) FROM requests WHERE state = 'in_progress'")) ?? 0 >= 100
            }
            // Every row committed before the backup begins must be in it, with at least that state.
            let before = try harness.rows("SELECT id, state, tracking_id FROM requests WHERE state = 'in_progress' ORDER BY id")
            let copy = harness.directory.file("backup.db")
            let result = try run(builtBinary(), ["backup", "--database", harness.database, "--to", copy])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("integrity_check ok") && result.stdout.contains("600 requests"), "\(result.stdout)")
            #expect(try Int(harness.value("SELECT count(*) FROM requests WHERE state IN ('queued', 'submitting')")) ?? 0 > 0,
                    "the daemon was still sending while the backup was taken")

            // A single file that sqlite3 opens by itself, whole.
            #expect(!FileManager.default.fileExists(atPath: copy + "-wal") && !FileManager.default.fileExists(atPath: copy + ".partial"))
            #expect(try sqliteValue(copy, "PRAGMA integrity_check") == "ok")
            #expect(try sqliteValue(copy, "PRAGMA journal_mode") == "delete")
            let inCopy = try sqlite3(copy, "SELECT id, state, tracking_id FROM requests WHERE state = 'in_progress' ORDER BY id").stdout
            for row in before {
                #expect(inCopy.contains(row.joined(separator: "|")), "row \(row[0]), in_progress before the backup, is in it")
            }
            // It never overwrites.
            let again = try run(builtBinary(), ["backup", "--database", harness.database, "--to", copy])
            #expect(again.status == 1 && again.stderr.contains("exists already"), "\(again.stderr)")
        } catch {
            daemon.signal(SIGKILL)
            _ = try? await daemon.wait()
            await harness.sandbox.shutdown()
            throw error
        }
        daemon.signal(SIGTERM)
        #expect(try await daemon.wait() == 0)

        // Restore, the service stopped. The backup is older than what the daemon sent: rows it
        // shows as queued may have orders at Colt already. They are checked against Colt's
        // inventory before anything is sent, so each row ends with exactly one order.
        let current = try harness.rows("SELECT id, state, tracking_id, order_id FROM requests ORDER BY id")
        let restored = try run(builtBinary(), ["restore", "--database", harness.database, "--from", harness.directory.file("backup.db")])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("restored ") && restored.stdout.contains("will have Colt's inventory read before they are sent"), "\(restored.stdout)")
        let aside = try #require(restored.stdout.firstMatch(of: /kept as (\S+)/)?.1).description
        let kept = try sqlite3(aside, "SELECT id, state, tracking_id, order_id FROM requests ORDER BY id").stdout
        #expect(kept == current.map { $0.joined(separator: "|") + "\n" }.joined(), "the replaced database is kept as it was")
        let (status, log) = try await harness.drain()
        #expect(status == 0, "\(log.suffix(2000))")
        #expect(try harness.value("PRAGMA integrity_check") == "ok")
        let states = try harness.rows("SELECT state, count(*) FROM requests GROUP BY state")
        #expect(states == [["in_progress", "600"]], "\(states)")
        #expect(await harness.sandbox.orders().count == 600, "no order was made twice")
        // A running daemon's database is never restored under it.
        let daemonAgain = try harness.launch("run", name: "again")
        _ = try await statusOrLog(daemonAgain)
        let refused = try run(builtBinary(), ["restore", "--database", harness.database, "--from", harness.directory.file("backup.db")])
        #expect(refused.status == 1 && refused.stderr.contains("stop the service first"), "\(refused.stderr)")
        daemonAgain.signal(SIGTERM)
        _ = try await daemonAgain.wait()
        await harness.sandbox.shutdown()
    }
}

/// Waits until the daemon has started (its first log line about the lock or the engine).
private func statusOrLog(_ daemon: DaemonProcess) async throws -> Bool {
    try await eventually("the daemon started") { daemon.stderr.contains("colt-orders started") }
    return true
}
