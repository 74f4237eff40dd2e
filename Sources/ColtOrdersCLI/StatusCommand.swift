import ArgumentParser
import Foundation
import OrderEngine
import OrderStore

/// `colt-orders status`: counts by state, the oldest waiting rows, the daemon, recent rejections.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the ledger at a glance: rows by state, the oldest waiting rows, rows that need attention, whether a daemon runs, recent rejections.",
        discussion: "Opens the database read-only: safe while the daemon runs, and never blocks it.")

    @OptionGroup var options: DatabaseOptions

    @Flag(name: .long, help: "Print JSON, for scripts.")
    var json = false

    @Option(name: .long, help: "How many recent rejections to show.")
    var rejections = 5

    /// The JSON shape of `status --json`.
    struct Output: Encodable {
        struct Daemon: Encodable {
            var running: Bool
            var pid: Int32?
            var since: String?
        }
        var database: String
        var daemon: Daemon
        var status: LedgerStatus

        enum CodingKeys: String, CodingKey { case database, daemon }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(database, forKey: .database)
            try container.encode(daemon, forKey: .daemon)
            try status.encode(to: encoder)
        }
    }

    func run() throws {
        let path = try options.path()
        let db = try options.openForReading()
        let now = Date()
        let status = try ledgerAction { try Ledger.status(db, now: now, rejections: max(0, rejections)) }
        let holder = DaemonLock.holder(ofDatabase: path)
        if json {
            try printJSON(Output(database: path, daemon: .init(running: holder != nil, pid: holder?.pid, since: holder?.since), status: status))
            return
        }
        print("database  \(TerminalText.safe(path))")
        if let holder {
            let since = holder.since.map { " since \(TerminalText.safe($0)) (\(formatAge(age(of: $0, now: now))) ago)" } ?? ""
            print("daemon    running, pid \(holder.pid)\(since)")
        } else {
            print("daemon    not running")
        }
        print("")
        var table = TextTable(["state", "rows"])
        for state in Ledger.states { table.append([state, String(status.counts[state] ?? 0)]) }
        table.append(["total", String(status.counts.values.reduce(0, +))])
        print(table.render())
        print("")
        func describe(_ oldest: LedgerStatus.Oldest?) -> String {
            oldest.map { "#\($0.id), \(formatAge($0.ageSeconds)) old (created \(TerminalText.safe($0.createdAt)))" } ?? "none"
        }
        print("oldest queued       \(describe(status.oldestQueued))")
        print("oldest retrying     \(describe(status.oldestRetrying))")
        print("oldest reconciling  \(describe(status.oldestReconciling))")
        print("stalled orders      \(status.stalled)")
        print("unexpected final    \(status.unexpectedFinalStatus)")
        if !status.attention.isEmpty {
            print("")
            print("needs attention (SELECT * FROM ledger_attention):")
            var table = TextTable(["id", "state", "range", "order_id", "reason"])
            table.maxCellWidth = 120
            for item in status.attention { table.append([String(item.id), item.state, item.range, item.orderID ?? "", item.reason]) }
            print(table.render())
        }
        if !status.recentRejections.isEmpty {
            print("")
            print("recent rejections:")
            var rejected = TextTable(["id", "range", "rejected_at", "colt_code", "message"])
            rejected.maxCellWidth = 100
            for item in status.recentRejections {
                rejected.append([String(item.id), item.range, item.rejectedAt, item.coltCode ?? "", item.message ?? ""])
            }
            print(rejected.render())
        }
    }
}
