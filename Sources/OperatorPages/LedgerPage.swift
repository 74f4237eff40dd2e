import ColtModel
import Foundation
import OrderStore

/// The ledger page's filters, as read from its query string.
public struct LedgerQuery: Sendable, Equatable {
    /// The age filter's choices: `lt1h` (created less than an hour ago) ... `gt7d` (more than a week ago).
    public static let ages: [(value: String, label: String, seconds: TimeInterval, older: Bool)] = [
        ("lt1h", "less than 1 h old", 3600, false), ("lt24h", "less than 24 h old", 86_400, false),
        ("lt7d", "less than 7 days old", 7 * 86_400, false), ("gt1h", "more than 1 h old", 3600, true),
        ("gt24h", "more than 24 h old", 86_400, true), ("gt7d", "more than 7 days old", 7 * 86_400, true),
    ]

    public var state: String?
    public var action: String?
    public var country: String?
    public var age: String?
    public var before: Int64?
    /// A search (number, order id, tracking id, `#id`); filters do not apply to it.
    public var search: String?

    public init() {}

    /// Reads the query parameters; a value that is not one of the choices is a problem in words.
    public static func parse(_ parameters: [String: String]) -> Result<LedgerQuery, LedgerQueryError> {
        var query = LedgerQuery()
        func value(_ name: String) -> String? {
            guard let text = parameters[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        if let state = value("state") {
            guard Ledger.states.contains(state) else { return .failure(.init("state must be one of \(Ledger.states.joined(separator: ", "))")) }
            query.state = state
        }
        if let action = value("action") {
            guard OrderAction(rawValue: action) != nil else { return .failure(.init("action must be return or reactivate")) }
            query.action = action
        }
        if let country = value("country")?.uppercased() {
            guard Country(rawValue: country) != nil else {
                return .failure(.init("country must be one of \(Country.allCases.map(\.rawValue).joined(separator: " "))"))
            }
            query.country = country
        }
        if let age = value("age") {
            guard ages.contains(where: { $0.value == age }) else { return .failure(.init("age must be one of \(ages.map(\.value).joined(separator: ", "))")) }
            query.age = age
        }
        if let before = value("before") {
            guard let id = Int64(before), id > 0 else { return .failure(.init("before must be a request id")) }
            query.before = id
        }
        if let search = value("q") {
            guard search.utf8.count <= 255 else { return .failure(.init("the search text is longer than 255 bytes")) }
            query.search = search
        }
        return .success(query)
    }

    /// The database filter for these choices, `limit` rows a page.
    public func filter(now: Date, limit: Int) -> LedgerFilter {
        var filter = LedgerFilter(state: state, action: action, country: country, before: before, limit: limit,
                                  examineAtMost: LedgerFilter.pageExamineLimit)
        if let age, let choice = Self.ages.first(where: { $0.value == age }) {
            let cut = now.addingTimeInterval(-choice.seconds)
            if choice.older { filter.createdBefore = cut } else { filter.since = cut }
        }
        return filter
    }

    /// The link to the page of rows below `before`, with the same filters.
    func link(before: Int64) -> String {
        var parts: [String] = []
        for (name, value) in [("state", state), ("action", action), ("country", country), ("age", age)] {
            if let value { parts.append("\(name)=\(value)") }  // every value is one of a fixed set of words
        }
        parts.append("before=\(before)")
        return "/ledger?" + parts.joined(separator: "&")
    }
}

/// Why the ledger page's query was refused.
public struct LedgerQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// What the ledger page shows.
public struct LedgerPageData: Sendable {
    public var query: LedgerQuery
    public var page: LedgerPage?
    public var search: LedgerSearch?
    public var problem: String?
    public var now: Date

    public init(query: LedgerQuery, page: LedgerPage? = nil, search: LedgerSearch? = nil, problem: String? = nil, now: Date) {
        self.query = query
        self.page = page
        self.search = search
        self.problem = problem
        self.now = now
    }
}

struct LedgerView: PageView {
    struct Option { var value: String; var label: String; var selected: Bool }
    struct Row {
        var id: Int64, action: String, country: String, range: String, state: String
        var orderID: String, orderStatus: String?, attempts: Int, age: String, note: String
    }
    struct Search { var text: String; var understoodAs: String; var found: String }

    var title = "Ledger"
    var onLedger = true
    var footer = PageFooter.text
    var searchText: String
    var stateOptions: [Option]
    var actionOptions: [Option]
    var countryOptions: [Option]
    var ageOptions: [Option]
    var rows: [Row]
    var hasRows: Bool
    var nextPage: String?
    /// Said when the page stopped looking before it was full.
    var stopped: String?
    var search: Search?
    var problem: String?

    init(_ data: LedgerPageData) {
        let query = data.query
        searchText = query.search ?? ""
        func options(_ values: [String], _ selected: String?) -> [Option] {
            values.map { Option(value: $0, label: $0, selected: $0 == selected) }
        }
        stateOptions = options(Ledger.states, query.state)
        actionOptions = options(OrderAction.allCases.map(\.rawValue), query.action)
        countryOptions = options(Country.allCases.map(\.rawValue), query.country)
        ageOptions = LedgerQuery.ages.map { Option(value: $0.value, label: $0.label, selected: $0.value == query.age) }
        let entries = data.search?.entries ?? data.page?.entries ?? []
        rows = entries.map { entry in
            Row(id: entry.id, action: entry.action, country: entry.country, range: entry.range, state: entry.state,
                orderID: entry.orderID ?? "", orderStatus: entry.orderStatus, attempts: entry.attempts,
                age: Words.age(of: entry.createdAt, now: data.now), note: entry.attention ?? entry.lastError ?? "")
        }
        hasRows = !rows.isEmpty
        nextPage = data.page?.nextBefore.map { query.link(before: $0) }
        if let page = data.page, let bottom = page.stoppedAt {
            stopped = "\(page.entries.isEmpty ? "No request" : "No other request") from id \(bottom) up matches (a page looks through \(LedgerFilter.pageExamineLimit) ids at most); older rows may."
        }
        if let found = data.search {
            let count = found.entries.count
            search = Search(text: query.search ?? "", understoodAs: found.understoodAs.joined(separator: ", "),
                            found: count == 0 ? "nothing found" : "\(count)\(found.truncated ? "+" : "") request\(count == 1 ? "" : "s")")
        }
        problem = data.problem
    }
}
