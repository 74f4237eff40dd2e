import ColtModel
import Foundation

/// A request the daemon has claimed: its tracking id is committed and its state is
/// `submitting`, so it may now be sent.
public struct ClaimedRequest: Sendable {
    /// The row's id in `requests`.
    public var id: Int64
    public var request: OrderRequest
    /// The tracking id every attempt for this row sends.
    public var trackingID: TrackingID
    /// The attempt number being made (1 for the first).
    public var attempt: Int
    /// The journal row opened for this attempt in `attempts`.
    public var journalID: Int64
    /// Whether an earlier attempt under this tracking id may have created an order, so that
    /// Colt's inventory must be read before anything is sent (invariant 9). The one source of
    /// truth for it is the row's `outcome_unknown` column: set by every transition whose
    /// ``AttemptRecord/mayHaveCreatedOrder`` is true and by every `reconciling` row, and cleared
    /// only by `colt-orders retry`.
    public var outcomeUnknown: Bool
    /// When the current tracking id was first sent (now, for a first attempt).
    public var firstAttemptAt: Date
    /// Inventory reads already spent reconciling this tracking id.
    public var lookups: Int = 0
    /// The row's `last_error` when it was claimed: what went wrong last time.
    public var lastError: String? = nil
    /// What the claim changed, so that ``RequestQueue/release(_:now:)`` can put back a row
    /// claimed but never sent.
    var before = Before()

    /// A claimed row's columns as they were before the claim.
    struct Before: Sendable {
        var state = RequestState.queued
        var nextAttemptAt: String?
        var firstAttemptAt: String?
    }
}

/// An `in_progress` row due for an inventory check (invariant 10).
public struct TrackedOrder: Sendable {
    /// The row's id in `requests`.
    public var id: Int64
    public var request: OrderRequest
    public var trackingID: String
    public var orderID: String
    /// When the row was first sent: the order's age is measured from here.
    public var since: Date
    /// Attempts the row spent (the journal's attempt number for a completion entry).
    public var attempts: Int
    /// Whether the row is already flagged as stalled.
    public var flaggedStalled: Bool
    /// The order status recorded so far.
    public var orderStatus: String?
}

/// What one inventory check of a tracked order found, and where it leaves the row.
public struct CheckRecord: Sendable {
    /// Where the row goes.
    public enum Outcome: Sendable, Equatable {
        /// Still in progress (the next check is already scheduled): a new order status, or the
        /// stalled flag (in words), when there is one to record.
        case running(orderStatus: String?, stalled: String?)
        /// The order finished; `attention` names numbers that ended somewhere unexpected.
        case completed(orderStatus: String, attention: String?)
    }

    public var order: TrackedOrder
    public var checkedAt: Date
    public var outcome: Outcome
    /// Words for the journal (written only for completions and new flags).
    public var detail: String
    /// The inventory evidence as JSON, for the journal.
    public var evidence: String?
    /// Per-number statuses to keep in `order_numbers` (on completion).
    public var numbers: [NumberRun]

    public init(order: TrackedOrder, checkedAt: Date, outcome: Outcome, detail: String, evidence: String?, numbers: [NumberRun]) {
        self.order = order
        self.checkedAt = checkedAt
        self.outcome = outcome
        self.detail = detail
        self.evidence = evidence
        self.numbers = numbers
    }
}

extension CheckRecord {
    /// Whether writing the check changes anything.
    var changesTheRow: Bool {
        switch outcome {
        case .completed: true
        case .running(let status, let stalled): stalled != nil || (status != nil && status != order.orderStatus)
        }
    }
}

extension CheckRecord.Outcome {
    /// The journal's outcome word for a check worth journaling.
    var journalOutcome: String {
        switch self {
        case .completed: "completed"
        case .running: "stalled"
        }
    }
}

/// A run of consecutive numbers that Colt's inventory showed alike, for `order_numbers`.
public struct NumberRun: Sendable, Equatable {
    public var first: String
    public var last: String
    public var numbers: Int
    public var status: String?
    public var orderID: String?
    public var orderStatus: String?
    /// Whether the status is one the action leads to.
    public var expected: Bool

    public init(first: String, last: String, numbers: Int, status: String?, orderID: String?, orderStatus: String?, expected: Bool) {
        self.first = first
        self.last = last
        self.numbers = numbers
        self.status = status
        self.orderID = orderID
        self.orderStatus = orderStatus
        self.expected = expected
    }
}

/// A row that failed the daemon's own validation and was marked `invalid` instead of claimed.
public struct InvalidRequest: Sendable {
    public var id: Int64
    public var error: ValidationError
}

/// What ``RequestQueue/claimDue(now:limit:)`` took from the queue.
public struct ClaimBatch: Sendable {
    public var claimed: [ClaimedRequest] = []
    public var invalid: [InvalidRequest] = []
}

/// How one attempt ended, for the journal, and where it leaves its row.
public struct AttemptRecord: Sendable {
    /// Where the row goes next.
    public enum Transition: Sendable, Equatable {
        /// Colt accepted: `in_progress`, with Colt's order id and status.
        case accepted(orderID: String, orderStatus: String)
        /// Try again at `at`; `countsAsAttempt` is false for a refused token (401). Only for
        /// attempts that cannot have created an order.
        case retry(at: Date, countsAsAttempt: Bool)
        /// The outcome is unknown: `reconciling`, Colt's inventory is read at `at` before anything else.
        case reconcile(at: Date, countsAsAttempt: Bool)
        /// Colt's inventory shows the work done: `completed`, with the order id when known.
        case completed(orderID: String?, orderStatus: String)
        /// The inventory did not settle the outcome within the row's age limit: an operator decides.
        case unresolved
        /// Refused for good by Colt.
        case rejected(coltCode: String?)
        /// Retries exhausted (count or age).
        case failed
        /// Only close the journal row: the same request is sent again at once with a fresh
        /// token (after a 401), under a new journal row from ``RequestQueue/reopen(_:now:)``.
        case resendNow

        /// The state the row goes to (`submitting` again for ``resendNow``).
        public var state: RequestState {
            switch self {
            case .accepted: .inProgress
            case .retry: .retrying
            case .reconcile: .reconciling
            case .completed: .completed
            case .unresolved: .unresolved
            case .rejected: .rejected
            case .failed: .failed
            case .resendNow: .submitting
            }
        }
    }

    public var claim: ClaimedRequest
    public var endedAt: Date
    public var httpStatus: Int?
    /// The journal's outcome word (`accepted`, `server_error`, …).
    public var outcome: String
    public var coltCode: String?
    public var coltReason: String?
    public var coltMessage: String?
    /// The outcome in words; becomes `last_error` unless the row was accepted.
    public var detail: String
    public var responseBody: String?
    public var durationMilliseconds: Int
    /// Whether this attempt may have created an order (its answer was lost or unclear).
    public var mayHaveCreatedOrder: Bool
    public var transition: Transition
    /// An inventory read behind this record (reconciliation): its evidence as JSON, and the
    /// per-number runs for `order_numbers`; the read counts against the row's `lookups`.
    public var evidence: String? = nil
    public var numbers: [NumberRun] = []
    /// For an accepted row: when its order is first checked (default: at once).
    public var firstCheckAt: Date? = nil
    /// An inventory read made right after this attempt (a refusal that may hide an order),
    /// journaled as its own `reconciled` entry in the same transaction.
    public var followUp: FollowUpReading? = nil
    /// Whether the record spends one of the row's attempts when it settles it (accepted,
    /// completed, rejected, failed): false for an inventory read, which sends no order.
    public var spendsAttempt = true

    public init(
        claim: ClaimedRequest, endedAt: Date, httpStatus: Int?, outcome: String, coltCode: String? = nil,
        coltReason: String? = nil, coltMessage: String? = nil, detail: String, responseBody: String?,
        durationMilliseconds: Int, mayHaveCreatedOrder: Bool, transition: Transition
    ) {
        self.claim = claim
        self.endedAt = endedAt
        self.httpStatus = httpStatus
        self.outcome = outcome
        self.coltCode = coltCode
        self.coltReason = coltReason
        self.coltMessage = coltMessage
        self.detail = detail
        self.responseBody = responseBody
        self.durationMilliseconds = durationMilliseconds
        self.mayHaveCreatedOrder = mayHaveCreatedOrder
        self.transition = transition
    }
}

/// How many rows need an operator's eye, for `/metrics`.
public struct AttentionFigures: Sendable, Equatable {
    public var reconciling: Int
    public var unresolved: Int
    /// Orders being followed (`in_progress`).
    public var tracked: Int
    /// Of those, flagged as stalled.
    public var stalled: Int

    public init(reconciling: Int, unresolved: Int, tracked: Int, stalled: Int) {
        self.reconciling = reconciling
        self.unresolved = unresolved
        self.tracked = tracked
        self.stalled = stalled
    }
}

/// An inventory read journaled after an attempt, with what it showed.
public struct FollowUpReading: Sendable {
    public var startedAt: Date
    /// The verdict and evidence in words; added to the row's `last_error`.
    public var detail: String
    /// What Colt's inventory showed, as JSON.
    public var evidence: String?
    public var numbers: [NumberRun]

    public init(startedAt: Date, detail: String, evidence: String?, numbers: [NumberRun]) {
        self.startedAt = startedAt
        self.detail = detail
        self.evidence = evidence
        self.numbers = numbers
    }
}

/// A row a dead process left in `submitting`, handed back to the queue with its own tracking id.
public struct RecoveredRequest: Sendable {
    public var id: Int64
    public var trackingID: String
}

/// The queue half of the `requests` table: what the daemon claims, sends and records.
///
/// Every method is one short transaction; none is ever held across a network call.
public struct RequestQueue: Sendable {
    private let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Hands rows left in `submitting` by a dead process back to the queue, due now, keeping
    /// their tracking id; their open journal rows are closed as `interrupted` (outcome unknown),
    /// so the rows are `reconciling`: Colt's inventory is read before they are sent again.
    public func recoverInterrupted(now: Date) async throws -> [RecoveredRequest] {
        let stamp = Timestamp.string(now)
        return try await database.use { db in
            try db.transaction {
                let rows = try db.query("SELECT id, tracking_id FROM requests WHERE state = 'submitting' ORDER BY id") {
                    RecoveredRequest(id: $0.integer(0), trackingID: $0.text(1) ?? "")
                }
                guard !rows.isEmpty else { return rows }
                try db.run("""
                    UPDATE attempts SET ended_at = ?1, outcome = 'interrupted',
                        detail = 'the daemon stopped while this attempt was in flight; its outcome is unknown'
                    WHERE ended_at IS NULL AND request_id IN (SELECT id FROM requests WHERE state = 'submitting')
                    """, [.text(stamp)])
                try db.run("""
                    UPDATE requests SET state = 'reconciling', next_attempt_at = ?1, updated_at = ?1, outcome_unknown = 1,
                        attempts = attempts + 1,
                        last_error = 'interrupted: the daemon stopped while a request was in flight; reading Colt''s inventory before sending again with the same tracking id'
                    WHERE state = 'submitting'
                    """, [.text(stamp)])
                return rows
            }
        }
    }

    /// Claims up to `limit` due rows in id order, skipping any row whose range overlaps an
    /// earlier row still waiting for Colt (invariant 3). Each claimed row gets its tracking id
    /// (if it had none), state `submitting` and an open journal row, all committed before this
    /// returns (invariant 1). Rows that fail validation are marked `invalid` instead.
    /// A range of more than `maxRangeSize` numbers is `invalid` (`submit.max_range_size`).
    public func claimDue(now: Date, limit: Int, maxRangeSize: Int = 10_000) async throws -> ClaimBatch {
        guard limit > 0 else { return ClaimBatch() }
        let stamp = Timestamp.string(now)
        return try await database.use { db in
            try db.transaction {
                let candidates = try Self.candidates(db, stamp: stamp, limit: limit)
                var batch = ClaimBatch()
                // No two candidates overlap: of two overlapping rows, the earlier one (queued,
                // retrying or reconciling) keeps the later one out of the list. The transaction
                // sees one snapshot, and its own claims keep their rows in states that block, so
                // a candidate is not checked again as it is claimed.
                for id in candidates {
                    guard let row = try db.first(Self.candidateSQL, [.integer(id)], { row in
                            (action: row.text(0), country: row.text(1), start: row.text(2), end: row.text(3),
                             profile: row.text(4), trackingID: row.text(5), attempts: row.int(6),
                             unknown: row.int(7) != 0, firstAttempt: row.text(8),
                             lookups: row.int(9), lastError: row.text(10), text: row.int(11) != 0,
                             before: ClaimedRequest.Before(state: row.text(12).flatMap(RequestState.init(rawValue:)) ?? .queued,
                                                           nextAttemptAt: row.text(13), firstAttemptAt: row.text(8)))
                        })
                    else { continue }
                    let request: OrderRequest
                    let trackingID: TrackingID
                    do throws(ValidationError) {
                        // A BLOB or a number compares unlike text, so the overlap rule would miss it.
                        guard row.text else {
                            throw ValidationError(column: "range_start", problem: "must be text, not a BLOB or a number (it bypassed the table's checks)")
                        }
                        request = try OrderRequest(
                            action: row.action, country: row.country, rangeStart: row.start, rangeEnd: row.end,
                            serviceProfile: row.profile)
                        trackingID = try row.trackingID.map { text throws(ValidationError) in try TrackingID(validating: text) }
                            ?? TrackingID.random()
                        // Only before the first send: a row Colt may already hold is never made invalid.
                        guard request.range.count <= UInt64(maxRangeSize) || row.attempts > 0 || row.unknown else {
                            throw ValidationError(column: "range_end", problem: "the range holds \(request.range.count) numbers, more than submit.max_range_size (\(maxRangeSize)); split it into smaller ranges, or raise the setting")
                        }
                    } catch {
                        try Self.markInvalid(db, id: id, error: error, stamp: stamp)
                        batch.invalid.append(InvalidRequest(id: id, error: error))
                        continue
                    }
                    let firstAttempt = row.firstAttempt.flatMap(Timestamp.date) ?? now
                    try db.run(Self.claimSQL, [.integer(id), .text(trackingID.text), .text(stamp)])
                    try db.run(Self.openJournalSQL, [.integer(id), .integer(Int64(row.attempts + 1)), .text(trackingID.text), .text(stamp)])
                    batch.claimed.append(ClaimedRequest(
                        id: id, request: request, trackingID: trackingID, attempt: row.attempts + 1,
                        journalID: db.lastInsertedRowID, outcomeUnknown: row.unknown, firstAttemptAt: firstAttempt,
                        lookups: row.lookups, lastError: row.lastError, before: row.before))
                }
                return batch
            }
        }
    }

    /// Puts rows claimed but never sent back as they were (state, schedule, first attempt time),
    /// and deletes the journal rows their claims opened: no attempt was made. Each row keeps the
    /// tracking id its claim gave it (already in `sent_tracking_ids`, where ids are never
    /// removed) and sends it when claimed again. One transaction; a row no longer `submitting`
    /// is left alone. Returns how many rows were put back.
    @discardableResult
    public func release(_ claims: [ClaimedRequest], now: Date) async throws -> Int {
        guard !claims.isEmpty else { return 0 }
        let stamp = Timestamp.string(now)
        return try await database.use { db in
            try db.transaction {
                var released = 0
                for claim in claims {
                    // The open journal row first: the schema lets a row leave `submitting` for
                    // `queued` only when no journal row carries its tracking id (schema 7).
                    let deleted = try db.run("""
                        DELETE FROM attempts WHERE id = ?1 AND request_id = ?2 AND ended_at IS NULL
                            AND (SELECT state FROM requests WHERE id = ?2) = 'submitting'
                        """, [.integer(claim.journalID), .integer(claim.id)])
                    guard deleted > 0 else { continue }
                    try db.run("""
                        UPDATE requests SET state = ?2, next_attempt_at = ?3, first_attempt_at = ?4, updated_at = ?5
                        WHERE id = ?1 AND state = 'submitting'
                        """, [.integer(claim.id), .text(claim.before.state.rawValue), .text(claim.before.nextAttemptAt),
                              .text(claim.before.firstAttemptAt), .text(stamp)])
                    released += 1
                }
                return released
            }
        }
    }

    /// Rows whose next time is missing or not a time (an operator's UPDATE: NULL, 'garbage';
    /// valid ones start with '2'), which the due queries would never find: made due now, and
    /// returned so the daemon can say so. Four index seeks; nothing is written when none is found.
    public func repairSchedules(now: Date) async throws -> [(id: Int64, column: String, value: String?)] {
        let stamp = Timestamp.string(now)
        return try await database.use { db in
            let probes = [
                ("next_check_at", "SELECT id, next_check_at FROM requests INDEXED BY requests_tracking WHERE state = 'in_progress' AND next_check_at IS NULL AND attention IS NULL"),
                ("next_check_at", "SELECT id, next_check_at FROM requests INDEXED BY requests_tracking WHERE state = 'in_progress' AND next_check_at > '3'"),
                ("next_attempt_at", "SELECT id, next_attempt_at FROM requests INDEXED BY requests_due WHERE state IN ('retrying', 'reconciling') AND next_attempt_at IS NULL"),
                ("next_attempt_at", "SELECT id, next_attempt_at FROM requests INDEXED BY requests_due WHERE state IN ('retrying', 'reconciling') AND next_attempt_at > '3'"),
            ]
            var found: [(id: Int64, column: String, value: String?)] = []
            for (column, sql) in probes {
                found += try db.query(sql + " LIMIT 1000") { (id: $0.integer(0), column: column, value: $0.text(1)) }
            }
            guard !found.isEmpty else { return [] }
            try db.transaction {
                for row in found {
                    try db.run("UPDATE requests SET \(row.column) = ?2 WHERE id = ?1", [.integer(row.id), .text(stamp)])
                }
            }
            return found
        }
    }

    // The statements every order goes through, named so that HotPathPlanTests can check what
    // SQLite makes of them (no temporary b-trees; see migration 8).

    /// The rows a claim may take, in id order, at most `limit`: queued rows (due at once) and
    /// retrying and reconciling rows whose time has come, leaving out any that must wait for an
    /// overlapping row (invariant 3, ``free``), so that the limit counts only rows that can go
    /// and those behind a blocked one still do.
    ///
    /// Queued rows are walked once in id order. Each is checked against the other states' rows
    /// by SQL's seeks, and against the queued rows before it here: in SQL, each row read all the
    /// queued rows before it again, the other candidates of its batch among them, a cost that
    /// grew with the square of the batch (BENCHMARKS.md, 2026-12-08).
    static func candidates(_ db: Connection, stamp: String, limit: Int) throws -> [Int64] {
        var queued: [Int64] = []
        // Every queued text range before the current row (an E.164 number is a small string,
        // held inline: 40 bytes a row, freed when the claim ends).
        var earlier: [(length: Int64, start: String, end: String)] = []
        try db.walk(queuedWalkSQL) { row in
            // As `free` compares them: same length, each starting before the other ends, bytes
            // in order (SQLite's BINARY collation). A range that is not text (the checks
            // bypassed) neither waits for nor holds up another; the claim makes it invalid.
            let isText = row.integer(4) != 0
            let range = (length: row.integer(3), start: row.text(1) ?? "", end: row.text(2) ?? "")
            let freeOfOtherStates = row.integer(5) != 0
            let heldByEarlierQueued = isText && earlier.contains { other in
                other.length == range.length && !range.end.utf8.lexicographicallyPrecedes(other.start.utf8)
                    && !other.end.utf8.lexicographicallyPrecedes(range.start.utf8)
            }
            if freeOfOtherStates, !heldByEarlierQueued { queued.append(row.integer(0)) }
            if isText { earlier.append(range) }
            return queued.count < limit
        }
        let due = try db.query(dueSQL, [.text(stamp), .integer(Int64(limit))]) { $0.integer(0) }
        return Array((queued + due).sorted().prefix(limit))
    }

    /// Every queued row in id order: its id, range (the end defaulting to the start), the
    /// range's length, whether the range is text, and whether no row of another state holds
    /// it up (``free`` less its first, queued, part, which ``candidates(_:stamp:limit:)`` does).
    static let queuedWalkSQL = HotPathSQL("""
        SELECT id, range_start, coalesce(range_end, range_start), length(range_start),
               typeof(range_start) = 'text' AND typeof(range_end) IN ('text', 'null'),
               \(freeOfOtherStates)
        FROM requests r INDEXED BY requests_state WHERE state = 'queued' ORDER BY id
        """)

    /// Retrying and reconciling rows whose time (`?1`) has come and that may go, the `?2` due
    /// first, in the order they came due.
    static let dueSQL = HotPathSQL("""
        SELECT id FROM requests r INDEXED BY requests_due WHERE state IN ('retrying', 'reconciling') AND next_attempt_at <= ?1 AND \(free)
        ORDER BY next_attempt_at LIMIT ?2
        """)

    /// One candidate's columns: `?1` id.
    static let candidateSQL = HotPathSQL("""
        SELECT action, country, range_start, range_end, service_profile, tracking_id, attempts,
               outcome_unknown, first_attempt_at, lookups, last_error,
               typeof(range_start) = 'text' AND typeof(range_end) IN ('text', 'null'),
               state, next_attempt_at
        FROM requests WHERE id = ?1
        """)

    /// A claim: `?1` id, `?2` tracking id, `?3` now.
    static let claimSQL = HotPathSQL("""
        UPDATE requests SET state = 'submitting', tracking_id = ?2, updated_at = ?3,
            first_attempt_at = coalesce(first_attempt_at, ?3), next_attempt_at = NULL
        WHERE id = ?1
        """)

    /// The open journal row of an attempt: `?1` request id, `?2` attempt, `?3` tracking id, `?4` now.
    static let openJournalSQL = HotPathSQL("INSERT INTO attempts (request_id, attempt, tracking_id, started_at) VALUES (?1, ?2, ?3, ?4)")

    /// An attempt's journal row closed with its outcome: `?1` journal id, then the columns in order.
    static let closeJournalSQL = HotPathSQL("""
        UPDATE attempts SET ended_at = ?2, http_status = ?3, outcome = ?4, colt_code = ?5, colt_reason = ?6,
            colt_message = ?7, detail = ?8, response_body = ?9, duration_ms = ?10, evidence = ?11
        WHERE id = ?1
        """)

    /// An accepted order recorded: `?1` id, `?2` order id, `?3` order status, `?4` now, `?5` first
    /// check, `?6` 1 when the attempt is spent. Refused (0 rows) when another row holds the order.
    static let acceptedSQL = HotPathSQL("""
        UPDATE requests SET state = 'in_progress', order_id = ?2, order_status = ?3, attempts = attempts + ?6,
            last_error = NULL, colt_code = NULL, next_attempt_at = NULL, updated_at = ?4, next_check_at = ?5
        WHERE id = ?1 AND state = 'submitting' AND NOT EXISTS (SELECT 1 FROM requests o WHERE o.order_id = ?2 AND o.id <> ?1)
        """)

    /// An accepted order another row already holds (invariant 9): the row reads the inventory
    /// again. `?1` id, `?2` now, `?3` the error.
    static let heldElsewhereSQL = HotPathSQL("""
        UPDATE requests SET state = 'reconciling', next_attempt_at = ?2, outcome_unknown = 1, updated_at = ?2,
            last_error = ?3
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// An order Colt completed at once: `?1` id, `?2` order id (or NULL), `?3` order status, `?4`
    /// now, `?5` 1 when Colt may hold an order, `?6` 1 when the attempt is spent.
    static let completedSQL = HotPathSQL("""
        UPDATE requests SET state = 'completed', order_id = coalesce(?2, order_id), order_status = ?3, attempts = attempts + ?6,
            last_error = NULL, colt_code = NULL, next_attempt_at = NULL, updated_at = ?4, completed_at = ?4,
            checked_at = ?4, next_check_at = NULL, outcome_unknown = max(outcome_unknown, ?5)
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// An outcome not known: the row reads the inventory at `?2`. `?1` id, `?3` 1 when the attempt
    /// counts, `?4` the error, `?5` Colt's code, `?6` now.
    static let reconcileSQL = HotPathSQL("""
        UPDATE requests SET state = 'reconciling', next_attempt_at = ?2, attempts = attempts + ?3,
            outcome_unknown = 1, last_error = ?4, colt_code = ?5, updated_at = ?6
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// An outcome the inventory could not settle: `?1` id, `?2` the error, `?3` now.
    static let unresolvedSQL = HotPathSQL("""
        UPDATE requests SET state = 'unresolved', next_attempt_at = NULL, outcome_unknown = 1, last_error = ?2,
            attention = ?2, updated_at = ?3
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// A transient failure, sent again at `?2`: `?1` id, `?3` 1 when the attempt counts, `?4` 1
    /// when Colt may hold an order, `?5` the error, `?6` Colt's code, `?7` now.
    static let retrySQL = HotPathSQL("""
        UPDATE requests SET state = 'retrying', next_attempt_at = ?2, attempts = attempts + ?3,
            outcome_unknown = max(outcome_unknown, ?4), last_error = ?5, colt_code = ?6, updated_at = ?7
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// Refused by Colt: `?1` id, `?2` the error, `?3` Colt's code, `?4` now, `?5` 1 when Colt may
    /// hold an order, `?6` 1 when the attempt is spent.
    static let rejectedSQL = HotPathSQL("""
        UPDATE requests SET state = 'rejected', attempts = attempts + ?6, last_error = ?2, colt_code = ?3,
            outcome_unknown = max(outcome_unknown, ?5), next_attempt_at = NULL, updated_at = ?4
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// Given up: `?1` id, `?2` the error, `?3` 1 when Colt may hold an order, `?4` now, `?5` 1 when
    /// the attempt is spent.
    static let failedSQL = HotPathSQL("""
        UPDATE requests SET state = 'failed', attempts = attempts + ?5, last_error = ?2,
            outcome_unknown = max(outcome_unknown, ?3), next_attempt_at = NULL, updated_at = ?4
        WHERE id = ?1 AND state = 'submitting'
        """)

    /// The SQL condition that request `r` may be sent now: no earlier row whose range overlaps
    /// it is still waiting for Colt, and no later one is in flight or may have made an order
    /// (a row an operator sent again with `retry` is older than rows queued since).
    ///
    /// One `NOT EXISTS` for each state, each an index seek: `o.state IN ('queued', ...)` would
    /// have SQLite build a temporary b-tree of the states each time the condition runs, which is
    /// once for each row a claim looks at.
    /// - Earlier `queued` rows: `requests_state` (state, then id) from `r.id` down. Those are
    ///   only the rows a claim left behind, blocked; the rows queued after `r`, often many,
    ///   are never read.
    /// - `submitting`, `retrying` and `reconciling` rows: their state's index by where the range
    ///   ends (schema 9), from `r`'s start up; in id order each check read every such row. The
    ///   CAST is the indexed expression's (for text, which the checks allow, it is the value).
    static let free = overlapCheck(earlier: [.queued, .submitting, .retrying, .reconciling])

    /// ``free`` without its first part, the earlier queued rows, which
    /// ``candidates(_:stamp:limit:)`` checks as it walks them.
    static let freeOfOtherStates = overlapCheck(earlier: [.submitting, .retrying, .reconciling])

    private static func overlapCheck(earlier: [RequestState]) -> String {
        func noOverlapping(_ state: RequestState, _ comparison: String) -> String {
            let index = state == .queued ? "requests_state" : "requests_\(state.rawValue)_ends"
            return """
            NOT EXISTS (SELECT 1 FROM requests o INDEXED BY \(index)
                        WHERE o.state = '\(state.rawValue)' AND o.id \(comparison) r.id
                          AND length(o.range_start) = length(r.range_start)
                          AND o.range_start <= coalesce(r.range_end, r.range_start)
                          AND CAST(coalesce(o.range_end, o.range_start) AS TEXT) >= r.range_start)
            """
        }
        let later: [RequestState] = [.submitting, .reconciling]
        return (earlier.map { noOverlapping($0, "<") } + later.map { noOverlapping($0, ">") }).joined(separator: "\nAND ")
    }

    /// Opens a fresh journal row for an immediate resend of a claimed request under a new
    /// token (after a 401); the row stays `submitting` and the attempt number is unchanged.
    public func reopen(_ claim: ClaimedRequest, now: Date) async throws -> ClaimedRequest {
        try await database.use { db in
            try db.run(Self.openJournalSQL, [.integer(claim.id), .integer(Int64(claim.attempt)), .text(claim.trackingID.text), .text(Timestamp.string(now))])
            var reopened = claim
            reopened.journalID = db.lastInsertedRowID
            return reopened
        }
    }

    /// Closes the attempts' journal rows and moves their requests on, in one transaction (one
    /// fsync), for outcomes that arrive together. Returns the records whose request row was
    /// gone: what Colt answered for them is nowhere else, so the caller must say it loudly.
    @discardableResult
    public func record(_ records: [AttemptRecord]) async throws -> [AttemptRecord] {
        guard !records.isEmpty else { return [] }
        return try await database.use { db in
            try db.transaction {
                try records.filter { try !Self.write($0, to: db) }
            }
        }
    }

    /// Whether any row is due now: queued, or retrying or reconciling with its time come.
    public func hasDue(now: Date) async throws -> Bool {
        let stamp = Timestamp.string(now)
        return try await database.use { db in
            try db.first("""
                SELECT EXISTS (SELECT 1 FROM requests WHERE state = 'queued')
                    OR EXISTS (SELECT 1 FROM requests INDEXED BY requests_due WHERE state IN ('retrying', 'reconciling') AND next_attempt_at <= ?1)
                """, [.text(stamp)]) { $0.int(0) != 0 } ?? false
        }
    }

    /// The earliest `next_attempt_at` after `now` of a retrying or reconciling row, or `nil`
    /// when none waits. (A row already due but waiting behind an overlapping one is woken by
    /// that one's end.)
    public func earliestRetry(after now: Date) async throws -> Date? {
        try await database.use { db in
            // A value that does not read as a time is due now (the claim then reschedules it).
            try db.first("SELECT min(next_attempt_at) FROM requests INDEXED BY requests_due WHERE state IN ('retrying', 'reconciling') AND next_attempt_at > ?1",
                         [.text(Timestamp.string(now))]) { $0.text(0) }?
                .map { Timestamp.date($0) ?? now }
        }
    }

    /// How many rows are not settled yet (queued, submitting, retrying or reconciling).
    public func unsettledCount() async throws -> Int {
        try await database.use { db in
            try db.first("SELECT count(*) FROM requests WHERE state IN ('queued', 'submitting', 'retrying', 'reconciling')") { $0.int(0) } ?? 0
        }
    }

    /// How many orders are being followed to completion and not flagged (`in_progress`, no
    /// `attention`): what `drain --until-completed` waits for.
    public func unflaggedTrackedCount() async throws -> Int {
        try await database.use { db in
            try db.first("SELECT count(*) FROM requests WHERE state = 'in_progress' AND attention IS NULL") { $0.int(0) } ?? 0
        }
    }

    /// The row, other than `id`, that holds `orderID`, if any.
    public func orderHolder(_ orderID: String, excluding id: Int64) async throws -> Int64? {
        try await database.use { db in
            try db.first("SELECT id FROM requests WHERE order_id = ?1 AND id <> ?2 LIMIT 1", [.text(orderID), .integer(id)]) { $0.integer(0) }
        }
    }

    /// Counts for the operator's figures (`/metrics`).
    public func attentionFigures(now: Date, stallAfter: Duration) async throws -> AttentionFigures {
        try await database.use { db in
            try db.first("""
                SELECT (SELECT count(*) FROM requests WHERE state = 'reconciling'),
                       (SELECT count(*) FROM requests WHERE state = 'unresolved'),
                       (SELECT count(*) FROM requests WHERE state = 'in_progress'),
                       (SELECT count(*) FROM requests WHERE state = 'in_progress' AND attention LIKE 'stalled%')
                """) { AttentionFigures(reconciling: $0.int(0), unresolved: $0.int(1), tracked: $0.int(2), stalled: $0.int(3)) }
                ?? AttentionFigures(reconciling: 0, unresolved: 0, tracked: 0, stalled: 0)
        }
    }

    // MARK: Following orders to completion

    /// Takes up to `limit` `in_progress` rows whose check is due, oldest check first, and
    /// schedules their next check at once (`next(since)`, from the time each was first sent),
    /// with `checked_at` now: a check that finds the order still running writes nothing more,
    /// and one that dies (a crash) is simply made again at its next time.
    public func claimChecks(now: Date, limit: Int, next: @escaping @Sendable (Date) -> Date) async throws -> [TrackedOrder] {
        guard limit > 0 else { return [] }
        let stamp = Timestamp.string(now)
        return try await database.use { db in
            let rows = try db.query("""
                SELECT id, action, country, range_start, range_end, service_profile, tracking_id, order_id,
                       coalesce(first_attempt_at, created_at), attempts, attention LIKE 'stalled%', order_status
                FROM requests INDEXED BY requests_tracking WHERE state = 'in_progress' AND next_check_at <= ?1 ORDER BY next_check_at LIMIT ?2
                """, [.text(stamp), .integer(Int64(limit))]) { row in
                (id: row.integer(0), action: row.text(1), country: row.text(2), start: row.text(3), end: row.text(4),
                 profile: row.text(5), trackingID: row.text(6) ?? "", orderID: row.text(7), since: row.text(8),
                 attempts: row.int(9), stalled: row.int(10) != 0, orderStatus: row.text(11))
            }
            guard !rows.isEmpty else { return [] }
            return try db.transaction {
                var orders: [TrackedOrder] = []
                for row in rows {
                    let since = row.since.flatMap(Timestamp.date) ?? now
                    guard let orderID = row.orderID,
                          let request = try? OrderRequest(action: row.action, country: row.country, rangeStart: row.start,
                                                          rangeEnd: row.end, serviceProfile: row.profile)
                    else {
                        try db.run("""
                            UPDATE requests SET next_check_at = NULL, updated_at = ?2,
                                attention = 'not followed: the row has no order id or its columns are not valid any more'
                            WHERE id = ?1 AND state = 'in_progress'
                            """, [.integer(row.id), .text(stamp)])
                        continue
                    }
                    try db.run("UPDATE requests SET checked_at = ?2, next_check_at = ?3 WHERE id = ?1 AND state = 'in_progress'",
                               [.integer(row.id), .text(stamp), .text(Timestamp.string(next(since)))])
                    orders.append(TrackedOrder(id: row.id, request: request, trackingID: row.trackingID, orderID: orderID,
                                               since: since, attempts: row.attempts, flaggedStalled: row.stalled,
                                               orderStatus: row.orderStatus))
                }
                return orders
            }
        }
    }

    /// The earliest `next_check_at` of a tracked order, or `nil` when none is followed.
    public func earliestCheck() async throws -> Date? {
        try await database.use { db in
            try db.first("SELECT min(next_check_at) FROM requests INDEXED BY requests_tracking WHERE state = 'in_progress'") { $0.text(0) }?
                .map { Timestamp.date($0) ?? Date() }
        }
    }

    /// Records inventory checks, in one transaction; a check that found nothing new (still
    /// running, same status, no flag) writes nothing.
    public func record(checks: [CheckRecord]) async throws {
        let checks = checks.filter(\.changesTheRow)
        guard !checks.isEmpty else { return }
        try await database.use { db in
            try db.transaction {
                for check in checks { try Self.write(check, to: db) }
            }
        }
    }

    private static func write(_ check: CheckRecord, to db: Connection) throws {
        let stamp = Timestamp.string(check.checkedAt)
        let id = SQLValue.integer(check.order.id)
        var journal = false
        switch check.outcome {
        case .running(let orderStatus, let stalled):
            try db.run("UPDATE requests SET order_status = coalesce(?2, order_status) WHERE id = ?1 AND state = 'in_progress'",
                       [id, .text(orderStatus)])
            // Flagged once: a second check of the same row (a slow read) finds it flagged.
            if let stalled {
                journal = try db.run("""
                    UPDATE requests SET attention = ?3, updated_at = ?2 WHERE id = ?1 AND state = 'in_progress' AND attention IS NULL
                    """, [id, .text(stamp), .text(stalled)]) > 0
            }
        case .completed(let orderStatus, let attention):
            journal = try db.run("""
                UPDATE requests SET state = 'completed', order_status = ?2, completed_at = ?3, checked_at = ?3,
                    next_check_at = NULL, attention = ?4, updated_at = ?3
                WHERE id = ?1 AND state = 'in_progress'
                """, [id, .text(orderStatus), .text(stamp), .text(attention)]) > 0
            if journal { try writeNumbers(check.numbers, request: check.order.id, stamp: stamp, to: db) }
        }
        if journal {
            try db.run("""
                INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome, detail, evidence, duration_ms)
                VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, 0)
                """, [id, .integer(Int64(check.order.attempts)), .text(check.order.trackingID), .text(stamp),
                      .text(check.outcome.journalOutcome), .text(check.detail), .text(check.evidence)])
        }
    }

    private static func writeNumbers(_ runs: [NumberRun], request: Int64, stamp: String, to db: Connection) throws {
        guard !runs.isEmpty else { return }
        try db.run("DELETE FROM order_numbers WHERE request_id = ?1", [.integer(request)])
        for run in runs {
            try db.run("""
                INSERT INTO order_numbers (request_id, first_number, last_number, numbers, status, order_id, order_status, expected, checked_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                """, [.integer(request), .text(run.first), .text(run.last), .integer(Int64(run.numbers)), .text(run.status),
                      .text(run.orderID), .text(run.orderStatus), run.expected ? 1 : 0, .text(stamp)])
        }
    }

    /// SQLite's `data_version`: it changes when another connection commits.
    public func dataVersion() async throws -> Int64 {
        try await database.use { db in
            try db.checkFileStillThere()
            return try db.dataVersion()
        }
    }

    /// Writes one record; false when its request row is gone (deleted behind the daemon's back)
    /// or no longer `submitting` (changed by hand while in flight): what Colt answered is then
    /// not recorded, and the caller says so loudly.
    private static func write(_ record: AttemptRecord, to db: Connection) throws -> Bool {
        let ended = Timestamp.string(record.endedAt)
        try db.run(Self.closeJournalSQL, [
                .integer(record.claim.journalID), .text(ended), .integer(record.httpStatus), .text(record.outcome),
                .text(record.coltCode), .text(record.coltReason), .text(record.coltMessage), .text(record.detail),
                .text(record.responseBody), .integer(record.durationMilliseconds), .text(record.evidence),
            ])
        let unknown: SQLValue = record.mayHaveCreatedOrder ? 1 : 0
        let id = SQLValue.integer(record.claim.id)
        let spent: SQLValue = record.spendsAttempt ? 1 : 0
        if record.evidence != nil {
            try db.run("UPDATE requests SET lookups = lookups + 1 WHERE id = ?1", [id])
            try writeNumbers(record.numbers, request: record.claim.id, stamp: ended, to: db)
        }
        var record = record
        if let reading = record.followUp {
            try db.run("""
                INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome, detail, evidence, duration_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, 'reconciled', ?6, ?7, ?8)
                """, [id, .integer(Int64(record.claim.attempt)), .text(record.claim.trackingID.text), .text(Timestamp.string(reading.startedAt)),
                      .text(ended), .text(reading.detail), .text(reading.evidence),
                      .integer(Int64(record.endedAt.timeIntervalSince(reading.startedAt) * 1000))])
            try db.run("UPDATE requests SET lookups = lookups + 1 WHERE id = ?1", [id])
            try writeNumbers(reading.numbers, request: record.claim.id, stamp: ended, to: db)
            record.detail += "; " + reading.detail
        }
        var changed = 1
        switch record.transition {
        case .accepted(let orderID, let orderStatus):
            changed = try db.run(Self.acceptedSQL, [id, .text(orderID), .text(orderStatus), .text(ended), .text(Timestamp.string(record.firstCheckAt ?? record.endedAt)), spent])
            if changed == 0, let holder = try db.first("SELECT id FROM requests WHERE order_id = ?1 AND id <> ?2", [.text(orderID), id], { $0.integer(0) }) {
                // Two rows never hold one order (invariant 9): this one reads the inventory again.
                changed = try db.run(Self.heldElsewhereSQL, [id, .text(ended), .text("order \(orderID) is already held by request \(holder); not taken: reading Colt's inventory again")])
            }
        case .completed(let orderID, let orderStatus):
            changed = try db.run(Self.completedSQL, [id, .text(orderID), .text(orderStatus), .text(ended), unknown, spent])
        case .reconcile(let at, let counts):
            changed = try db.run(Self.reconcileSQL, [id, .text(Timestamp.string(at)), counts ? 1 : 0, .text(record.detail), .text(record.coltCode), .text(ended)])
        case .unresolved:
            changed = try db.run(Self.unresolvedSQL, [id, .text(record.detail), .text(ended)])
        case .retry(let at, let counts):
            changed = try db.run(Self.retrySQL, [id, .text(Timestamp.string(at)), counts ? 1 : 0, unknown, .text(record.detail),
                                                 .text(record.coltCode), .text(ended)])
        case .rejected(let code):
            changed = try db.run(Self.rejectedSQL, [id, .text(record.detail), .text(code), .text(ended), unknown, spent])
        case .resendNow:
            break
        case .failed:
            changed = try db.run(Self.failedSQL, [id, .text(record.detail), unknown, .text(ended), spent])
        }
        return changed > 0
    }

    /// Marks a row that cannot be valid. Its columns break the table's checks (it predates them,
    /// or bypassed them), so the checks are lifted for this one daemon-written update.
    private static func markInvalid(_ db: Connection, id: Int64, error: ValidationError, stamp: String) throws {
        try db.execute("PRAGMA ignore_check_constraints = ON")
        defer { try? db.execute("PRAGMA ignore_check_constraints = OFF") }
        try db.run(
            "UPDATE requests SET state = 'invalid', last_error = ?2, next_attempt_at = NULL, updated_at = ?3 WHERE id = ?1",
            [.integer(id), .text("invalid, never sent: \(error)"), .text(stamp)])
    }
}
