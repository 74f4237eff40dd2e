import ArgumentParser
import OrderStore

/// `colt-orders retry ID`: send a rejected or failed request again.
struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Send a rejected or failed request again, under a new tracking id (its history is kept).",
        discussion: "The row goes back to queued with its attempts budget reset. Safe while the daemon runs: one short transaction that re-checks the state.")

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The request's id.")
    var id: Int64

    @Flag(help: "Send it again even though an earlier attempt's outcome is unknown (check with Colt first: it may hold an order already).")
    var force = false

    func run() throws {
        let db = try options.openForWriting()
        let entry = try ledgerAction { try Ledger.retry(db, id: id, force: force) }
        print("request \(entry.id) queued again with tracking id \(entry.trackingID ?? "?") (earlier attempts stay in its history: colt-orders show \(entry.id))")
    }
}
