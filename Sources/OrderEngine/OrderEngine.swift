import ColtClient
import ColtModel
import Foundation
import Logging
import Metrics
import OrderStore
import ServiceLifecycle
import Synchronization

/// The daemon's engine: claims due rows, submits them to Colt, records every outcome, and
/// paces itself (in-flight limit, rate limit, global backoff, credentials pause).
///
/// Run it as a swift-service-lifecycle `Service`: on graceful shutdown it stops claiming, lets
/// requests in flight finish within ``EngineConfiguration/shutdownGrace``, records them, and
/// returns. In ``Mode/drain`` it returns by itself once every row is settled.
public struct OrderEngine: Service {
    /// How long the engine runs.
    public enum Mode: Sendable {
        /// Until graceful shutdown (SIGTERM, SIGINT).
        case daemon
        /// Until no row is queued, submitting, retrying or reconciling, then return; for scripts
        /// and tests. Orders in progress are not followed.
        case drain
        /// As ``drain``, then follow every `in_progress` order until it is completed or flagged.
        case drainUntilCompleted
    }

    /// Why the engine stopped with an error.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    let queue: RequestQueue
    let api: ColtAPI
    let tokens: TokenProvider
    let configuration: EngineConfiguration
    let mode: Mode
    let logger: Logger
    let databasePath: String
    let observer: (any EngineObserver)?
    let wakeup = Wakeup()
    let reloaded = ReloadBox()
    let metrics = EngineMetrics()
    /// What the engine is doing, for the operator's page (the status endpoint).
    public let condition = EngineCondition()
    let recorder: RecordBatcher
    let locked: LockedDatabase

    /// - Parameter observer: told of the engine's progress (readiness, figures, liveness), for
    ///   systemd's notify protocol or metrics; may be `nil`.
    public init(
        database: Database, api: ColtAPI, tokens: TokenProvider, configuration: EngineConfiguration, mode: Mode,
        logger: Logger, observer: (any EngineObserver)? = nil
    ) {
        queue = RequestQueue(database: database)
        locked = LockedDatabase(logger: logger)
        recorder = RecordBatcher(queue: queue, lock: locked, logger: logger)
        databasePath = database.path
        self.api = api
        self.tokens = tokens
        self.configuration = configuration
        self.mode = mode
        self.logger = logger
        self.observer = observer
    }

    /// Applies new tunables (in flight, rate, retry policy, backoff, pauses) to the running
    /// engine at its next turn; for SIGHUP. Rows already scheduled keep their due time.
    public func reload(_ configuration: EngineConfiguration) {
        reloaded.store(configuration)
        wakeup.signal()
    }

    public func run() async throws {
        let state = EngineState(configuration: configuration, wakeup: wakeup, condition: condition)
        for row in try await queue.recoverInterrupted(now: Date()) {
            logger.warning("resuming a request left in flight by a stopped daemon", metadata: [
                "request": "\(row.id)", "tracking_id": "\(row.trackingID)", "state": "\(RequestState.reconciling)",
            ])
        }
        let watcher = DatabaseWatcher(databasePath: databasePath)
        let watching = watcher.start { [state] in state.noteFileChange() }
        if !watching {
            logger.notice("inotify is not available here: new rows are found by checking every \(configuration.pollInterval)")
        }
        defer { watcher.stop() }
        observer?.ready()
        condition.update { $0.running = true }
        defer { condition.update { $0.running = false } }

        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await loop(state: state, wakeup: wakeup, group: &group)
                // Stop claiming; give requests in flight their grace, then abandon them (they
                // are recorded as interrupted and resumed with their own tracking id).
                let deadline = ContinuousClock.now + (await state.configuration.shutdownGrace)
                while case let unfinished = await state.unfinished, unfinished > 0 {
                    if ContinuousClock.now >= deadline {
                        logger.warning("requests still in flight after the shutdown grace; abandoning them: they resume with their own tracking id at the next start",
                                       metadata: ["in_flight": "\(unfinished)"])
                        group.cancelAll()
                        break
                    }
                    await wakeup.wait(timeout: ContinuousClock.now.duration(to: deadline))
                }
            }
        } onCancelOrGracefulShutdown: { [observer] in
            // A graceful shutdown, or the service group cancelling (another service failed).
            observer?.stopping()
            state.requestStop()
        }
        if let failure = await state.fatalError { throw failure }
    }

    /// What the loop carries from one turn to the next.
    private struct Turn {
        /// SQLite's `data_version` when last read: a change means another process wrote.
        var dataVersion: Int64
        /// Whether a claim may find something (cleared when one found less than it asked for).
        var queueMayHaveWork = true
        /// The earliest `next_attempt_at` of a row waiting, when no claim can find anything sooner.
        var nextRetry: Date?
        /// The earliest check of an order being followed; looked up again after any change.
        var nextCheck: Date?
        var lastFigures = ContinuousClock.now - .seconds(60)
        var lastVersionCheck = ContinuousClock.now
        /// Set when rows claimed ahead waited their time and were put back: nothing is claimed
        /// ahead again until an answer frees a place, or the same rows would be claimed and put
        /// back every second while Colt is slow, shutting out an operator's cancel.
        var aheadPaused = false
    }

    /// The engine's loop: each turn takes in what changed, then claims and starts rows, starts
    /// order checks, or waits for a signal or the next due time. Every turn tells the observer
    /// the loop is alive (systemd's watchdog), so nothing in a turn waits long.
    private func loop(state: EngineState, wakeup: Wakeup, group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        var turn = Turn(dataVersion: try await queue.dataVersion(), nextCheck: mode == .drain ? nil : try await queue.earliestCheck())
        do {
            try await turns(state: state, wakeup: wakeup, turn: &turn, group: &group)
        } catch {
            // Stopping first: a row put back into the window (the database busy) must not be
            // sent by an answer arriving meanwhile.
            state.requestStop()
            try? await putBack(await state.expireWindow(at: .now, force: true), state: state, why: "the engine stopped")
            throw error
        }
        try await putBack(await state.expireWindow(at: .now, force: true), state: state, why: "the engine stopped")
    }

    private func turns(state: EngineState, wakeup: Wakeup, turn: inout Turn, group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        while !state.stopRequested && !Task.isCancelled {
            if let failure = await state.fatalError { throw failure }
            if let configuration = reloaded.take() {
                await state.reconfigure(configuration)
                logger.notice("configuration reloaded", metadata: [
                    "max_in_flight": "\(configuration.maxInFlight)", "rate_per_second": "\(configuration.ratePerSecond)",
                ])
            }
            let clock = ContinuousClock.now
            observer?.alive()
            // First, before any query: rows claimed ahead go into the places answers freed.
            await sendFromWindow(state: state, group: &group)
            let expired = await state.expireWindow(at: clock)
            if !expired.isEmpty { turn.aheadPaused = true }
            try await putBack(expired, state: state, why: "waited \(ClaimWindow.maxWait) for a place in flight")
            try await housekeeping(state: state, turn: &turn, clock: clock)
            try await takeInChanges(state: state, turn: &turn, clock: clock)
            if try await drained(state: state, turn: turn) { return }

            switch await state.plan(now: Date(), clock: clock, queueMayHaveWork: turn.queueMayHaveWork) {
            case .wait(let until):
                // Every place busy, or a short wait for the rate limit: claim the rows that go
                // next, once the window is half empty. Answers hand their places to those rows
                // themselves; topping up one row at a time would cost a commit per answer.
                let (room, waiting) = await windowRoom(state: state)
                if room > 0, room >= waiting, turn.queueMayHaveWork, !turn.aheadPaused, until.map({ Date().distance(to: $0) < ClaimWindow.maxWait.seconds }) ?? true {
                    try await claimAhead(room, state: state, turn: &turn)
                    continue
                }
                // Spare capacity and nothing to submit: follow the orders whose check is due.
                if !turn.queueMayHaveWork, let due = turn.nextCheck, due <= Date() {
                    if let started = try await startChecks(state: state, group: &group) {
                        if started > 0 { continue }
                        turn.nextCheck = try await queue.earliestCheck()
                        if let next = turn.nextCheck, next <= Date() { turn.nextCheck = Date().addingTimeInterval(1) }
                    } else {
                        turn.nextCheck = Date().addingTimeInterval(LockedDatabase.retryInterval.seconds)
                    }
                }
                var timeout = await state.configuration.pollInterval
                for date in [until, turn.nextRetry, turn.nextCheck].compactMap(\.self) {
                    timeout = min(timeout, Date().distance(to: date).duration)
                }
                if let deadline = await state.windowDeadline { timeout = min(timeout, ContinuousClock.now.duration(to: deadline)) }
                await wakeup.wait(timeout: max(timeout, .milliseconds(1)))
            case .claim(let count):
                let ahead = turn.aheadPaused ? 0 : await windowRoom(state: state).room
                try await claimAndSubmit(count, ahead: ahead, state: state, turn: &turn, clock: clock, group: &group)
            }
        }
    }

    /// Every 5 s: figures for the observer and metrics, and schedules an operator broke.
    private func housekeeping(state: EngineState, turn: inout Turn, clock: ContinuousClock.Instant) async throws {
        guard clock - turn.lastFigures >= .seconds(5) else { return }
        turn.lastFigures = clock
        let inFlight = await state.inFlight
        metrics.inFlight.record(inFlight)   // also when nothing was sent since: answers lower it
        observer?.figures(inFlight: inFlight, unsettled: try await queue.unsettledCount())
        try await repairSchedules()
        metrics.record(try await queue.attentionFigures(now: Date(), stallAfter: await state.configuration.tracking.stallAfter))
    }

    /// What changed since the last turn: another process wrote (inotify, or `data_version` at
    /// each poll interval), a request finished, a retry came due.
    private func takeInChanges(state: EngineState, turn: inout Turn, clock: ContinuousClock.Instant) async throws {
        let pollInterval = await state.configuration.pollInterval
        if state.takeFileChange() || clock - turn.lastVersionCheck >= pollInterval {
            turn.lastVersionCheck = clock
            let version = try await queue.dataVersion()
            if version != turn.dataVersion {
                turn.dataVersion = version
                turn.queueMayHaveWork = true
            }
        }
        if state.takeCompletion() {
            turn.queueMayHaveWork = true
            turn.aheadPaused = false
            if mode != .drain { turn.nextCheck = try await queue.earliestCheck() }
        }
        if let due = turn.nextRetry, due <= Date() {
            turn.nextRetry = nil
            turn.queueMayHaveWork = true
        }
    }

    /// In the drain modes: whether everything is settled (and, for drainUntilCompleted, every
    /// accepted order completed or flagged), so the engine returns.
    private func drained(state: EngineState, turn: Turn) async throws -> Bool {
        guard mode != .daemon, await state.inFlight == 0, !turn.queueMayHaveWork, try await queue.unsettledCount() == 0 else { return false }
        if mode == .drain {
            logger.info("drained: every request is settled")
            return true
        }
        guard try await queue.unflaggedTrackedCount() == 0 else { return false }
        logger.info("drained: every request is settled, and every accepted order completed or flagged")
        return true
    }

    /// How many more rows the claim window may hold now, and how many it holds.
    private func windowRoom(state: EngineState) async -> (room: Int, waiting: Int) {
        let (configuration, waiting) = (await state.configuration, await state.windowCount)
        return (ClaimWindow.limit(maxInFlight: configuration.maxInFlight, ratePerSecond: configuration.ratePerSecond) - waiting, waiting)
    }

    /// Puts rows claimed ahead back as they were, never sent. One try: when another process
    /// holds the database, the rows stay in the window for the next turn (and when the engine
    /// is stopping, they are recovered at the next start like any row left `submitting`).
    private func putBack(_ claims: [ClaimedRequest], state: EngineState, why: String) async throws {
        guard !claims.isEmpty else { return }
        do {
            let released = try await queue.release(claims, now: Date())
            locked.passed("put back rows claimed ahead")
            logger.debug("rows claimed ahead put back, never sent", metadata: ["rows": "\(released)", "why": "\(why)"])
        } catch let error as DatabaseError where error.isBusy {
            locked.met("put back rows claimed ahead", error: error)
            await state.addToWindow(claims, at: .now - ClaimWindow.maxWait + LockedDatabase.retryInterval)
        }
    }

    /// Whether a claim may go ahead: something is due, and there is a token. Nothing due (say,
    /// only rows retrying later): no token is asked for, so an idle or draining daemon never
    /// asks Colt for one in vain. A token first: without one nothing can be sent, and no row
    /// spends an attempt.
    private func readyToClaim(state: EngineState, turn: inout Turn) async throws -> Bool {
        if try await !queue.hasDue(now: Date()) {
            turn.queueMayHaveWork = false
            turn.nextRetry = try await queue.earliestRetry(after: Date())
            return false
        }
        do {
            _ = try await tokens.token()
            return true
        } catch {
            await tokenFailed(error, state: state)
            return false
        }
    }

    /// Claims up to `count + ahead` due rows (their tracking ids committed), starts a submission
    /// for as many as the plan allows once they are claimed (`count` at most, unless answers
    /// freed more places meanwhile), and keeps the rest in the claim window.
    private func claimAndSubmit(_ count: Int, ahead: Int, state: EngineState, turn: inout Turn, clock: ContinuousClock.Instant,
                                group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        guard try await readyToClaim(state: state, turn: &turn) else { return }
        let batch: ClaimBatch
        do {
            batch = try await queue.claimDue(now: Date(), limit: count + max(0, ahead), maxRangeSize: await state.configuration.maxRangeSize)
        } catch let error as DatabaseError where error.isBusy {
            // Back to the loop between tries: it stays alive for the watchdog.
            locked.met("claim rows", error: error)
            await wakeup.wait(timeout: LockedDatabase.retryInterval)
            return
        }
        locked.passed("claim rows")
        for row in batch.invalid {
            logger.error("invalid request, never sent", metadata: ["request": "\(row.id)", "state": "\(RequestState.invalid)", "error": "\(row.error)"])
        }
        // The claimed rows are sent or in the window before any other query, which could
        // throw and leave them claimed but in neither. They go through the window: answers
        // that came in while the claim committed may have spent the rate tokens and places
        // the plan counted on, so what is sent now is asked for again.
        await state.addToWindow(batch.claimed, at: clock)
        await sendFromWindow(state: state, group: &group)
        // Fewer than asked for, none of them invalid: nothing more can go until something
        // changes. (Rows found invalid took places in the batch: look again at once.)
        if batch.claimed.count < count + max(0, ahead), batch.invalid.isEmpty {
            turn.queueMayHaveWork = false
            turn.nextRetry = try await queue.earliestRetry(after: Date())
        }
    }

    /// Rows claimed ahead go into the places answers have freed, as many as the breaker and the
    /// rate limit allow.
    /// Nothing is sent once the engine is stopping or has failed: the rows are put back.
    private func sendFromWindow(state: EngineState, group: inout ThrowingDiscardingTaskGroup<any Error>) async {
        await send(await state.takeFromWindow(now: Date(), clock: .now), state: state, group: &group)
    }

    /// Claims up to `room` rows into the window while every place is busy. Meanwhile the
    /// answers that arrive hand their places to the rows already in the window
    /// (``EngineState/answered(takeNext:now:clock:)``), so a claim's commit (an fsync) is not
    /// on any request's path. Nothing else happens in the loop until the claim is committed and
    /// its rows are in the window.
    private func claimAhead(_ room: Int, state: EngineState, turn: inout Turn) async throws {
        guard try await readyToClaim(state: state, turn: &turn) else { return }
        let batch: ClaimBatch
        do {
            batch = try await queue.claimDue(now: Date(), limit: room, maxRangeSize: await state.configuration.maxRangeSize)
        } catch let error as DatabaseError where error.isBusy {
            // A sleep, not a wait for the wakeup: answers recorded meanwhile leave it signalled.
            locked.met("claim rows", error: error)
            try? await Task.sleep(for: LockedDatabase.retryInterval)
            return
        }
        locked.passed("claim rows")
        for row in batch.invalid {
            logger.error("invalid request, never sent", metadata: ["request": "\(row.id)", "state": "\(RequestState.invalid)", "error": "\(row.error)"])
        }
        await state.addToWindow(batch.claimed, at: .now)
        if batch.claimed.count < room, batch.invalid.isEmpty {
            turn.queueMayHaveWork = false
            turn.nextRetry = try await queue.earliestRetry(after: Date())
        }
    }

    /// Starts serving each claimed row, already counted in flight.
    private func send(_ claims: [ClaimedRequest], state: EngineState, group: inout ThrowingDiscardingTaskGroup<any Error>) async {
        guard !claims.isEmpty else { return }
        metrics.inFlight.record(await state.inFlight)
        for claim in claims {
            group.addTask { await serve(claim, state: state) }
        }
    }

    /// Submits `first`, then, each time an answer frees its place, the oldest row of the claim
    /// window in the same task (``EngineState/answered(takeNext:now:clock:)``), so that no turn
    /// of the loop stands between an answer and the next request. Each answer is recorded in
    /// a child task meanwhile.
    private func serve(_ first: ClaimedRequest, state: EngineState) async {
        await withDiscardingTaskGroup { records in
            var claim = first
            while true {
                logSubmitting(claim)
                guard let answer = await submit(claim, state: state) else { return }
                let next = await state.answered(takeNext: !Task.isCancelled, now: Date(), clock: .now)
                records.addTask { await save(answer, state: state) }
                guard let next else { return }
                claim = next
            }
        }
    }

    private func logSubmitting(_ claim: ClaimedRequest) {
        logger.info("submitting", metadata: [
            "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "state": "\(RequestState.submitting)",
            "action": "\(claim.request.action.rawValue)", "range": "\(claim.request.range)", "attempt": "\(claim.attempt)",
        ])
    }

    /// Starts inventory checks of due `in_progress` orders in the places submissions leave free;
    /// returns how many started (0 when paused, full or nothing is due), or nil when the
    /// database is locked (the loop tries again after ``LockedDatabase/retryInterval``).
    private func startChecks(state: EngineState, group: inout ThrowingDiscardingTaskGroup<any Error>) async throws -> Int? {
        let clock = ContinuousClock.now
        let capacity = await state.checkCapacity(now: Date(), clock: clock)
        guard capacity > 0 else { return 0 }
        do {
            _ = try await tokens.token()
        } catch {
            await tokenFailed(error, state: state)
            return 0
        }
        let orders: [TrackedOrder]
        do {
            let policy = await state.configuration.tracking
            orders = try await queue.claimChecks(now: Date(), limit: capacity) { since in
                var generator = SystemRandomNumberGenerator()
                let now = Date()
                return now.addingTimeInterval(policy.delay(age: .seconds(now.timeIntervalSince(since)), using: &generator).seconds)
            }
        } catch let error as DatabaseError where error.isBusy {
            locked.met("claim order checks", error: error)
            return nil
        }
        locked.passed("claim order checks")
        guard !orders.isEmpty else { return 0 }
        await state.startedChecks(orders.count, clock: clock)
        for order in orders {
            group.addTask { await check(order, state: state) }
        }
        return orders.count
    }

    /// One inventory check of an order being followed: completed, still running (maybe stalled),
    /// or not known this time. Never sends anything that could change Colt's inventory.
    private func check(_ order: TrackedOrder, state: EngineState) async {
        let policy = await state.configuration.tracking
        let answer: InventoryAnswer
        do {
            answer = try await readInventory(order.request.range)
        } catch {
            answer = .couldNotTell("no token: \(error.detail)")
        }
        // Colt answered: the API works (a check may be the breaker's probe).
        if case .read = answer { await state.apiAnswered() }
        // Stopping: the check is made again at its next time after the restart.
        if !Task.isCancelled {
            let record = judge(order, answer: answer, policy: policy)
            do {
                try await recorder.waitingWhileBusy("record an order check") { try await self.queue.record(checks: [record]) }
            } catch is CancellationError {
            } catch {
                logger.critical("cannot record an order check", metadata: [
                    "request": "\(order.id)", "tracking_id": "\(order.trackingID)", "error": "\(error)",
                ])
                await state.fail(error)
            }
        }
        await state.finishedCheck()
    }

    /// What a check found, as the record to write (and one log line when something happened).
    private func judge(_ order: TrackedOrder, answer: InventoryAnswer, policy: TrackingPolicy) -> CheckRecord {
        let now = Date()
        let age = Duration.seconds(now.timeIntervalSince(order.since))
        var metadata: Logger.Metadata = [
            "request": "\(order.id)", "tracking_id": "\(order.trackingID)", "order_id": "\(order.orderID)",
        ]
        switch CompletionVerdict.judge(answer, request: order.request, orderID: order.orderID) {
        case .completed(let orderStatus, let unexpected, let count):
            var attention: String?
            var detail = "order \(order.orderID) completed (\(orderStatus)): "
            if OrderProgress(orderStatus) == .ended {
                attention = "Colt reports order \(order.orderID) as '\(orderStatus)': it ended without doing the work"
                    + (count > 0 ? "; " + unexpected.joined(separator: ", ") + (count > unexpected.count ? ", …" : "") : "")
                detail += attention!
            } else if count > 0 {
                attention = "unexpected final status: \(count) of the range's numbers ended where a \(order.request.action.rawValue) does not lead: "
                    + unexpected.joined(separator: ", ") + (count > unexpected.count ? ", …" : "")
                detail += attention!
            } else {
                detail += "every number shows a status the \(order.request.action.rawValue) leads to"
            }
            detail += answer.summary.map { " (\($0))" } ?? ""
            metadata["state"] = "\(RequestState.completed)"
            metadata["order_status"] = "\(orderStatus)"
            metrics.completed(after: age)
            if let attention {
                metadata["attention"] = "\(attention)"
                logger.error("order completed, but numbers ended in an unexpected status", metadata: metadata)
            } else {
                logger.info("order completed", metadata: metadata)
            }
            return CheckRecord(order: order, checkedAt: now, outcome: .completed(orderStatus: orderStatus, attention: attention),
                               detail: detail, evidence: answer.evidence, numbers: answer.runs(for: order.request))
        case .running(let orderStatus):
            return runningRecord(order, now: now, age: age, policy: policy, orderStatus: orderStatus, answer: answer, words: "still in progress")
        case .unclear(let why):
            metadata["error"] = "\(why)"
            logger.warning("could not check an order's progress; checking again later", metadata: metadata)
            return runningRecord(order, now: now, age: age, policy: policy, orderStatus: nil, answer: answer, words: why)
        }
    }

    private func runningRecord(_ order: TrackedOrder, now: Date, age: Duration, policy: TrackingPolicy,
                               orderStatus: String?, answer: InventoryAnswer, words: String) -> CheckRecord {
        var stalled: String?
        if age >= policy.stallAfter, !order.flaggedStalled {
            stalled = "stalled: order \(order.orderID) still in progress \(Timestamp.age(age)) after it was sent, past tracking.stall_after (\(Timestamp.age(policy.stallAfter)))"
            logger.warning("order stalled", metadata: [
                "request": "\(order.id)", "tracking_id": "\(order.trackingID)", "order_id": "\(order.orderID)",
                "state": "\(RequestState.inProgress)", "attention": "\(stalled!)",
            ])
        }
        let detail = (stalled ?? "order \(order.orderID)") + ": " + words
            + (answer.summary.map { " (\($0))" } ?? "")
        return CheckRecord(order: order, checkedAt: now, outcome: .running(orderStatus: orderStatus, stalled: stalled),
                           detail: detail, evidence: answer.evidence, numbers: [])
    }

    /// Makes due at once, and says so, rows whose next time an operator's UPDATE left missing
    /// or unreadable: otherwise they would wait for ever.
    private func repairSchedules() async throws {
        for row in try await queue.repairSchedules(now: Date()) {
            logger.error("a row's schedule was not a time (changed by hand?); it is due now", metadata: [
                "request": "\(row.id)", "column": "\(row.column)", "value": "\(row.value ?? "NULL")",
            ])
        }
    }

    private func tokenFailed(_ error: TokenError, state: EngineState) async {
        metrics.tokenFailures.increment()
        switch error.kind {
        case .credentialsRejected:
            let until = Date().addingTimeInterval(await state.configuration.credentialsRetryInterval.seconds)
            await state.pauseForCredentials(until: until, detail: "Colt refused the client credentials: \(error.detail)")
            logger.critical("COLT REFUSED THE CLIENT CREDENTIALS: all submissions are paused. Fix the client id or the secret file, then restart the daemon", metadata: [
                "error": "\(error.detail)", "retry_at": "\(Timestamp.string(until))",
            ])
            if mode != .daemon {
                await state.fail(Failure(description: "Colt refused the client credentials (\(error.detail)); nothing was sent. Check the client id and the secret file"))
            }
        case .unavailable:
            let pause = await state.tokenUnavailable(now: Date(), retryAfter: error.retryAfter, detail: "no token from Colt: \(error.detail)")
            logger.error("cannot get a token from Colt; submissions wait", metadata: [
                "error": "\(error.detail)", "pause": "\(pause)",
            ])
        }
    }

    /// An answer from Colt, decided, and what is to be recorded of it.
    private struct Answer: Sendable {
        var claim: ClaimedRequest
        var result: AttemptResult
        var transition: AttemptRecord.Transition
        var entry: AttemptRecord
        var words: String?
    }

    /// Sends one claimed row, after reading Colt's inventory when an earlier attempt's outcome
    /// is unknown (invariant 9), and again after a 401 with a fresh token; decides on Colt's
    /// answer and returns it to be recorded (the caller frees the place and calls
    /// ``save(_:state:)``). Returns nil when the row ended otherwise (no token, the engine
    /// stopping, an inventory reading that settled it), with everything recorded and the place
    /// freed.
    private func submit(_ claim: ClaimedRequest, state: EngineState) async -> Answer? {
        var claim = claim
        var result: AttemptResult
        do {
            if claim.outcomeUnknown {
                let started = Date()
                let reading = try await read(claim)
                guard let next = try await afterReading(claim, reading, started: started, state: state) else {
                    await state.finished()
                    return nil
                }
                claim = next
            }
            let token = try await tokens.token()
            result = await api.submit(claim.request, trackingID: claim.trackingID, token: token)
            if result.outcome == .unauthorized {
                // The token was refused: a new one, and the same request again at once; not an attempt.
                await tokens.invalidate(token)
                try await recorder.record(record(for: claim, result: result, transition: .resendNow))
                claim = try await recorder.reopen(claim)
                let fresh = try await tokens.token()
                result = await api.submit(claim.request, trackingID: claim.trackingID, token: fresh)
            }
        } catch let error as TokenError {
            // No token, so nothing was sent: the row waits for the pause and spends no attempt.
            await tokenFailed(error, state: state)
            let pause = await state.configuration.globalBackoff.initialPause
            let retry = AttemptRecord(
                claim: claim, endedAt: Date(), httpStatus: nil, outcome: AttemptOutcome.notSent.name, detail: "not sent: no token: \(error.detail)",
                responseBody: nil, durationMilliseconds: 0, mayHaveCreatedOrder: false,
                transition: DecisionTable.noToken(claim, pause: pause, now: Date()))
            do { try await recorder.record(retry) } catch { await state.fail(error) }
            await state.finished()
            return nil
        } catch is CancellationError {
            // Stopping while the database was locked: the row stays `submitting` and resumes,
            // with its own tracking id, at the next start.
            await state.finished()
            return nil
        } catch {
            await state.fail(error)
            await state.finished()
            return nil
        }

        // Abandoned at the end of the shutdown grace (or the service group was cancelled): the
        // answer never came, so nothing is known. The row's inventory is read at the next start
        // before anything is sent; the attempt is spent, as after a crash, and the breaker does
        // not hear of it.
        if Task.isCancelled {
            result.outcome = .interrupted
            result.detail = "interrupted: the daemon stopped before Colt answered (\(result.detail)); Colt's inventory is read at the next start before the row is sent again with the same tracking id"
            do {
                try await recorder.record(record(for: claim, result: result, transition: DecisionTable.interrupted(claim, now: Date())))
            } catch is CancellationError {
            } catch {
                await state.fail(error)
            }
            await state.finished()
            return nil
        }
        let (transition, reading) = await decide(claim, result: result, state: state)
        var entry = record(for: claim, result: result, transition: transition)
        if let reading {
            entry.followUp = FollowUpReading(startedAt: reading.startedAt, detail: reading.words, evidence: reading.answer.evidence,
                                             numbers: reading.answer.runs(for: claim.request))
            metrics.reconciled(reading.verdict)
        }
        if case .accepted = transition { entry.firstCheckAt = await firstCheck(state) }
        return Answer(claim: claim, result: result, transition: transition, entry: entry, words: reading?.words)
    }

    /// Records an answer ``submit(_:state:)`` returned. The row stays `submitting` until then,
    /// so nothing overlapping it is claimed meanwhile.
    private func save(_ answer: Answer, state: EngineState) async {
        let claim = answer.claim
        do {
            try await recorder.record(answer.entry)
            log(claim, result: answer.result, transition: answer.transition, words: answer.words)
            metrics.record(answer.result, transition: answer.transition)
        } catch is CancellationError {
            // Stopping while the database was locked: resumed at the next start, as below.
        } catch {
            logger.critical("cannot record an attempt's outcome; it will be resumed with its own tracking id at the next start", metadata: [
                "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "error": "\(error)",
            ])
            await state.fail(error)
        }
        await state.recorded()
    }

    /// When an accepted order is first checked.
    private func firstCheck(_ state: EngineState) async -> Date {
        var generator = SystemRandomNumberGenerator()
        return Date().addingTimeInterval(await state.configuration.tracking.delay(age: .zero, using: &generator).seconds)
    }

    /// One reading of Colt's inventory for a row, and what it means.
    struct Reading: Sendable {
        var startedAt = Date()
        var answer: InventoryAnswer
        var verdict: ReconcileVerdict
        /// The verdict and the evidence in words, for the journal and logs.
        var words: String
    }

    /// Colt's inventory for `range`, with a new token and one more try when the token is refused.
    private func readInventory(_ range: NumberRange) async throws(TokenError) -> InventoryAnswer {
        let token = try await tokens.token()
        let answer = await api.readInventory(range: range, token: token)
        guard answer == .unauthorized else { return answer }
        await tokens.invalidate(token)
        let again = await api.readInventory(range: range, token: try await tokens.token())
        return again == .unauthorized ? .couldNotTell("HTTP 401 to a fresh token") : again
    }

    /// Reads the inventory of the row's range and judges it; an order another row holds is never adopted.
    private func read(_ claim: ClaimedRequest) async throws(TokenError) -> Reading {
        let started = Date()
        let answer = try await readInventory(claim.request.range)
        var verdict = ReconcileVerdict.judge(answer, request: claim.request)
        if let candidate = verdict.candidateOrder {
            do {
                verdict = verdict.owned(by: try await queue.orderHolder(candidate, excluding: claim.id))
            } catch {
                verdict = .unclear("could not look up which row holds order \(candidate): \(error)")
            }
        }
        let evidence = answer.summary.map { "Colt's inventory: \($0)" } ?? ""
        let words: String
        switch verdict {
        case .adopt(let id, let status):
            words = "reconciled: every number of the range carries order \(id)\(status.map { " (\($0))" } ?? ""), which no other row holds: it is this row's order. \(evidence)"
        case .done(let id, _):
            words = "reconciled: no order is open on the range and every number already shows a status the \(claim.request.action.rawValue) leads to, so the work is done\(id.map { " (order \($0))" } ?? " (Colt's answer names no order id)"). \(evidence)"
        case .notCreated:
            words = "reconciled: no order on the range and every number is where it was, so nothing was created. \(evidence)"
        case .unclear(let why):
            words = "could not reconcile: \(why); nothing is sent until Colt's inventory settles it. \(evidence)"
        }
        return Reading(startedAt: started, answer: answer, verdict: verdict, words: words)
    }

    /// Records a reconciliation read made before sending. Returns the claim to send (with a new
    /// journal row) when nothing was created, or nil when the reading settled the row.
    private func afterReading(_ claim: ClaimedRequest, _ reading: Reading, started: Date, state: EngineState) async throws -> ClaimedRequest? {
        let policy = await state.configuration.retry
        let now = Date()
        let age = now.timeIntervalSince(claim.firstAttemptAt)
        metrics.reconciled(reading.verdict)
        var generator = SystemRandomNumberGenerator()
        let transition = DecisionTable.beforeResend(reading.verdict, claim: claim, policy: policy, now: now, using: &generator)
        var detail = reading.words
        switch transition {
        case .failed:
            detail = "gave up after \(claim.attempt - 1) attempts (last: \(claim.lastError ?? "unknown")): " + detail
        case .unresolved:
            detail = "unresolved after \(claim.lookups + 1) inventory reads over \(Timestamp.age(.seconds(age))) (retry.max_age): \(detail) An operator must decide: check the numbers with Colt, then `colt-orders cancel \(claim.id)`, or `colt-orders retry --force \(claim.id)` to send it again under a new tracking id"
        default:
            break
        }
        var entry = AttemptRecord(
            claim: claim, endedAt: now, httpStatus: nil, outcome: "reconciled", detail: detail, responseBody: nil,
            durationMilliseconds: Int(now.timeIntervalSince(started) * 1000), mayHaveCreatedOrder: true, transition: transition)
        entry.evidence = reading.answer.evidence
        entry.numbers = reading.answer.runs(for: claim.request)
        entry.spendsAttempt = false
        if case .accepted = transition { entry.firstCheckAt = await firstCheck(state) }
        try await recorder.record(entry)
        logReading(claim, reading, transition: transition)
        guard transition == .resendNow else { return nil }
        return try await recorder.reopen(claim)
    }

    private func logReading(_ claim: ClaimedRequest, _ reading: Reading, transition: AttemptRecord.Transition) {
        var metadata: Logger.Metadata = [
            "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "outcome": "reconciled", "detail": "\(reading.words)",
        ]
        switch transition {
        case .accepted(let id, _):
            metadata["state"] = "\(transition.state)"
            metadata["order_id"] = "\(id)"
            logger.notice("an earlier attempt had created the order: adopted from Colt's inventory", metadata: metadata)
        case .completed(let id, _):
            metadata["state"] = "\(transition.state)"
            if let id { metadata["order_id"] = "\(id)" }
            logger.notice("Colt's inventory shows the work already done", metadata: metadata)
        case .resendNow:
            logger.info("Colt's inventory shows nothing was created: sending again with the same tracking id", metadata: metadata)
        case .failed:
            metadata["state"] = "\(transition.state)"
            logger.error("failed: retries exhausted, and Colt's inventory shows no order", metadata: metadata)
        case .unresolved:
            metadata["state"] = "\(transition.state)"
            logger.critical("UNRESOLVED: Colt's inventory could not say whether an order was created; an operator must decide", metadata: metadata)
        case .reconcile(let at, _):
            metadata["state"] = "\(transition.state)"
            metadata["next_attempt_at"] = "\(Timestamp.string(at))"
            logger.warning("awaiting reconciliation: Colt's inventory does not settle the outcome yet; nothing is sent", metadata: metadata)
        case .retry, .rejected:
            break
        }
    }

    /// The decision policy, as the configuration has it now.
    private func decisionPolicy(_ state: EngineState) async -> DecisionTable.Policy {
        let configuration = await state.configuration
        return DecisionTable.Policy(retry: configuration.retry, requestTimeout: api.configuration.requestTimeout,
                                    credentialsRetryInterval: configuration.credentialsRetryInterval)
    }

    /// Where a row goes after this result (``DecisionTable``), reading the inventory first when
    /// the table asks for it; performs the decision's pauses and breaker event.
    private func decide(_ claim: ClaimedRequest, result: AttemptResult, state: EngineState) async
        -> (AttemptRecord.Transition, Reading?)
    {
        let policy = await decisionPolicy(state)
        var generator = SystemRandomNumberGenerator()
        var reading: Reading?
        let decision: DecisionTable.Decision
        switch DecisionTable.afterAttempt(result, claim: claim, policy: policy, now: Date(), using: &generator) {
        case .decided(let decided):
            decision = decided
        case .readInventory:
            let read: Reading
            do {
                read = try await self.read(claim)
            } catch {
                read = Reading(answer: .couldNotTell("no token: \(error.detail)"), verdict: .unclear("no token: \(error.detail)"),
                               words: "could not reconcile: no token: \(error.detail)")
            }
            reading = read
            decision = DecisionTable.afterRefusal(read.verdict, claim: claim, code: result.coltError?.code, policy: policy,
                                                  now: Date(), using: &generator)
        }
        await perform(decision, claim: claim, result: result, state: state)
        return (decision.transition, reading)
    }

    /// Tells the breaker, and pauses, as a decision asks.
    private func perform(_ decision: DecisionTable.Decision, claim: ClaimedRequest, result: AttemptResult, state: EngineState) async {
        if let until = decision.holdUntil { await state.pauseAll(until: until) }
        switch decision.breaker {
        case .answered:
            await state.apiAnswered()
        case .failed(let retryAfter):
            if let pause = await state.apiFailed(now: Date(), retryAfter: retryAfter, detail: "request \(claim.id): \(result.detail)") {
                metrics.globalPauses.increment()
                logger.error("the Colt API is failing: every submission waits", metadata: [
                    "pause": "\(pause)", "last_error": "\(result.detail)",
                ])
            }
        case nil:
            break
        }
        if let until = decision.credentialsPausedUntil {
            // A second 401 with a fresh token: the credentials are wrong. Pause everything.
            await state.pauseForCredentials(until: until, detail: "Colt answered 401 to a fresh token (request \(claim.id))")
            logger.critical("COLT REFUSED A FRESH TOKEN (HTTP 401 twice): all submissions are paused. Check the client id, the secret file and the API's base URL", metadata: [
                "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "retry_at": "\(Timestamp.string(until))",
            ])
            if mode != .daemon {
                await state.fail(Failure(description: "Colt answered 401 to a fresh token: the credentials are not valid for this API"))
            }
        }
    }

    private func record(for claim: ClaimedRequest, result: AttemptResult, transition: AttemptRecord.Transition) -> AttemptRecord {
        var detail = result.detail
        if case .failed = transition {
            detail = "gave up after \(claim.attempt) attempts: \(result.detail)"
        }
        return AttemptRecord(
            claim: claim, endedAt: Date(), httpStatus: result.httpStatus, outcome: result.outcome.name,
            coltCode: result.coltError?.code, coltReason: result.coltError?.reason, coltMessage: result.coltError?.message,
            detail: detail, responseBody: result.responseBody.isEmpty ? nil : result.responseBody,
            durationMilliseconds: Int(result.duration.seconds * 1000),
            mayHaveCreatedOrder: result.mayHaveCreatedOrder, transition: transition)
    }

    private func log(_ claim: ClaimedRequest, result: AttemptResult, transition: AttemptRecord.Transition, words: String?) {
        var metadata: Logger.Metadata = [
            "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "attempt": "\(claim.attempt)",
            "outcome": "\(result.outcome.name)", "duration_ms": "\(Int(result.duration.seconds * 1000))",
        ]
        if let words { metadata["reconciliation"] = "\(words)" }
        if let status = result.httpStatus { metadata["http_status"] = "\(status)" }
        switch transition {
        case .accepted(let orderID, let status):
            metadata["state"] = "\(transition.state)"
            metadata["order_id"] = "\(orderID)"
            metadata["order_status"] = "\(status)"
            logger.info("accepted by Colt", metadata: metadata)
        case .retry(let at, _):
            metadata["state"] = "\(transition.state)"
            metadata["next_attempt_at"] = "\(Timestamp.string(at))"
            metadata["error"] = "\(result.detail)"
            logger.warning("will retry", metadata: metadata)
        case .rejected:
            metadata["state"] = "\(transition.state)"
            metadata["error"] = "\(result.detail)"
            logger.error("rejected by Colt", metadata: metadata)
        case .failed:
            metadata["state"] = "\(transition.state)"
            metadata["error"] = "\(result.detail)"
            logger.error("failed: retries exhausted", metadata: metadata)
        case .reconcile(let at, _):
            metadata["state"] = "\(transition.state)"
            metadata["next_attempt_at"] = "\(Timestamp.string(at))"
            metadata["error"] = "\(result.detail)"
            logger.warning("outcome unknown: Colt's inventory will be read before anything is sent again", metadata: metadata)
        case .completed(let orderID, let status):
            metadata["state"] = "\(transition.state)"
            if let orderID { metadata["order_id"] = "\(orderID)" }
            metadata["order_status"] = "\(status)"
            logger.notice("Colt refused a resend, but its inventory shows the work done", metadata: metadata)
        case .unresolved:
            metadata["state"] = "\(transition.state)"
            metadata["error"] = "\(result.detail)"
            logger.critical("UNRESOLVED: Colt's inventory could not say whether an order was created; an operator must decide", metadata: metadata)
        case .resendNow:
            break
        }
    }
}

/// Told of the engine's progress; the daemon maps it to systemd's notify protocol.
public protocol EngineObserver: Sendable {
    /// Migrations applied, lock held, rows recovered: the engine is working.
    func ready()
    /// Called from every turn of the engine's loop: the loop is not stuck.
    func alive()
    /// Queue figures, every few seconds.
    func figures(inFlight: Int, unsettled: Int)
    /// The engine is shutting down.
    func stopping()
}

extension TimeInterval {
    var duration: Duration { .milliseconds(Int64((self * 1000).rounded(.up))) }
}
