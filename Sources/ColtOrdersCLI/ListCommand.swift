import ArgumentParser
import ColtModel
import Foundation
import OrderStore

/// `colt-orders list`: the ledger, newest first, a page at a time.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List requests, newest first, a page at a time (--limit, then --before the last id shown).",
        discussion: "Opens the database read-only: safe while the daemon runs, and never blocks it.")

    @OptionGroup var options: DatabaseOptions

    @Option(name: .long, help: "Only this state: \(Ledger.states.joined(separator: ", ")).")
    var state: String?

    @Option(name: .long, help: "Only this action: return or reactivate.")
    var action: String?

    @Option(name: .long, help: "Only this country (GB, DE, ...).")
    var country: String?

    @Option(name: .long, help: "Only rows created since: an age (2h, 7d) or an ISO-8601 UTC time (2026-11-24, 2026-11-24T09:30:00Z).")
    var since: String?

    @Option(name: .long, help: "Rows per page (1 to 10000).")
    var limit = 50

    @Option(name: .long, help: "Keyset paging: only rows with an id below this (the next page starts at the id the previous one suggests).")
    var before: Int64?

    @Flag(name: .long, help: "Print JSON, for scripts.")
    var json = false

    struct Output: Encodable {
        var orders: [LedgerEntry]
        var nextBefore: Int64?
        enum CodingKeys: String, CodingKey { case orders, nextBefore = "next_before" }
    }

    func validate() throws {
        if let state, !Ledger.states.contains(state) {
            throw ValidationError("--state must be one of \(Ledger.states.joined(separator: ", ")), not '\(state)'")
        }
        if let action, OrderAction(rawValue: action) == nil {
            throw ValidationError("--action must be return or reactivate, not '\(action)'")
        }
        if let country, Country(rawValue: country.uppercased()) == nil {
            throw ValidationError("--country must be one of \(Country.allCases.map(\.rawValue).joined(separator: " ")), not '\(country)'")
        }
        if let since, parseSince(since) == nil {
            throw ValidationError("--since must be an age such as 2h or 7d, or an ISO-8601 UTC time such as 2026-11-24T09:30:00Z, not '\(since)'")
        }
        if !(1...10_000).contains(limit) { throw ValidationError("--limit must be from 1 to 10000") }
    }

    func run() throws {
        let db = try options.openForReading()
        let filter = LedgerFilter(state: state, action: action, country: country?.uppercased(),
                                  since: since.flatMap { parseSince($0) }, before: before, limit: limit)
        let page = try ledgerAction { try Ledger.list(db, filter: filter) }
        if json {
            try printJSON(Output(orders: page.entries, nextBefore: page.nextBefore))
            return
        }
        if page.entries.isEmpty {
            print("no requests match")
            return
        }
        let now = Date()
        var table = TextTable(["id", "action", "country", "range", "state", "order_id", "order_status", "attempts", "age", "attention / last_error"])
        for entry in page.entries {
            table.append([String(entry.id), entry.action, entry.country, entry.range, entry.state, entry.orderID ?? "",
                          entry.orderStatus ?? "", String(entry.attempts), formatAge(age(of: entry.createdAt, now: now)),
                          entry.attention ?? entry.lastError ?? ""])
        }
        print(table.render())
        if let next = page.nextBefore {
            print("more: add --before \(next) for the next page")
        }
    }
}
