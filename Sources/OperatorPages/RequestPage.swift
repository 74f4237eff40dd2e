import Foundation
import OrderStore

/// Whether the request page offers cancel and retry, and with what.
public struct PageActions: Sendable, Equatable {
    /// `nil`: the page is read-only, for this reason (shown to the operator).
    public var readOnlyBecause: String?
    /// The token every action form carries (see the status server's CSRF check).
    public var csrfToken: String

    public init(readOnlyBecause: String?, csrfToken: String) {
        self.readOnlyBecause = readOnlyBecause
        self.csrfToken = csrfToken
    }

    public static func readOnly(_ why: String) -> PageActions { PageActions(readOnlyBecause: why, csrfToken: "") }
}

/// A line at the top of the request page: what an action did or why it was refused.
public struct PageNotice: Sendable, Equatable {
    public var text: String
    /// `good` or `bad`.
    public var tone: String

    public init(text: String, tone: String) {
        self.text = text
        self.tone = tone
    }
}

/// What the request page shows.
public struct RequestPageData: Sendable {
    public var entry: LedgerEntry
    public var attempts: [AttemptEntry]
    public var numbers: [NumberEntry]
    public var actions: PageActions
    public var notice: PageNotice?
    public var now: Date

    public init(entry: LedgerEntry, attempts: [AttemptEntry], numbers: [NumberEntry], actions: PageActions,
                notice: PageNotice? = nil, now: Date) {
        self.entry = entry
        self.attempts = attempts
        self.numbers = numbers
        self.actions = actions
        self.notice = notice
        self.now = now
    }
}

struct RequestView: PageView {
    /// At most 4 KiB of a long text, saying where the rest is.
    static func shortened(_ text: String) -> String {
        guard text.utf8.count > 4096 else { return text }
        return String(decoding: text.utf8.prefix(4096), as: UTF8.self) + " … (\(text.utf8.count) bytes in all: colt-orders show ID --json)"
    }

    struct Field { var name: String; var value: String; var style: String }
    struct Attempt {
        var attempt: Int, trackingID: String, started: String, httpStatus: String, outcome: String
        var code: String, message: String, detail: String, duration: String
        /// What Colt's inventory showed, as JSON, for an attempt that read it.
        var evidence: String?
    }
    struct Numbers { var range: String; var count: Int; var status: String; var order: String; var expected: Bool; var checked: String }
    struct Actions {
        var readOnly: Bool, readOnlyWhy: String, csrf: String
        var canCancel: Bool, canRetry: Bool
        /// Shown, with a checkbox that sends `force`, when an earlier attempt's outcome is unknown.
        var forceWarning: String?
    }

    var title: String
    var footer = PageFooter.text
    var searchText = ""
    var id: Int64
    var state: String
    var trackingID: String
    var notice: PageNotice?
    var fields: [Field]
    var attempts: [Attempt]
    var hasAttempts: Bool
    var attemptCount: Int
    var numbers: [Numbers]
    var hasNumbers: Bool
    var actions: Actions

    init(_ data: RequestPageData) {
        let entry = data.entry
        title = "Request \(entry.id)"
        id = entry.id
        state = entry.state
        trackingID = entry.trackingID ?? ""
        notice = data.notice
        func field(_ name: String, _ value: String?, mono: Bool = false) -> Field? {
            guard let value, !value.isEmpty else { return nil }
            return Field(name: name, value: value, style: mono ? "mono" : "")
        }
        let age = Words.age(of: entry.createdAt, now: data.now)
        fields = [
            field("Action", entry.action), field("Country", entry.country), field("Range", entry.range, mono: true),
            field("Service profile", entry.serviceProfile, mono: true), field("State", entry.state),
            field("Tracking id", entry.trackingID, mono: true), field("Colt order", entry.orderID, mono: true),
            field("Order status", entry.orderStatus), field("Attempts spent", String(entry.attempts)),
            field("Outcome unknown", entry.outcomeUnknown ? "yes: an attempt under this tracking id may have created an order" : nil),
            field("Needs a look", entry.attention), field("Last error", entry.lastError), field("Colt code", entry.coltCode, mono: true),
            field("Next attempt", Words.time(entry.nextAttemptAt)), field("First sent", Words.time(entry.firstAttemptAt)),
            field("Inventory reads", entry.lookups > 0 ? String(entry.lookups) : nil),
            field("Last checked", Words.time(entry.checkedAt)), field("Next check", Words.time(entry.nextCheckAt)),
            field("Completed", Words.time(entry.completedAt)),
            field("Created", Words.time(entry.createdAt) + (age.isEmpty ? "" : " (\(age) ago)")), field("Updated", Words.time(entry.updatedAt)),
        ].compactMap { $0 }
        attempts = data.attempts.map { attempt in
            Attempt(attempt: attempt.attempt, trackingID: attempt.trackingID, started: Words.time(attempt.startedAt),
                    httpStatus: attempt.httpStatus.map(String.init) ?? "", outcome: attempt.outcome ?? (attempt.endedAt == nil ? "in flight" : ""),
                    code: [attempt.coltCode, attempt.coltReason].compactMap { $0 }.joined(separator: " / "),
                    message: attempt.coltMessage ?? "", detail: attempt.detail ?? "",
                    duration: attempt.durationMilliseconds.map(String.init) ?? "", evidence: attempt.evidence.map(Self.shortened))
        }
        hasAttempts = !attempts.isEmpty
        attemptCount = attempts.count
        numbers = data.numbers.map { run in
            Numbers(range: run.firstNumber == run.lastNumber ? run.firstNumber : "\(run.firstNumber)..\(run.lastNumber)", count: run.numbers,
                    status: run.status ?? "(not given)", order: [run.orderID, run.orderStatus].compactMap { $0 }.joined(separator: " "),
                    expected: run.expected, checked: Words.time(run.checkedAt))
        }
        hasNumbers = !numbers.isEmpty
        // The same states the CLI's cancel and retry accept; the database re-checks them.
        let state = RequestState(rawValue: entry.state)
        let canCancel = state.map(RequestState.cancellable.contains) ?? false
        let canRetry = state.map(RequestState.retryable.contains) ?? false
        let forceWarning = canRetry && entry.outcomeUnknown
            ? "An earlier attempt's outcome is unknown, so Colt may already hold an order under tracking id \(entry.trackingID ?? "?"). Sending again under a new tracking id could create a second order. Check these numbers with Colt first."
            : nil
        actions = Actions(readOnly: data.actions.readOnlyBecause != nil, readOnlyWhy: data.actions.readOnlyBecause ?? "",
                          csrf: data.actions.csrfToken, canCancel: canCancel, canRetry: canRetry, forceWarning: forceWarning)
    }
}
