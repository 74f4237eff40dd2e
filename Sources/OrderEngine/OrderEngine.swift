import ColtClient
import ColtModel
import Foundation
import Logging
import Metrics
import OrderStore
import ServiceLifecycle

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
        /// Until no row is queued, submitting or retrying, then return; for scripts and tests.
        case drain
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
    let recorder: RecordBatcher

    /// - Parameter observer: told of the engine's progress (readiness, figures, liveness), for
    ///   systemd's notify protocol or metrics; may be `nil`.
    public init(
        database: Database, api: ColtAPI, tokens: TokenProvider, configuration: EngineConfiguration, mode: Mode,
        logger: Logger, observer: (any EngineObserver)? = nil
    ) {
        queue = RequestQueue(database: database)
        recorder = RecordBatcher(queue: queue, logger: logger)
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
        let state = EngineState(configuration: configuration, wakeup: wakeup)
        for row in try await queue.recoverInterrupted(now: Date()) {
            logger.warning("resuming a request left in flight by a stopped daemon", metadata: [
                "request": "\(row.id)", "tracking_id": "\(row.trackingID)", "state": "retrying",
            ])
        }
        let watcher = DatabaseWatcher(databasePath: databasePath)
        let watching = watcher.start { [state] in state.noteFileChange() }
        if !watching {
            logger.notice("inotify is not available here: new rows are found by checking every \(configuration.pollInterval)")
        }
        defer { watcher.stop() }
        observer?.ready()

        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await loop(state: state, wakeup: wakeup, group: &group)
                // Stop claiming; give requests in flight their grace, then abandon them (they
                // are recorded as interrupted and resumed with their own tracking id).
                let deadline = ContinuousClock.now + (await state.configuration.shutdownGrace)
                while case let inFlight = await state.inFlight, inFlight > 0 {
                    if ContinuousClock.now >= deadline {
                        logger.warning("requests still in flight after the shutdown grace; abandoning them: they resume with their own tracking id at the next start",
                                       metadata: ["in_flight": "\(inFlight)"])
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

    private func loop(state: EngineState, wakeup: Wakeup, group: inout ThrowingDiscardingTaskGroup<any Error>) async throws {
        var lastDataVersion = try await queue.dataVersion()
        var queueMayHaveWork = true
        var nextRetry: Date? = nil
        var lastFigures = ContinuousClock.now - .seconds(60)
        var lastVersionCheck = ContinuousClock.now

        while !state.stopRequested && !Task.isCancelled {
            if let failure = await state.fatalError { throw failure }
            if let configuration = reloaded.take() {
                await state.reconfigure(configuration)
                logger.notice("configuration reloaded", metadata: [
                    "max_in_flight": "\(configuration.maxInFlight)", "rate_per_second": "\(configuration.ratePerSecond)",
                ])
            }
            let clock = ContinuousClock.now
            let pollInterval = await state.configuration.pollInterval
            observer?.alive()
            if clock - lastFigures >= .seconds(5) {
                lastFigures = clock
                observer?.figures(inFlight: await state.inFlight, unsettled: try await queue.unsettledCount())
            }

            // Other writers: a changed data_version means new or edited rows.
            if state.takeFileChange() || clock - lastVersionCheck >= pollInterval {
                lastVersionCheck = clock
                let version = try await queue.dataVersion()
                if version != lastDataVersion {
                    lastDataVersion = version
                    queueMayHaveWork = true
                }
            }
            if state.takeCompletion() { queueMayHaveWork = true }
            if let due = nextRetry, due <= Date() {
                nextRetry = nil
                queueMayHaveWork = true
            }

            if mode == .drain, await state.inFlight == 0, !queueMayHaveWork, try await queue.unsettledCount() == 0 {
                logger.info("drained: every request is settled")
                return
            }

            let plan = await state.plan(now: Date(), clock: clock, queueMayHaveWork: queueMayHaveWork)
            switch plan {
            case .wait(let until):
                var timeout = pollInterval
                if let until { timeout = min(timeout, Date().distance(to: until).duration) }
                if let nextRetry { timeout = min(timeout, Date().distance(to: nextRetry).duration) }
                await wakeup.wait(timeout: max(timeout, .milliseconds(1)))
            case .claim(let count):
                // Nothing due (say, only rows retrying later): no token is needed, so an idle or
                // draining daemon never asks Colt for one in vain.
                if try await !queue.hasDue(now: Date()) {
                    queueMayHaveWork = false
                    nextRetry = try await queue.earliestRetry(after: Date())
                    continue
                }
                // A token first: without one nothing can be sent, and no row spends an attempt.
                do {
                    _ = try await tokens.token()
                } catch {
                    await tokenFailed(error, state: state)
                    continue
                }
                let batch: ClaimBatch
                do {
                    batch = try await queue.claimDue(now: Date(), limit: count)
                } catch let error as DatabaseError where error.isBusy {
                    logger.warning("the database is locked by another process; waiting", metadata: ["error": "\(error)"])
                    await wakeup.wait(timeout: .seconds(1))
                    continue
                }
                for row in batch.invalid {
                    logger.error("invalid request, never sent", metadata: ["request": "\(row.id)", "state": "invalid", "error": "\(row.error)"])
                }
                // Fewer than asked for, none of them invalid: nothing more can go until something
                // changes. (Rows found invalid took places in the batch: look again at once.)
                if batch.claimed.count < count, batch.invalid.isEmpty {
                    queueMayHaveWork = false
                    nextRetry = try await queue.earliestRetry(after: Date())
                }
                await state.started(batch.claimed.count, clock: clock)
                metrics.inFlight.record(await state.inFlight)
                for claim in batch.claimed {
                    logger.info("submitting", metadata: [
                        "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "state": "submitting",
                        "action": "\(claim.request.action.rawValue)", "range": "\(claim.request.range)", "attempt": "\(claim.attempt)",
                    ])
                    group.addTask { await submit(claim, state: state) }
                }
            }
        }
    }

    private func tokenFailed(_ error: TokenError, state: EngineState) async {
        metrics.tokenFailures.increment()
        switch error.kind {
        case .credentialsRejected:
            let until = Date().addingTimeInterval(await state.configuration.credentialsRetryInterval.seconds)
            await state.pauseForCredentials(until: until)
            logger.critical("COLT REFUSED THE CLIENT CREDENTIALS: all submissions are paused. Fix the client id or the secret file, then restart the daemon", metadata: [
                "error": "\(error.detail)", "retry_at": "\(Timestamp.string(until))",
            ])
            if mode == .drain {
                await state.fail(Failure(description: "Colt refused the client credentials (\(error.detail)); nothing was sent. Check the client id and the secret file"))
            }
        case .unavailable:
            let pause = await state.tokenUnavailable(now: Date(), retryAfter: error.retryAfter)
            logger.error("cannot get a token from Colt; submissions wait", metadata: [
                "error": "\(error.detail)", "pause": "\(pause)",
            ])
        }
    }

    /// One claimed row: send it (again after a 401, with a fresh token), classify, record.
    private func submit(_ claim: ClaimedRequest, state: EngineState) async {
        var claim = claim
        var result: AttemptResult
        do {
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
            let retry = AttemptRecord(
                claim: claim, endedAt: Date(), httpStatus: nil, outcome: "not_sent", detail: "not sent: no token: \(error.detail)",
                responseBody: nil, durationMilliseconds: 0, mayHaveCreatedOrder: false,
                transition: .retry(at: Date().addingTimeInterval(await state.configuration.globalBackoff.initialPause.seconds), countsAsAttempt: false))
            do { try await recorder.record(retry) } catch { await state.fail(error) }
            await state.finished()
            return
        } catch is CancellationError {
            // Stopping while the database was locked: the row stays `submitting` and resumes,
            // with its own tracking id, at the next start.
            await state.finished()
            return
        } catch {
            await state.fail(error)
            await state.finished()
            return
        }

        // Abandoned at the end of the shutdown grace (or the service group was cancelled): the
        // answer never came, so nothing is known. The row waits for the next start, spending no
        // attempt, and neither the breaker nor a lookup hears of it.
        let transition: AttemptRecord.Transition
        if Task.isCancelled {
            result.detail = "interrupted: the daemon stopped before Colt answered (\(result.detail)); resent with the same tracking id at the next start"
            transition = .retry(at: Date(), countsAsAttempt: false)
            do {
                try await recorder.record(record(for: claim, result: result, transition: transition, outcome: "interrupted"))
            } catch is CancellationError {
            } catch {
                await state.fail(error)
            }
            await state.finished()
            return
        }
        transition = await decide(claim, result: result, state: state)
        do {
            try await recorder.record(record(for: claim, result: result, transition: transition))
            log(claim, result: result, transition: transition)
            metrics.record(result, transition: transition)
        } catch is CancellationError {
            // Stopping while the database was locked: resumed at the next start, as below.
        } catch {
            logger.critical("cannot record an attempt's outcome; it will be resumed with its own tracking id at the next start", metadata: [
                "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "error": "\(error)",
            ])
            await state.fail(error)
        }
        await state.finished()
    }

    /// Where a row goes after this result: DESIGN.md's outcomes, the retry budget, reconciliation.
    private func decide(_ claim: ClaimedRequest, result: AttemptResult, state: EngineState) async -> AttemptRecord.Transition {
        let now = Date()
        switch result.outcome {
        case .accepted(let orderID):
            await state.apiAnswered()
            return .accepted(orderID: orderID, orderStatus: "In progress")
        case .rejected:
            await state.apiAnswered()
            // Before a refusal becomes final, look for an order under this tracking id: an
            // earlier attempt whose answer was lost, or a resend libcurl made by itself on a
            // reused connection that died, may have created it, and Colt now refuses the
            // repeat because the numbers moved on. Refusals are rare; one lookup each is cheap.
            let lookup: ColtAPI.OrderLookup
            do {
                lookup = await api.lookUpOrder(trackingID: claim.trackingID, range: claim.request.range, token: try await tokens.token())
            } catch {
                lookup = .failed("no token: \(error.detail)")
            }
            switch lookup {
            case .found(let orderID):
                logger.notice("Colt refused a resend, but an earlier attempt under this tracking id had created the order", metadata: [
                    "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "order_id": "\(orderID)",
                ])
                return .accepted(orderID: orderID, orderStatus: "In progress")
            case .failed(let why) where claim.outcomeUnknown || result.sends > 1:
                // An order may exist and the lookup could not say: a refusal is not final yet.
                logger.warning("Colt refused a resend and the order lookup failed; trying again later", metadata: [
                    "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "lookup": "\(why)",
                ])
                return retryOrFail(claim, retryAfter: nil, now: now, policy: await state.configuration.retry)
            case .failed, .notFound:
                return .rejected(coltCode: result.coltError?.code)
            }
        case .unauthorized:
            // A second 401 with a fresh token: the credentials are wrong. Pause everything.
            let until = now.addingTimeInterval(await state.configuration.credentialsRetryInterval.seconds)
            await state.pauseForCredentials(until: until)
            logger.critical("COLT REFUSED A FRESH TOKEN (HTTP 401 twice): all submissions are paused. Check the client id, the secret file and the API's base URL", metadata: [
                "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "retry_at": "\(Timestamp.string(until))",
            ])
            if mode == .drain {
                await state.fail(Failure(description: "Colt answered 401 to a fresh token: the credentials are not valid for this API"))
            }
            return .retry(at: until, countsAsAttempt: false)
        case .throttled, .serverError, .notSent, .timeout, .connectionLost, .badResponse:
            if result.outcome == .throttled, let retryAfter = result.retryAfter {
                // Capped like a row's own wait: a gateway's skewed clock cannot stop everything for days.
                let pause = min(retryAfter, await state.configuration.retry.maxDelay)
                await state.pauseAll(until: now.addingTimeInterval(pause.seconds))
            }
            if let pause = await state.apiFailed(now: now, retryAfter: result.retryAfter) {
                metrics.globalPauses.increment()
                logger.error("the Colt API is failing: every submission waits", metadata: [
                    "pause": "\(pause)", "last_error": "\(result.detail)",
                ])
            }
            return retryOrFail(claim, retryAfter: result.retryAfter, now: now, policy: await state.configuration.retry)
        }
    }

    /// Another attempt after the backoff, or `failed` when the row's budget (count or age) is spent.
    private func retryOrFail(_ claim: ClaimedRequest, retryAfter: Duration?, now: Date, policy: RetryPolicy) -> AttemptRecord.Transition {
        let age = now.timeIntervalSince(claim.firstAttemptAt)
        if claim.attempt >= policy.maxAttempts || age >= policy.maxAge.seconds {
            return .failed
        }
        var generator = SystemRandomNumberGenerator()
        let delay = policy.delay(afterAttempt: claim.attempt, retryAfter: retryAfter, using: &generator)
        return .retry(at: now.addingTimeInterval(delay.seconds), countsAsAttempt: true)
    }

    private func record(for claim: ClaimedRequest, result: AttemptResult, transition: AttemptRecord.Transition,
                        outcome: String? = nil) -> AttemptRecord {
        var detail = result.detail
        switch transition {
        case .failed:
            detail = "gave up after \(claim.attempt) attempts: \(result.detail)"
            if claim.outcomeUnknown || result.outcome.mayHaveCreatedOrder {
                detail += "; an attempt's outcome was unknown, so Colt may hold an order for tracking id \(claim.trackingID): check before sending again"
            }
        case .rejected where claim.outcomeUnknown:
            detail += "; an earlier attempt's outcome was unknown and no order was found for tracking id \(claim.trackingID): check the numbers with Colt before sending again"
        default:
            break
        }
        return AttemptRecord(
            claim: claim, endedAt: Date(), httpStatus: result.httpStatus, outcome: outcome ?? result.outcome.name,
            coltCode: result.coltError?.code, coltReason: result.coltError?.reason, coltMessage: result.coltError?.message,
            detail: detail, responseBody: result.responseBody.isEmpty ? nil : result.responseBody,
            durationMilliseconds: Int(result.duration.seconds * 1000),
            mayHaveCreatedOrder: result.outcome.mayHaveCreatedOrder || result.sends > 1 || outcome == "interrupted", transition: transition)
    }

    private func log(_ claim: ClaimedRequest, result: AttemptResult, transition: AttemptRecord.Transition) {
        var metadata: Logger.Metadata = [
            "request": "\(claim.id)", "tracking_id": "\(claim.trackingID)", "attempt": "\(claim.attempt)",
            "outcome": "\(result.outcome.name)", "duration_ms": "\(Int(result.duration.seconds * 1000))",
        ]
        if let status = result.httpStatus { metadata["http_status"] = "\(status)" }
        switch transition {
        case .accepted(let orderID, let status):
            metadata["state"] = "in_progress"
            metadata["order_id"] = "\(orderID)"
            metadata["order_status"] = "\(status)"
            logger.info("accepted by Colt", metadata: metadata)
        case .retry(let at, _):
            metadata["state"] = "retrying"
            metadata["next_attempt_at"] = "\(Timestamp.string(at))"
            metadata["error"] = "\(result.detail)"
            logger.warning("will retry", metadata: metadata)
        case .rejected:
            metadata["state"] = "rejected"
            metadata["error"] = "\(result.detail)"
            logger.error("rejected by Colt", metadata: metadata)
        case .failed:
            metadata["state"] = "failed"
            metadata["error"] = "\(result.detail)"
            logger.error("failed: retries exhausted", metadata: metadata)
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
