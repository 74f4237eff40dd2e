import ColtModel
import Foundation

/// One row of `requests`, as the ledger shows it.
public struct LedgerEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var action: String
    public var country: String
    public var rangeStart: String
    public var rangeEnd: String?
    public var serviceProfile: String?
    public var state: String
    public var trackingID: String?
    public var orderID: String?
    public var orderStatus: String?
    /// Attempts spent against the retry budget.
    public var attempts: Int
    public var nextAttemptAt: String?
    public var lastError: String?
    public var coltCode: String?
    /// Whether an attempt under the current tracking id may have created an order.
    public var outcomeUnknown: Bool
    public var firstAttemptAt: String?
    public var createdAt: String
    public var updatedAt: String
    /// Inventory reads spent reconciling the current tracking id.
    public var lookups: Int
    /// When the daemon saw the order complete.
    public var completedAt: String?
    /// The last inventory check of an `in_progress` row, and when the next is due.
    public var checkedAt: String?
    public var nextCheckAt: String?
    /// Why an operator should look at this row (stalled, unexpected final status, unresolved).
    public var attention: String?

    /// `+442081324758` or `+442081324758..+442081324760`.
    public var range: String {
        guard let rangeEnd, rangeEnd != rangeStart else { return rangeStart }
        return "\(rangeStart)..\(rangeEnd)"
    }

    enum CodingKeys: String, CodingKey {
        case id, action, country, state, attempts
        case rangeStart = "range_start", rangeEnd = "range_end", serviceProfile = "service_profile"
        case trackingID = "tracking_id", orderID = "order_id", orderStatus = "order_status"
        case nextAttemptAt = "next_attempt_at", lastError = "last_error", coltCode = "colt_code"
        case outcomeUnknown = "outcome_unknown", firstAttemptAt = "first_attempt_at"
        case createdAt = "created_at", updatedAt = "updated_at"
        case lookups, completedAt = "completed_at", checkedAt = "checked_at", nextCheckAt = "next_check_at", attention
    }

    static let columns = """
        id, action, country, range_start, range_end, service_profile, state, tracking_id, order_id, order_status,
        attempts, next_attempt_at, last_error, colt_code, outcome_unknown, first_attempt_at, created_at, updated_at,
        lookups, completed_at, checked_at, next_check_at, attention
        """

    init(_ row: Row) {
        id = row.integer(0)
        action = row.text(1) ?? ""
        country = row.text(2) ?? ""
        rangeStart = row.text(3) ?? ""
        rangeEnd = row.text(4)
        serviceProfile = row.text(5)
        state = row.text(6) ?? ""
        trackingID = row.text(7)
        orderID = row.text(8)
        orderStatus = row.text(9)
        attempts = row.int(10)
        nextAttemptAt = row.text(11)
        lastError = row.text(12)
        coltCode = row.text(13)
        outcomeUnknown = row.int(14) != 0
        firstAttemptAt = row.text(15)
        createdAt = row.text(16) ?? ""
        updatedAt = row.text(17) ?? ""
        lookups = row.int(18)
        completedAt = row.text(19)
        checkedAt = row.text(20)
        nextCheckAt = row.text(21)
        attention = row.text(22)
    }
}

/// One row of `order_numbers`: a run of consecutive numbers Colt's inventory showed alike.
public struct NumberEntry: Sendable, Equatable, Codable {
    public var firstNumber: String
    public var lastNumber: String
    public var numbers: Int
    public var status: String?
    public var orderID: String?
    public var orderStatus: String?
    /// Whether the status is one the action leads to.
    public var expected: Bool
    public var checkedAt: String

    enum CodingKeys: String, CodingKey {
        case numbers, status, expected
        case firstNumber = "first_number", lastNumber = "last_number", orderID = "order_id", orderStatus = "order_status"
        case checkedAt = "checked_at"
    }
}

/// One row of the `attempts` journal.
public struct AttemptEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var attempt: Int
    public var trackingID: String
    public var startedAt: String
    public var endedAt: String?
    public var httpStatus: Int?
    public var outcome: String?
    public var coltCode: String?
    public var coltReason: String?
    public var coltMessage: String?
    public var detail: String?
    public var durationMilliseconds: Int?
    /// What Colt's inventory showed, for reconciliation and completion entries (compact JSON).
    public var evidence: String?

    enum CodingKeys: String, CodingKey {
        case id, attempt, outcome, detail, evidence
        case trackingID = "tracking_id", startedAt = "started_at", endedAt = "ended_at", httpStatus = "http_status"
        case coltCode = "colt_code", coltReason = "colt_reason", coltMessage = "colt_message"
        case durationMilliseconds = "duration_ms"
    }
}

/// What `colt-orders status` shows.
public struct LedgerStatus: Sendable, Equatable, Codable {
    /// The oldest row of a waiting state.
    public struct Oldest: Sendable, Equatable, Codable {
        public var id: Int64
        public var createdAt: String
        public var ageSeconds: Int
        enum CodingKeys: String, CodingKey { case id, createdAt = "created_at", ageSeconds = "age_seconds" }

        public init(id: Int64, createdAt: String, ageSeconds: Int) {
            self.id = id
            self.createdAt = createdAt
            self.ageSeconds = ageSeconds
        }
    }

    /// A recent refusal by Colt, in Colt's words.
    public struct Rejection: Sendable, Equatable, Codable {
        public var id: Int64
        public var range: String
        public var coltCode: String?
        public var message: String?
        public var rejectedAt: String
        enum CodingKeys: String, CodingKey { case id, range, message, coltCode = "colt_code", rejectedAt = "rejected_at" }

        public init(id: Int64, range: String, coltCode: String?, message: String?, rejectedAt: String) {
            self.id = id
            self.range = range
            self.coltCode = coltCode
            self.message = message
            self.rejectedAt = rejectedAt
        }
    }

    /// Rows per state; every state is present, with 0 when none.
    public var counts: [String: Int]
    public var oldestQueued: Oldest?
    public var oldestRetrying: Oldest?
    /// The oldest row awaiting reconciliation with Colt's inventory.
    public var oldestReconciling: Oldest?
    /// The latest rejections, newest first.
    public var recentRejections: [Rejection]
    /// Orders in progress flagged as stalled.
    public var stalled: Int
    /// Completed orders whose numbers ended in an unexpected status.
    public var unexpectedFinalStatus: Int
    /// The rows that need an operator (ledger_attention), newest first, at most 10.
    public var attention: [Attention]

    /// A row an operator should look at, and why.
    public struct Attention: Sendable, Equatable, Codable {
        public var id: Int64
        public var state: String
        public var range: String
        public var orderID: String?
        public var reason: String
        enum CodingKeys: String, CodingKey { case id, state, range, reason, orderID = "order_id" }

        public init(id: Int64, state: String, range: String, orderID: String?, reason: String) {
            self.id = id
            self.state = state
            self.range = range
            self.orderID = orderID
            self.reason = reason
        }
    }

    public init(counts: [String: Int], oldestQueued: Oldest?, oldestRetrying: Oldest?, oldestReconciling: Oldest?,
                recentRejections: [Rejection], stalled: Int, unexpectedFinalStatus: Int, attention: [Attention]) {
        self.counts = counts
        self.oldestQueued = oldestQueued
        self.oldestRetrying = oldestRetrying
        self.oldestReconciling = oldestReconciling
        self.recentRejections = recentRejections
        self.stalled = stalled
        self.unexpectedFinalStatus = unexpectedFinalStatus
        self.attention = attention
    }

    enum CodingKeys: String, CodingKey {
        case counts, oldestQueued = "oldest_queued", oldestRetrying = "oldest_retrying", recentRejections = "recent_rejections"
        case oldestReconciling = "oldest_reconciling", stalled, unexpectedFinalStatus = "unexpected_final_status", attention
    }
}

/// Which rows `list` shows, newest first, a page at a time.
public struct LedgerFilter: Sendable, Equatable {
    public var state: String?
    public var action: String?
    public var country: String?
    /// Only rows created at or after this time.
    public var since: Date?
    /// Only rows created before this time.
    public var createdBefore: Date?
    /// Keyset paging: only rows with an id below this one (the previous page's ``LedgerPage/nextBefore``).
    public var before: Int64?
    /// Rows per page.
    public var limit: Int
    /// The bound the web page and `/orders` put on ``examineAtMost``: a page that matches
    /// little costs one read of at most this many ids (tens of milliseconds on any ledger).
    public static let pageExamineLimit = 100_000

    /// Look at no more than this many ids below ``before`` (or the newest row): a filter that
    /// matches few rows then returns a short page with ``LedgerPage/stoppedAt`` instead of
    /// reading the whole table. `nil`: no bound (the CLI).
    public var examineAtMost: Int?

    public init(state: String? = nil, action: String? = nil, country: String? = nil, since: Date? = nil,
                createdBefore: Date? = nil, before: Int64? = nil, limit: Int = 50, examineAtMost: Int? = nil) {
        self.state = state
        self.action = action
        self.country = country
        self.since = since
        self.createdBefore = createdBefore
        self.examineAtMost = examineAtMost
        self.before = before
        self.limit = limit
    }
}

/// One page of ``Ledger/list(_:filter:)``.
public struct LedgerPage: Sendable, Equatable {
    public var entries: [LedgerEntry]
    /// Pass as ``LedgerFilter/before`` for the next page; `nil` on the last page.
    public var nextBefore: Int64?
    /// Set when ``LedgerFilter/examineAtMost`` ended the page: no row from this id up to the
    /// page's top matched beyond those shown; rows below it were not looked at (``nextBefore``
    /// is this id).
    public var stoppedAt: Int64?

    public init(entries: [LedgerEntry], nextBefore: Int64?, stoppedAt: Int64? = nil) {
        self.entries = entries
        self.nextBefore = nextBefore
        self.stoppedAt = stoppedAt
    }
}

/// A request to queue, as an operator gives it (flags or a CSV line).
public struct NewRequest: Sendable, Equatable {
    public var request: OrderRequest
    public var trackingID: TrackingID?
    /// Where it came from, for error messages (`line 7`, or `the command line`).
    public var origin: String

    public init(request: OrderRequest, trackingID: TrackingID? = nil, origin: String) {
        self.request = request
        self.trackingID = trackingID
        self.origin = origin
    }
}

/// What ``Ledger/prune(_:olderThan:dryRun:batchSize:pause:)`` removed (or would remove).
public struct PruneReport: Sendable, Equatable {
    public var requests: Int = 0
    public var attempts: Int = 0
    public var batches: Int = 0

    public init(requests: Int = 0, attempts: Int = 0, batches: Int = 0) {
        self.requests = requests
        self.attempts = attempts
        self.batches = batches
    }
}

/// Why an operator action was refused. Nothing was changed.
public struct LedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of refusal, for scripts and tests.
    public enum Kind: Sendable, Equatable {
        case notFound
        case wrongState
        case inFlight
        case invalidInput
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// The ledger half of the database: what operators read (status, list, show) and the few writes
/// they may make while the daemon runs (enqueue, cancel, retry, prune).
///
/// Reads work on a read-only ``Connection``. Every write is one short `IMMEDIATE` transaction
/// whose `WHERE` re-checks the row's state, so a race with the daemon can do no harm: either the
/// daemon moved the row first and the action is refused, or the action lands first and the
/// daemon sees its result.
public enum Ledger {
    /// The states a row never leaves, and the only ones ``prune(_:olderThan:dryRun:batchSize:pause:)`` removes.
    public static let terminalStates = RequestState.allCases.filter(\.isTerminal).map(\.rawValue)
    /// Every state, in the order a row usually passes through them (``RequestState``).
    /// `unresolved` waits for an operator's decision: it is never pruned.
    public static let states = RequestState.allCases.map(\.rawValue)

    // MARK: Reading

    /// Counts by state, the oldest queued and retrying rows, and the latest `rejections` rejections.
    /// Every query is answered from an index (`requests_state`, `requests_state_updated`,
    /// `requests_attention`); the counts by state read the whole of `requests_state`.
    public static func status(_ db: Connection, now: Date = Date(), rejections: Int = 5) throws -> LedgerStatus {
        var counts = Dictionary(uniqueKeysWithValues: states.map { ($0, 0) })
        for (state, count) in try db.query("SELECT state, count(*) FROM requests GROUP BY state", [], { ($0.text(0) ?? "", $0.int(1)) }) {
            counts[state] = count
        }
        func oldest(_ state: String) throws -> LedgerStatus.Oldest? {
            try db.first("""
                SELECT id, created_at FROM requests
                WHERE id = (SELECT min(id) FROM requests WHERE state = ?1)
                """, [.text(state)]) { row in
                let created = row.text(1) ?? ""
                let age = Timestamp.date(created).map { Int(now.timeIntervalSince($0).rounded(.down)) } ?? 0
                return LedgerStatus.Oldest(id: row.integer(0), createdAt: created, ageSeconds: max(0, age))
            }
        }
        let recent = try db.query("""
            SELECT id, range_start, range_end, colt_code, last_error, updated_at FROM requests
            WHERE state = 'rejected' ORDER BY updated_at DESC LIMIT ?1
            """, [.integer(Int64(rejections))]) { row in
            let start = row.text(1) ?? "", end = row.text(2)
            return LedgerStatus.Rejection(
                id: row.integer(0), range: end == nil || end == start ? start : "\(start)..\(end!)",
                coltCode: row.text(3), message: row.text(4), rejectedAt: row.text(5) ?? "")
        }
        let flags = try db.first("""
            SELECT (SELECT count(*) FROM requests WHERE state = 'in_progress' AND attention IS NOT NULL AND attention LIKE 'stalled%'),
                   (SELECT count(*) FROM requests WHERE state = 'completed' AND attention IS NOT NULL)
            """) { ($0.int(0), $0.int(1)) } ?? (0, 0)
        let attention = try db.query("SELECT id, state, range, order_id, reason FROM ledger_attention ORDER BY id DESC LIMIT 10") { row in
            LedgerStatus.Attention(id: row.integer(0), state: row.text(1) ?? "", range: row.text(2) ?? "", orderID: row.text(3),
                                   reason: row.text(4) ?? "")
        }
        return LedgerStatus(counts: counts, oldestQueued: try oldest("queued"), oldestRetrying: try oldest("retrying"),
                            oldestReconciling: try oldest("reconciling"), recentRejections: recent, stalled: flags.0,
                            unexpectedFinalStatus: flags.1, attention: attention)
    }

    /// One page of rows, newest first, matching `filter`. Memory is bounded by the page size:
    /// rows are read by id (descending) from the primary key or `requests_state`. With
    /// ``LedgerFilter/since`` the lowest id worth reading is found first (`requests_created`);
    /// with ``LedgerFilter/examineAtMost`` the read never goes further down than that many ids.
    public static func list(_ db: Connection, filter: LedgerFilter) throws -> LedgerPage {
        var conditions: [String] = []
        var arguments: [SQLValue] = []
        func add(_ condition: String, _ value: SQLValue) {
            arguments.append(value)
            conditions.append(condition.replacingOccurrences(of: "?", with: "?\(arguments.count)"))
        }
        if let state = filter.state { add("state = ?", .text(state)) }
        if let action = filter.action { add("action = ?", .text(action)) }
        if let country = filter.country { add("country = ?", .text(country)) }
        // The lowest id a row of the window can have: no row below it is read.
        var lowest = try db.first("SELECT min(id) FROM requests") { $0.integer(0) } ?? 0
        if let since = filter.since {
            let stamp = SQLValue.text(Timestamp.string(since))
            guard let floor = try db.first("SELECT min(id) FROM requests INDEXED BY requests_created WHERE created_at >= ?1", [stamp], {
                $0.isNull(0) ? nil : $0.integer(0)
            }) ?? nil else { return LedgerPage(entries: [], nextBefore: nil) }
            add("created_at >= ?", stamp)
            add("id >= ?", .integer(floor))
            lowest = max(lowest, floor)
        }
        if let until = filter.createdBefore { add("created_at < ?", .text(Timestamp.string(until))) }
        if let before = filter.before { add("id < ?", .integer(before)) }
        var windowBottom: Int64?
        if let most = filter.examineAtMost {
            let top = try filter.before ?? (db.first("SELECT max(id) FROM requests") { $0.integer(0) } ?? 0) + 1
            if top - Int64(max(1, most)) > lowest {
                windowBottom = top - Int64(max(1, most))
                add("id >= ?", .integer(windowBottom!))
            }
        }
        let limit = max(1, filter.limit)
        arguments.append(.integer(Int64(limit + 1)))
        let sql = "SELECT \(LedgerEntry.columns) FROM requests"
            + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
            + " ORDER BY id DESC LIMIT ?\(arguments.count)"
        var entries = try db.query(sql, arguments) { LedgerEntry($0) }
        if entries.count > limit {
            entries.removeLast()
            return LedgerPage(entries: entries, nextBefore: entries.last?.id)
        }
        return LedgerPage(entries: entries, nextBefore: windowBottom, stoppedAt: windowBottom)
    }

    /// The row `id`, or `nil` when there is none.
    public static func entry(_ db: Connection, id: Int64) throws -> LedgerEntry? {
        try db.first("SELECT \(LedgerEntry.columns) FROM requests WHERE id = ?1", [.integer(id)]) { LedgerEntry($0) }
    }

    /// Every journal row of request `id`, oldest first.
    public static func attempts(_ db: Connection, requestID id: Int64) throws -> [AttemptEntry] {
        try db.query("""
            SELECT id, attempt, tracking_id, started_at, ended_at, http_status, outcome, colt_code, colt_reason,
                   colt_message, detail, duration_ms, evidence
            FROM attempts WHERE request_id = ?1 ORDER BY id
            """, [.integer(id)]) { row in
            AttemptEntry(
                id: row.integer(0), attempt: row.int(1), trackingID: row.text(2) ?? "", startedAt: row.text(3) ?? "",
                endedAt: row.text(4), httpStatus: row.isNull(5) ? nil : row.int(5), outcome: row.text(6),
                coltCode: row.text(7), coltReason: row.text(8), coltMessage: row.text(9), detail: row.text(10),
                durationMilliseconds: row.isNull(11) ? nil : row.int(11), evidence: row.text(12))
        }
    }

    /// What Colt's inventory last showed for the numbers of request `id` (`order_numbers`), in number order.
    public static func numbers(_ db: Connection, requestID id: Int64, limit: Int = 1000) throws -> [NumberEntry] {
        try db.query("""
            SELECT first_number, last_number, numbers, status, order_id, order_status, expected, checked_at
            FROM order_numbers WHERE request_id = ?1 ORDER BY first_number LIMIT ?2
            """, [.integer(id), .integer(Int64(limit))]) { row in
            NumberEntry(firstNumber: row.text(0) ?? "", lastNumber: row.text(1) ?? "", numbers: row.int(2), status: row.text(3),
                        orderID: row.text(4), orderStatus: row.text(5), expected: row.int(6) != 0, checkedAt: row.text(7) ?? "")
        }
    }

    // MARK: Operator actions

    /// Queues `requests` in one `IMMEDIATE` transaction: all of them, or none (the error names
    /// the request's ``NewRequest/origin`` and the database's reason). Returns the new ids.
    public static func enqueue(_ db: Connection, _ requests: [NewRequest]) throws -> [Int64] {
        try db.transaction(.immediate) {
            var ids: [Int64] = []
            for new in requests {
                let request = new.request
                do {
                    try db.run("""
                        INSERT INTO requests (action, country, range_start, range_end, service_profile, tracking_id)
                        VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                        """, [.text(request.action.rawValue), .text(request.country.rawValue), .text(request.range.start.text),
                              .text(request.range.end.text), .text(request.serviceProfile), .text(new.trackingID?.text)])
                } catch let error as DatabaseError {
                    var reason = error.message
                    if reason.contains("UNIQUE constraint failed: requests.tracking_id") {
                        reason = "requests.tracking_id: already used by another row; leave it out and the daemon makes one"
                    }
                    throw LedgerError(.invalidInput, "\(new.origin): \(reason); nothing was queued")
                }
                ids.append(db.lastInsertedRowID)
            }
            return ids
        }
    }

    /// Cancels a row Colt has not accepted (`queued` or `retrying`), or an `unresolved` one an
    /// operator has looked into. Returns the row as it is now.
    ///
    /// - Throws: ``LedgerError`` when there is no such row, when it is `submitting` (in flight:
    ///   try again in a moment), or when Colt already accepted it or it is settled.
    @discardableResult
    public static func cancel(_ db: Connection, id: Int64, now: Date = Date()) throws -> LedgerEntry {
        try db.transaction(.immediate) {
            let stamp = Timestamp.string(now)
            let changed = try db.run("""
                UPDATE requests SET state = 'cancelled', next_attempt_at = NULL, updated_at = ?2,
                    last_error = 'cancelled by an operator at ' || ?2 || coalesce(' (last error: ' || last_error || ')', '')
                WHERE id = ?1 AND state IN \(RequestState.sqlList(RequestState.cancellable))
                """, [.integer(id), .text(stamp)])
            guard let row = try entry(db, id: id) else {
                throw LedgerError(.notFound, "request \(id): no such request (see `colt-orders list`)")
            }
            if changed == 1 { return row }
            switch RequestState(rawValue: row.state) {
            case .submitting:
                throw LedgerError(.inFlight, "request \(id) is being submitted to Colt right now, or is about to be (state submitting); nothing was changed. Try again in a moment: it is cancellable if it ends up queued, retrying or unresolved")
            case .cancelled:
                throw LedgerError(.wrongState, "request \(id) is already cancelled; nothing was changed")
            case .reconciling:
                throw LedgerError(.wrongState, "request \(id) cannot be cancelled now: an attempt's outcome is unknown and the daemon is reading Colt's inventory to learn whether an order exists (see `colt-orders show \(id)`). Nothing was changed; it becomes in_progress, completed, retrying or unresolved, and can be cancelled if it ends up retrying or unresolved")
            case .inProgress, .completed:
                throw LedgerError(.wrongState, "request \(id) cannot be cancelled: Colt already accepted it (order \(row.orderID ?? "?"), state \(row.state)); nothing was changed. Cancelling an accepted order is done with Colt")
            default:
                throw LedgerError(.wrongState, "request \(id) cannot be cancelled: it is \(row.state), already settled; only queued, retrying or unresolved requests can be cancelled. Nothing was changed")
            }
        }
    }

    /// Sends a `rejected` or `failed` row again: back to `queued` under a new tracking id, with
    /// its attempts budget reset and `outcome_unknown` cleared; its journal stays in `attempts`.
    /// Returns the row as it is now.
    ///
    /// - Throws: ``LedgerError`` when there is no such row or it is in any other state.
    @discardableResult
    ///
    /// A row whose earlier attempt's outcome is unknown (`outcome_unknown`) may already have an
    /// order at Colt under its old tracking id; a new tracking id could then make a second
    /// order. Such a row is sent again only with `force`, once the operator has checked.
    public static func retry(_ db: Connection, id: Int64, now: Date = Date(), trackingID: TrackingID = .random(), force: Bool = false) throws -> LedgerEntry {
        try db.transaction(.immediate) {
            let stamp = Timestamp.string(now)
            let changed = try db.run("""
                UPDATE requests SET state = 'queued', tracking_id = ?3, attempts = 0, outcome_unknown = 0,
                    next_attempt_at = NULL, first_attempt_at = NULL, order_id = NULL, order_status = NULL, lookups = 0, attention = NULL,
                    colt_code = NULL, updated_at = ?2,
                    last_error = 'sent again by an operator at ' || ?2 || coalesce(' (was ' || state || ': ' || last_error || ')', '')
                WHERE id = ?1 AND state IN \(RequestState.sqlList(RequestState.retryable)) AND (outcome_unknown = 0 OR ?4)
                """, [.integer(id), .text(stamp), .text(trackingID.text), force ? 1 : 0])
            guard let row = try entry(db, id: id) else {
                throw LedgerError(.notFound, "request \(id): no such request (see `colt-orders list`)")
            }
            if changed == 1 { return row }
            let state = RequestState(rawValue: row.state)
            if let state, RequestState.retryable.contains(state) {
                throw LedgerError(.wrongState, "request \(id) cannot be retried yet: an earlier attempt's outcome is unknown, so Colt may already hold an order under tracking id \(row.trackingID ?? "?"); a new tracking id could make a second one. Check the numbers with Colt (colt-orders show \(id)), then `colt-orders retry --force \(id)`; nothing was changed")
            }
            let why = switch state {
            case .queued, .submitting, .retrying, .reconciling: "it is \(row.state), still being worked on by the daemon"
            case .inProgress, .completed: "Colt accepted it (order \(row.orderID ?? "?"), state \(row.state))"
            case .cancelled: "it was cancelled; queue a new request instead (colt-orders enqueue)"
            case .invalid: "it is invalid (\(row.lastError ?? "see last_error")) and would fail again; queue a corrected request instead"
            default: "it is \(row.state)"
            }
            throw LedgerError(.wrongState, "request \(id) cannot be retried: \(why). Only rejected, failed or unresolved requests can be sent again; nothing was changed")
        }
    }

    // MARK: Retention

    /// Counts what ``prune(_:olderThan:dryRun:batchSize:pause:)`` would remove.
    public static func pruneCandidates(_ db: Connection, olderThan cutoff: Date) throws -> PruneReport {
        let stamp = Timestamp.string(cutoff)
        let requests = try db.first("SELECT count(*) FROM requests WHERE state IN \(terminalList) AND updated_at < ?1", [.text(stamp)]) { $0.int(0) } ?? 0
        let attempts = try db.first("""
            SELECT count(*) FROM attempts WHERE request_id IN
                (SELECT id FROM requests WHERE state IN \(terminalList) AND updated_at < ?1)
            """, [.text(stamp)]) { $0.int(0) } ?? 0
        return PruneReport(requests: requests, attempts: attempts, batches: 0)
    }

    /// Removes up to `limit` terminal rows last updated before `cutoff`, and their attempts, in
    /// one short `IMMEDIATE` transaction. Never touches a row that is not terminal.
    public static func pruneBatch(_ db: Connection, olderThan cutoff: Date, limit: Int) throws -> PruneReport {
        let stamp = Timestamp.string(cutoff)
        return try db.transaction(.immediate) {
            // Fixed SQL (the statements are prepared once and cached): the batch is the first
            // `limit` old terminal rows by id, the same set for both deletes inside this transaction.
            let batch = "SELECT id FROM requests WHERE state IN \(terminalList) AND updated_at < ?1 ORDER BY id LIMIT ?2"
            let arguments: [SQLValue] = [.text(stamp), .integer(Int64(limit))]
            let attempts = try db.run("DELETE FROM attempts WHERE request_id IN (\(batch))", arguments)
            // The state is checked again by the batch query itself: only terminal rows ever go.
            let requests = try db.run("DELETE FROM requests WHERE id IN (\(batch))", arguments)
            guard requests > 0 || attempts > 0 else { return PruneReport() }
            return PruneReport(requests: requests, attempts: attempts, batches: 1)
        }
    }

    /// Removes every terminal row (completed, rejected, invalid, failed, cancelled) last updated
    /// before `cutoff`, with its attempts, in batches of `batchSize` (each its own short
    /// transaction, `pause` between them so the daemon's writes get in). With `dryRun`, only counts.
    public static func prune(_ db: Connection, olderThan cutoff: Date, dryRun: Bool = false, batchSize: Int = 500,
                             pause: Duration = .zero) throws -> PruneReport {
        if dryRun { return try pruneCandidates(db, olderThan: cutoff) }
        var total = PruneReport()
        while true {
            let batch = try pruneBatch(db, olderThan: cutoff, limit: batchSize)
            if batch.requests == 0 { break }
            total.requests += batch.requests
            total.attempts += batch.attempts
            total.batches += 1
            if pause > .zero { Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18 + Double(pause.components.seconds)) }
        }
        return total
    }

    static let terminalList = "(" + terminalStates.map { "'\($0)'" }.joined(separator: ",") + ")"
}
