import ArgumentParser
import OrderStore

/// `colt-orders cancel ID`: cancel a request Colt has not accepted yet.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a request that Colt has not accepted yet (queued or retrying).",
        discussion: "A request being submitted right now (submitting) is refused: try again in a moment. Safe while the daemon runs: one short transaction that re-checks the state.")

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The request's id.")
    var id: Int64

    func run() throws {
        let db = try options.openForWriting()
        let entry = try ledgerAction { try Ledger.cancel(db, id: id) }
        print(TerminalText.safe("request \(entry.id) cancelled (\(entry.action) \(entry.country) \(entry.range))"))
        if entry.outcomeUnknown {
            print("warning: an earlier attempt's answer was lost, so Colt may have created an order under tracking id \(TerminalText.safe(entry.trackingID ?? "?")); check with Colt before treating the numbers as untouched")
        }
    }
}
