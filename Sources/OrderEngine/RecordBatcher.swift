import ColtModel
import Foundation
import Logging
import OrderStore
import Synchronization

/// Group commit for attempt records: outcomes that arrive while one transaction is being
/// written go together into the next one, so the daemon pays one fsync per batch instead of
/// one per request. The first submission to arrive writes (the leader); later ones wait for
/// their record to be committed. A database locked by another process is waited for
/// (``LockedDatabase``), never taken as a failure: nothing was written, so writing again is safe.
final class RecordBatcher: Sendable {
    private struct State {
        var writing = false
        var pending: [(record: AttemptRecord, written: CheckedContinuation<Bool, any Error>)] = []
    }

    private let state = Mutex(State())
    private let queue: RequestQueue
    private let logger: Logger
    private let lock: LockedDatabase
    /// Writes one batch in one transaction; returns the records whose row was gone.
    private let commit: @Sendable ([AttemptRecord]) async throws -> [AttemptRecord]

    /// - Parameter commit: writes a batch; ``RequestQueue/record(_:)`` unless a test puts
    ///   something in its place.
    init(queue: RequestQueue, lock: LockedDatabase, logger: Logger,
         commit: (@Sendable ([AttemptRecord]) async throws -> [AttemptRecord])? = nil) {
        self.queue = queue
        self.lock = lock
        self.logger = logger
        self.commit = commit ?? { try await queue.record($0) }
    }

    /// Returns once `record` is committed; throws when its transaction failed.
    func record(_ record: AttemptRecord) async throws {
        while true {
            let lead = state.withLock { state -> Bool in
                if state.writing { return false }
                state.writing = true
                return true
            }
            if lead {
                try await write(first: record)
                return
            }
            // `false`: the leader finished before this record could join it; lead instead.
            let written = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let joined = state.withLock { state -> Bool in
                    guard state.writing else { return false }
                    state.pending.append((record, continuation))
                    return true
                }
                if !joined { continuation.resume(returning: false) }
            }
            if written { return }
        }
    }

    /// Writes the leader's record and everything that queues up meanwhile, batch after batch,
    /// until nothing is pending; then hands leadership back.
    private func write(first: AttemptRecord) async throws {
        var own: Result<Void, any Error>?
        var batch = [first]
        var waiters: [CheckedContinuation<Bool, any Error>] = []
        while true {
            let joined = state.withLock { state in
                defer { state.pending.removeAll() }
                return state.pending
            }
            batch += joined.map(\.record)
            waiters += joined.map(\.written)
            if batch.isEmpty {
                let done = state.withLock { state -> Bool in
                    guard state.pending.isEmpty else { return false }
                    state.writing = false
                    return true
                }
                if done { break }
                continue
            }
            let result = await Result(catching: { try await commitWaitingWhileBusy(batch) })
            for waiter in waiters { waiter.resume(with: result.map { true }) }
            if own == nil { own = result }
            batch.removeAll()
            waiters.removeAll()
        }
        try own?.get()
    }

    /// ``RequestQueue/reopen(_:now:)`` (a fresh journal row after a 401), waiting out a locked database.
    func reopen(_ claim: ClaimedRequest) async throws -> ClaimedRequest {
        try await waitingWhileBusy("open a journal row") { try await self.queue.reopen(claim, now: Date()) }
    }

    private func commitWaitingWhileBusy(_ batch: [AttemptRecord]) async throws {
        let orphans = try await waitingWhileBusy("record outcomes", count: batch.count) { try await self.commit(batch) }
        for record in orphans {
            // The row was deleted, or moved out of `submitting`, behind the daemon's back: this
            // line is all that is left of what Colt answered.
            var metadata: Logger.Metadata = [
                "request": "\(record.claim.id)", "tracking_id": "\(record.claim.trackingID)", "outcome": "\(record.outcome)",
                "http_status": "\(record.httpStatus.map(String.init) ?? "-")", "action": "\(record.claim.request.action.rawValue)",
                "range": "\(record.claim.request.range)", "country": "\(record.claim.request.country.rawValue)", "detail": "\(record.detail)",
            ]
            if case let .accepted(orderID, _) = record.transition { metadata["order_id"] = "\(orderID)" }
            if let body = record.responseBody { metadata["colt_answer"] = "\(body)" }
            logger.critical("THE REQUEST'S ROW IS GONE, OR WAS CHANGED BY HAND, WHILE ITS REQUEST WAS IN FLIGHT: Colt's answer could not be recorded and is kept only in this line; put it in the ledger from here", metadata: metadata)
        }
    }

    /// Runs `write` until it does not meet a lock held by another process (``LockedDatabase``).
    func waitingWhileBusy<T: Sendable>(_ what: String, count: Int = 1, _ write: @Sendable () async throws -> T) async throws -> T {
        try await lock.retrying(what, records: count, write)
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
