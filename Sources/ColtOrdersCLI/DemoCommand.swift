import ArgumentParser
import ColtClient
import ColtSandbox
import Foundation
import Logging
import OrderEngine
import OrderStore

/// `colt-orders demo`: the whole product in one command, against the embedded Colt sandbox.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the daemon against the embedded Colt sandbox on a fresh database and print the ledger.",
        discussion: """
            Starts the sandbox on a loopback port, creates DIRECTORY/orders.db, queues a realistic mix
            of return and reactivate requests (some Colt refuses, one that fails validation), drains
            them with the real engine, follows the accepted orders through Colt's inventory until
            they complete (in compressed time: seconds, not days), prints the ledger, and suggests
            sqlite3 commands to try next. The sandbox plays the sparse Colt: it does not replay
            tracking ids, and its inventory answer holds only the number, its resourceStatus and
            the order it carries.
            """)

    @Option(help: "Where to put the demo's database and secret file (recreated each run).")
    var directory = "demo-output"

    @Option(help: "Log level of the daemon's lines: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    /// The demo's requests: what an operator might queue on a busy morning.
    static let rows: [(action: String, country: String, start: String, end: String?, profile: String?, note: String)] = [
        ("return", "GB", "+442081324758", nil, "ANH", "Activated → Quarantined"),
        ("return", "GB", "+442081324760", "+442081324769", "ANH", "a range of ten, Activated → Quarantined"),
        ("return", "GB", "+442081324770", nil, "ANH", "Reserved → Free"),
        ("return", "FR", "+33140000001", nil, "PARIS1", "PortIn_Activated → PortIn_Quarantined"),
        ("reactivate", "DE", "+496930000001", nil, "FRA", "Quarantined → Activated"),
        ("return", "NL", "+31882000001", nil, "AMS", "NL 088: Returned at once"),
        ("return", "CZ", "+420222000002", nil, "PRG", "Zone B Reserved → Free"),
        ("reactivate", "GB", "+442081324773", nil, "ANH", "refused: no port-in reactivation in GB"),
        ("return", "FR", "+33478000001", nil, nil, "refused: FR has two service profiles"),
        ("return", "GB", "+442081324772", nil, "ANH", "refused: already Quarantined"),
        ("return", "GB", "+442081324799", nil, "ANH", "refused: not in the inventory"),
    ]

    func run() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let databasePath = directory + "/orders.db"
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: databasePath + suffix) }

        var sandboxConfiguration = SandboxConfiguration()
        // A first answer of 503 and a 429 show the retries; an order whose answer is lost (504)
        // shows reconciliation; the rest is Colt's own rules.
        sandboxConfiguration.faults = [
            .status(503, retryAfter: "1", times: 1),
            .status(429, retryAfter: "1", times: 1, after: 3),
            .fault(.createThen504, times: 1, after: 1),
        ]
        sandboxConfiguration.trackingIDMode = .ignore
        sandboxConfiguration.numberShape = .minimal
        sandboxConfiguration.completionDelay = .milliseconds(1500)
        var sandboxLogger = Logger(label: "colt-sandbox")
        sandboxLogger.logLevel = .warning
        let sandbox = try await ColtSandbox.start(sandboxConfiguration, logger: sandboxLogger)
        let secretFile = directory + "/client-secret"
        try (sandboxConfiguration.clientSecret + "\n").write(toFile: secretFile, atomically: true, encoding: .utf8)
        chmod(secretFile, 0o600)
        print("colt sandbox listening on \(sandbox.baseURL)")

        let database = try Database(path: databasePath)
        try database.useNow { db in
            try Migrator.migrate(db)
            print("\ncreated \(databasePath); queueing \(Self.rows.count + 1) requests:")
            for row in Self.rows {
                try db.run("INSERT INTO requests (action, country, range_start, range_end, service_profile) VALUES (?, ?, ?, ?, ?)",
                           [.text(row.action), .text(row.country), .text(row.start), .text(row.end), .text(row.profile)])
                print("  \(row.action) \(row.country) \(row.start)\(row.end.map { "..\($0)" } ?? "")  (\(row.note))")
            }
            // The checks refuse a bad row at INSERT time, naming the column...
            do {
                try db.run("INSERT INTO requests (action, country, range_start) VALUES ('return', 'UK', '+442081324759')")
            } catch {
                print("\nsqlite refuses a bad row at INSERT time:\n  \((error as? DatabaseError)?.message ?? "\(error)")")
            }
            // ...and a row from before a check (inserted here with checks off) is caught by the daemon.
            try db.execute("PRAGMA ignore_check_constraints = ON")
            try db.run("INSERT INTO requests (action, country, range_start) VALUES ('return', 'UK', '+442081324759')")
            try db.execute("PRAGMA ignore_check_constraints = OFF")
            print("and one row that bypassed the checks (country 'UK') is queued, to show the daemon's own validation.\n")
        }

        var client = ColtClientConfiguration(baseURL: sandbox.baseURL, clientID: sandboxConfiguration.clientID, clientSecret: Secret(sandboxConfiguration.clientSecret))
        client.requestTimeout = .seconds(10)
        var engine = EngineConfiguration()
        engine.retry.initialDelay = .milliseconds(500)
        engine.maxInFlight = 4
        engine.tracking.checkInterval = .seconds(1)
        let settings = Settings(databasePath: databasePath, client: client, engine: engine,
                                logLevel: .init(rawValue: logLevel) ?? .info, resolved: [:])
        do {
            try await Daemon.run(settings: settings, mode: .drainUntilCompleted)
        } catch {
            await sandbox.shutdown()
            throw error
        }
        await sandbox.shutdown()

        print("\nThe ledger (\(databasePath)):\n")
        let ledger = try database.useNow { db in
            try db.query("""
                SELECT id, action, country, range_start, range_end, state, coalesce(order_id, ''), coalesce(order_status, ''), attempts,
                       coalesce(attention, last_error, (SELECT detail FROM attempts WHERE request_id = requests.id AND outcome = 'reconciled' ORDER BY id DESC LIMIT 1), '')
                FROM requests ORDER BY id
                """) { row in
                let start = row.text(3) ?? "", end = row.text(4) ?? ""
                return [String(row.int(0)), row.text(1) ?? "", row.text(2) ?? "", start == end || end.isEmpty ? start : "\(start)..\(end.suffix(2))",
                        row.text(5) ?? "", row.text(6) ?? "", row.text(7) ?? "", String(row.int(8)), row.text(9) ?? ""]
            }
        }
        var table = TextTable(["id", "action", "country", "range", "state", "order id", "order status", "attempts", "last error / reconciliation"])
        table.maxCellWidth = 70
        ledger.forEach { table.append($0) }
        print(table.render())
        print("""

            Try next:
              sqlite3 \(databasePath) "SELECT id, state, order_id, order_status, attempts, last_error FROM requests;"
              sqlite3 \(databasePath) "SELECT request_id, attempt, tracking_id, http_status, outcome, detail FROM attempts;"
              sqlite3 \(databasePath) "SELECT * FROM order_numbers;"        # each number's final status
              sqlite3 \(databasePath) "SELECT * FROM ledger_attention;"     # what needs an operator
              sqlite3 -cmd '.timeout 5000' \(databasePath) "INSERT INTO requests (action, country, range_start, service_profile) VALUES ('return', 'GB', '+442081324759', 'ANH');"
              sqlite3 \(databasePath) "INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '0208');"   # refused, naming the column
            """)
    }
}
