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
        // After the backup, an operator cancels a row and queues five new ones.
        let cancelled = try harness.value("SELECT min(id) FROM requests WHERE state = 'queued'")
        #expect(try run(builtBinary(), ["cancel", cancelled, "--database", harness.database]).status == 0)
        try harness.insert(returns(londonNumbers(5, from: 2_000_000)))
        let current = try harness.rows("SELECT id, state, tracking_id, order_id FROM requests ORDER BY id")
        let restored = try run(builtBinary(), ["restore", "--database", harness.database, "--from", harness.directory.file("backup.db")])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("restored ") && restored.stdout.contains("will have Colt's inventory read before they are sent again"), "\(restored.stdout)")
        #expect(restored.stdout.contains("1 requests the replaced database had cancelled are cancelled again"), "\(restored.stdout)")
        #expect(restored.stdout.contains("warning: the replaced database has 5 requests added after the backup"), "\(restored.stdout)")
        let strayWAL = (try? FileManager.default.attributesOfItem(atPath: harness.database + "-wal")[.size] as? Int) ?? 0
        #expect(strayWAL == 0, "no -wal of the replaced database is left beside the restored one")
        let aside = try #require(restored.stdout.firstMatch(of: /kept as (\S+)/)?.1).description
        let kept = try sqlite3(aside, "SELECT id, state, tracking_id, order_id FROM requests ORDER BY id").stdout
        #expect(kept == current.map { $0.joined(separator: "|") + "\n" }.joined(), "the replaced database is kept as it was")
        let (status, log) = try await harness.drain()
        #expect(status == 0, "\(log.suffix(2000))")
        #expect(try harness.value("PRAGMA integrity_check") == "ok")
        let states = try harness.rows("SELECT state, count(*) FROM requests GROUP BY state ORDER BY state")
        #expect(states == [["cancelled", "1"], ["in_progress", "599"]], "\(states)")
        #expect(await harness.sandbox.orders().count == 599, "no order was made twice, and the cancelled row was not sent")
        // The ids the replaced database handed out are not handed out again.
        try harness.insert(returns(londonNumbers(1, from: 3_000_000)))
        #expect(try harness.value("SELECT max(id) FROM requests") == "606")
        // A running daemon's database is never restored under it.
        let daemonAgain = try harness.launch("run", name: "again")
        _ = try await statusOrLog(daemonAgain)
        let refused = try run(builtBinary(), ["restore", "--database", harness.database, "--from", harness.directory.file("backup.db")])
        #expect(refused.status == 1 && refused.stderr.contains("Stop it first") && refused.stderr.contains("nothing was restored"), "\(refused.stderr)")
        daemonAgain.signal(SIGTERM)
        _ = try await daemonAgain.wait()
        await harness.sandbox.shutdown()
    }
}

extension BackupTests {
    /// A `-wal` left where the database was (removed by hand) would be replayed onto the
    /// restored file by SQLite: the restore refuses, and puts nothing in place.
    @Test func aRestoreNextToAStrayWALRefuses() throws {
        let directory = try TemporaryDirectory("restore-wal")
        defer { directory.remove() }
        let backup = directory.file("backup.db")
        #expect(try run(builtBinary(), ["migrate", "--database", backup]).status == 0)
        let database = directory.file("orders.db")
        _ = try directory.write("orders.db-wal", String(repeating: "x", count: 4096))
        let result = try run(builtBinary(), ["restore", "--database", database, "--from", backup])
        #expect(result.status == 1 && result.stderr.contains("orders.db-wal: is still there with no database beside it"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: database), "nothing was put in place, and no empty file left")
        let missing = try run(builtBinary(), ["restore", "--database", database, "--from", directory.file("nope.db")])
        #expect(missing.status == 1 && missing.stderr.contains("no such backup"), "\(missing.stderr)")
    }
}

/// Waits until the daemon has started (its first log line about the lock or the engine).
private func statusOrLog(_ daemon: DaemonProcess) async throws -> Bool {
    try await eventually("the daemon started") { daemon.stderr.contains("colt-orders started") }
    return true
}
