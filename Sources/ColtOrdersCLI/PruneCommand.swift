import ArgumentParser
import Foundation
import OrderStore

/// `colt-orders prune`: remove old settled requests and their attempts.
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove settled requests (completed, rejected, invalid, failed, cancelled) and their attempts, older than an age.",
        discussion: "Age is counted from the row's last change (updated_at). Rows still queued, submitting, retrying or in progress are never removed. Works in small batches, so the daemon is never held up.")

    @OptionGroup var options: DatabaseOptions

    @Option(name: .long, help: "How old a settled row must be: 90d, 12h, 2w (a bare number is days).")
    var olderThan: String

    @Flag(name: .long, help: "Only count what would be removed.")
    var dryRun = false

    @Option(name: .long, help: "Rows per transaction.")
    var batchSize = 500

    func validate() throws {
        guard parseAge(olderThan) != nil else {
            throw ValidationError("--older-than must be an age such as 90d, 12h or 2w, not '\(olderThan)'")
        }
        if !(1...100_000).contains(batchSize) { throw ValidationError("--batch-size must be from 1 to 100000") }
    }

    func run() throws {
        let cutoff = Date().addingTimeInterval(-(parseAge(olderThan) ?? 0))
        let db = dryRun ? try options.openForReading() : try options.openForWriting()
        let report = try ledgerAction {
            try Ledger.prune(db, olderThan: cutoff, dryRun: dryRun, batchSize: batchSize, pause: .milliseconds(5))
        }
        let verb = dryRun ? "would remove" : "removed"
        print("\(verb) \(report.requests) settled requests and \(report.attempts) attempts last changed before \(Timestamp.string(cutoff))")
    }
}
