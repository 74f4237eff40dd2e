import ArgumentParser
import Foundation
import OrderStore

/// `colt-orders show ID`: one request and its full attempt history.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one request and every HTTP attempt made for it.",
        discussion: "Opens the database read-only: safe while the daemon runs, and never blocks it.")

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The request's id.")
    var id: Int64

    @Flag(name: .long, help: "Print JSON, for scripts.")
    var json = false

    struct Output: Encodable {
        var request: LedgerEntry
        var attempts: [AttemptEntry]
        var numbers: [NumberEntry]
    }

    func run() throws {
        let db = try options.openForReading()
        let (entry, attempts, numbers) = try ledgerAction { () throws -> (LedgerEntry, [AttemptEntry], [NumberEntry]) in
            try db.transaction(.deferred) {
                guard let entry = try Ledger.entry(db, id: id) else {
                    throw LedgerError(.notFound, "request \(id): no such request (see `colt-orders list`)")
                }
                return (entry, try Ledger.attempts(db, requestID: id), try Ledger.numbers(db, requestID: id))
            }
        }
        if json {
            try printJSON(Output(request: entry, attempts: attempts, numbers: numbers))
            return
        }
        let fields: [(String, String?)] = [
            ("id", String(entry.id)), ("action", entry.action), ("country", entry.country), ("range", entry.range),
            ("service_profile", entry.serviceProfile), ("state", entry.state), ("tracking_id", entry.trackingID),
            ("order_id", entry.orderID), ("order_status", entry.orderStatus), ("attempts", String(entry.attempts)),
            ("next_attempt_at", entry.nextAttemptAt), ("outcome_unknown", entry.outcomeUnknown ? "yes: an attempt may have created an order" : "no"),
            ("colt_code", entry.coltCode), ("last_error", entry.lastError), ("first_attempt_at", entry.firstAttemptAt),
            ("created_at", "\(entry.createdAt) (\(formatAge(age(of: entry.createdAt))) ago)"), ("updated_at", entry.updatedAt),
            ("inventory_reads", entry.lookups > 0 ? String(entry.lookups) : nil), ("checked_at", entry.checkedAt),
            ("next_check_at", entry.nextCheckAt), ("completed_at", entry.completedAt), ("attention", entry.attention),
        ]
        let width = fields.map(\.0.count).max() ?? 0
        for (name, value) in fields {
            print(name + String(repeating: " ", count: width - name.count) + "  " + TerminalText.safe(value ?? "-"))
        }
        print("")
        if attempts.isEmpty {
            print("no attempts yet")
            return
        }
        var table = TextTable(["#", "tracking_id", "started_at", "http", "outcome", "ms", "colt_code", "detail"])
        table.maxCellWidth = 100
        for attempt in attempts {
            let colt = [attempt.coltCode, attempt.coltMessage].compactMap { $0 }.joined(separator: " ")
            table.append([String(attempt.attempt), attempt.trackingID, attempt.startedAt, attempt.httpStatus.map(String.init) ?? "",
                          attempt.outcome ?? (attempt.endedAt == nil ? "(in flight)" : ""), attempt.durationMilliseconds.map(String.init) ?? "",
                          attempt.coltCode ?? "", (attempt.detail ?? "") + (colt.isEmpty || attempt.detail?.contains(attempt.coltMessage ?? "\u{0}") == true ? "" : " — Colt: \(colt)")])
        }
        print(table.render())
        guard !numbers.isEmpty else { return }
        print("")
        print("numbers, as Colt's inventory last showed them (order_numbers):")
        var shown = TextTable(["numbers", "count", "status", "expected", "order_id", "order_status", "checked_at"])
        for run in numbers {
            shown.append([run.firstNumber == run.lastNumber ? run.firstNumber : "\(run.firstNumber)..\(run.lastNumber)", String(run.numbers),
                          run.status ?? "-", run.expected ? "yes" : "NO", run.orderID ?? "", run.orderStatus ?? "", run.checkedAt])
        }
        print(shown.render())
    }
}
