import Foundation
import OrderStore

/// What the daemon itself is doing, beside what the database says.
public struct DaemonCondition: Sendable, Equatable {
    /// Whether the engine runs (recovered its rows and claims); `false` before it starts and after it stops.
    public var engineRunning: Bool
    public var inFlight: Int
    /// Every submission waits until then (global backoff or a Retry-After).
    public var pausedUntil: Date?
    /// Colt refused the credentials; nothing is sent until then.
    public var credentialsPausedUntil: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
    /// How long the cached Colt token is still valid; `nil` when none is held.
    public var tokenValidFor: Duration?
    /// Why the last token fetch failed, when it did.
    public var tokenFailure: String?

    public init(engineRunning: Bool, inFlight: Int = 0, pausedUntil: Date? = nil, credentialsPausedUntil: Date? = nil,
                lastError: String? = nil, lastErrorAt: Date? = nil, tokenValidFor: Duration? = nil, tokenFailure: String? = nil) {
        self.engineRunning = engineRunning
        self.inFlight = inFlight
        self.pausedUntil = pausedUntil
        self.credentialsPausedUntil = credentialsPausedUntil
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.tokenValidFor = tokenValidFor
        self.tokenFailure = tokenFailure
    }
}

/// How far back the overview's plots reach.
public enum ChartWindow: String, Sendable, CaseIterable {
    case day, week

    public var seconds: TimeInterval { self == .day ? 86_400 : 7 * 86_400 }
}

/// Everything the overview shows, read in one read transaction.
public struct OverviewData: Sendable {
    public var status: LedgerStatus
    /// The last 24 hours' rejections.
    public var rejections: RecentRejections
    public var activity: [HourlyActivity]
    public var completion: CompletionTimes
    public var window: ChartWindow
    public var daemon: DaemonCondition
    public var now: Date
    public var refreshSeconds: Int

    public init(status: LedgerStatus, rejections: RecentRejections, activity: [HourlyActivity],
                completion: CompletionTimes, window: ChartWindow, daemon: DaemonCondition, now: Date, refreshSeconds: Int = 15) {
        self.status = status
        self.rejections = rejections
        self.activity = activity
        self.completion = completion
        self.window = window
        self.daemon = daemon
        self.now = now
        self.refreshSeconds = refreshSeconds
    }
}

struct OverviewView: PageView {
    struct StateRow { var name: String; var count: Int; var oldest: String; var tone: String }
    struct Waiting { var id: Int64; var state: String; var age: String; var tone: String }
    struct AttentionRow { var id: Int64; var state: String; var range: String; var orderID: String; var reason: String }
    struct RejectionRow { var id: Int64; var range: String; var code: String; var message: String; var when: String }
    struct Daemon { var engine: String; var token: String; var backoff: String; var credentials: String; var lastError: String; var tone: String }

    var title = "Overview"
    var onOverview = true
    var searchText = ""
    var footer = PageFooter.text
    var refreshSeconds: Int
    var generatedAt: String
    var states: [StateRow]
    var total: Int
    var oldestWaiting: Waiting?
    var reconciling: Int
    var oldestReconciling: String?
    var stalled: Int
    var unexpected: Int
    var unresolved: Int
    var attention: [AttentionRow]
    var hasAttention: Bool
    var rejectionCount: Int
    /// `120 NUMBER_NOT_ELIGIBLE · 1 010`
    var rejectionCodes: String
    var rejections: [RejectionRow]
    var hasRejections: Bool
    var moreRejections: Bool
    var daemon: Daemon
    var windowName: String
    var isDay: Bool
    var activityChart: String
    var completionChart: String

    init(_ data: OverviewData) {
        let now = data.now
        let status = data.status
        refreshSeconds = data.refreshSeconds
        generatedAt = Words.time(Timestamp.string(now))
        let oldestByState: [String: LedgerStatus.Oldest] = [
            "queued": status.oldestQueued, "retrying": status.oldestRetrying, "reconciling": status.oldestReconciling,
        ].compactMapValues { $0 }
        states = Ledger.states.map { state in
            let count = status.counts[state] ?? 0
            let oldest = oldestByState[state].map { "request \($0.id), \(Timestamp.age(.seconds($0.ageSeconds)))" } ?? ""
            let tone = count == 0 ? "quiet" : ""
            return StateRow(name: state, count: count, oldest: oldest, tone: tone)
        }
        total = status.counts.values.reduce(0, +)
        // The oldest waiting row of all: ids only grow, so the lowest id of the waiting states'.
        let waiting = oldestByState.min { $0.value.id < $1.value.id }.map { ($0.key, $0.value) }
        oldestWaiting = waiting.map { state, oldest in
            Waiting(id: oldest.id, state: state, age: Timestamp.age(.seconds(oldest.ageSeconds)),
                    tone: oldest.ageSeconds > 3600 ? "bad" : oldest.ageSeconds > 300 ? "warn" : "good")
        }
        reconciling = status.counts["reconciling"] ?? 0
        oldestReconciling = status.oldestReconciling.map { Timestamp.age(.seconds($0.ageSeconds)) }
        stalled = status.stalled
        unexpected = status.unexpectedFinalStatus
        unresolved = status.counts["unresolved"] ?? 0
        attention = status.attention.map {
            AttentionRow(id: $0.id, state: $0.state, range: $0.range, orderID: $0.orderID ?? "", reason: $0.reason)
        }
        hasAttention = !attention.isEmpty
        rejectionCount = data.rejections.count
        rejectionCodes = data.rejections.byCode.prefix(6).map { "\($0.count) \($0.code ?? "(no code)")" }.joined(separator: " · ")
            + (data.rejections.byCode.count > 6 ? " · …" : "")
        moreRejections = data.rejections.count > data.rejections.latest.count
        rejections = data.rejections.latest.map {
            RejectionRow(id: $0.id, range: $0.range, code: $0.coltCode ?? "", message: $0.message ?? "",
                         when: Words.age(of: $0.rejectedAt, now: now) + " ago")
        }
        hasRejections = !rejections.isEmpty
        daemon = Self.describe(data.daemon, now: now)
        windowName = data.window.rawValue
        isDay = data.window == .day
        activityChart = Chart.activity(data.activity, window: data.window)
        completionChart = Chart.completionTimes(data.completion)
    }

    static func describe(_ condition: DaemonCondition, now: Date) -> Daemon {
        var tone = "good"
        let engine = condition.engineRunning
            ? "running, \(condition.inFlight) request\(condition.inFlight == 1 ? "" : "s") in flight"
            : "not running (starting, or stopped)"
        if !condition.engineRunning { tone = "warn" }
        let token: String
        if let left = condition.tokenValidFor {
            token = "held, valid for \(Timestamp.age(left))" + (condition.tokenFailure.map { "; the last refresh failed: \($0)" } ?? "")
            if condition.tokenFailure != nil { tone = "warn" }
        } else if let failure = condition.tokenFailure {
            token = "none: \(failure)"
            tone = "bad"
        } else {
            token = "none yet (fetched when the first request goes out)"
        }
        var backoff = "none: submissions flow"
        if let until = condition.pausedUntil, until > now {
            backoff = "every submission waits until \(Words.time(Timestamp.string(until))) (\(Words.relative(until, now: now)))"
            if tone == "good" { tone = "warn" }
        }
        var credentials = "accepted (or not yet tried)"
        if let until = condition.credentialsPausedUntil, until > now {
            credentials = "REFUSED by Colt: nothing is sent until \(Words.time(Timestamp.string(until))) (\(Words.relative(until, now: now))). Fix the client id or secret, then restart"
            tone = "bad"
        }
        var lastError = "none since the daemon started"
        if let error = condition.lastError {
            lastError = error + (condition.lastErrorAt.map { " (\(Words.relative($0, now: now)))" } ?? "")
        }
        return Daemon(engine: engine, token: token, backoff: backoff, credentials: credentials, lastError: lastError, tone: tone)
    }
}
