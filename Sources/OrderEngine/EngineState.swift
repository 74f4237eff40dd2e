import Foundation
import OrderStore
import Synchronization

/// The engine's shared state: requests in flight, pacing, pauses, and the first fatal error.
/// The loop and every submission task meet here.
actor EngineState {
    /// What the loop should do next.
    enum Plan: Equatable {
        /// Claim up to this many rows.
        case claim(Int)
        /// Wait for a signal, or until this time when given.
        case wait(until: Date?)
    }

    private(set) var configuration: EngineConfiguration
    private let wakeup: Wakeup
    /// What the operator's page shows; written after every change below.
    private let condition: EngineCondition
    private var breaker: GlobalBackoff
    private var limiter: RateLimiter
    private var credentialsPausedUntil: Date?
    private(set) var inFlight = 0
    private(set) var fatalError: (any Error)?

    private let stopFlag = Atomic<Bool>(false)
    private let fileChanged = Atomic<Bool>(false)
    private let completed = Atomic<Bool>(false)

    init(configuration: EngineConfiguration, wakeup: Wakeup, condition: EngineCondition = EngineCondition()) {
        self.configuration = configuration
        self.wakeup = wakeup
        self.condition = condition
        breaker = GlobalBackoff(policy: configuration.globalBackoff)
        limiter = RateLimiter(ratePerSecond: configuration.ratePerSecond, now: .now)
    }

    // MARK: Signals, from any thread

    /// Stop claiming (graceful shutdown).
    nonisolated func requestStop() {
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        wakeup.signal()
    }

    nonisolated var stopRequested: Bool { stopFlag.load(ordering: .sequentiallyConsistent) }

    /// The database's files changed (maybe another process wrote).
    nonisolated func noteFileChange() {
        fileChanged.store(true, ordering: .sequentiallyConsistent)
        wakeup.signal()
    }

    nonisolated func takeFileChange() -> Bool { fileChanged.exchange(false, ordering: .sequentiallyConsistent) }
    nonisolated func takeCompletion() -> Bool { completed.exchange(false, ordering: .sequentiallyConsistent) }

    // MARK: The loop

    /// New tunables: pacing and policies change now; the breaker's state is kept.
    func reconfigure(_ configuration: EngineConfiguration) {
        if configuration.ratePerSecond != self.configuration.ratePerSecond {
            limiter = RateLimiter(ratePerSecond: configuration.ratePerSecond, now: .now)
        }
        breaker.policy = configuration.globalBackoff
        self.configuration = configuration
    }

    func plan(now: Date, clock: ContinuousClock.Instant, queueMayHaveWork: Bool) -> Plan {
        if let until = credentialsPausedUntil {
            if now < until { return .wait(until: until) }
            credentialsPausedUntil = nil
        }
        let capacity: Int
        switch breaker.gate(now: now) {
        case .wait(let until): return .wait(until: until)
        case .probe: capacity = inFlight == 0 ? 1 : 0
        case .flowing: capacity = configuration.maxInFlight - inFlight
        }
        guard capacity > 0, queueMayHaveWork else { return .wait(until: nil) }
        let tokens = limiter.available(now: clock)
        guard tokens > 0 else {
            return .wait(until: now.addingTimeInterval((limiter.nextToken(now: clock) - clock).seconds))
        }
        return .claim(min(capacity, tokens))
    }

    /// How many inventory checks may start now. Checks share the token, the rate limit and the
    /// breaker with submissions, and never hold them up: they wait while anything is paused,
    /// take at most half the places in flight, and leave a place and a rate token free for a
    /// row that may arrive meanwhile.
    func checkCapacity(now: Date, clock: ContinuousClock.Instant) -> Int {
        if let until = credentialsPausedUntil, now < until { return 0 }
        switch breaker.gate(now: now) {
        case .wait: return 0
        // A half-open breaker lets one request through, which a check may be.
        case .probe: return inFlight == 0 ? 1 : 0
        case .flowing: break
        }
        let spare = configuration.maxInFlight > 1 ? 1 : 0
        let places = min(max(1, configuration.maxInFlight / 2) - checksInFlight, configuration.maxInFlight - inFlight - spare)
        let tokens = limiter.available(now: clock) - (limiter.rate >= 2 ? 1 : 0)
        return max(0, min(places, tokens))
    }

    /// Inventory checks in flight (also counted in ``inFlight``).
    private(set) var checksInFlight = 0

    func startedChecks(_ count: Int, clock: ContinuousClock.Instant) {
        checksInFlight += count
        started(count, clock: clock)
    }

    func finishedCheck() {
        checksInFlight -= 1
        finished()
    }

    func started(_ count: Int, clock: ContinuousClock.Instant) {
        inFlight += count
        limiter.take(count, now: clock)
        publish()
    }

    func finished() {
        inFlight -= 1
        placeFreed()
    }

    /// Tells the loop a place in flight is free.
    private func placeFreed() {
        completed.store(true, ordering: .sequentiallyConsistent)
        wakeup.signal()
        publish()
    }

    /// Submissions whose answer is in and being recorded: no longer in flight, not yet done.
    private(set) var recording = 0

    /// A submission's answer is in, and its place in flight is free at once: no commit stands
    /// between an answer and the next request. ``recorded()`` follows.
    ///
    /// With `takeNext`, the place goes straight to the oldest row of the claim window when the
    /// plan allows a request now (not stopping, no fatal error, the breaker and the rate
    /// limit): that row is returned, counted in flight, for the caller to send, with no turn
    /// of the loop in between. Otherwise the loop is signalled, as ``finished()`` does.
    func answered(takeNext: Bool, now: Date, clock: ContinuousClock.Instant) -> ClaimedRequest? {
        recording += 1
        inFlight -= 1
        if takeNext, !window.isEmpty, !stopRequested, fatalError == nil,
           case .claim = plan(now: now, clock: clock, queueMayHaveWork: true) {
            let next = window.take(1)
            started(next.count, clock: clock)
            return next.first
        }
        placeFreed()
        return nil
    }

    // MARK: The claim window

    /// Rows claimed ahead of a free place: the loop adds and expires them, answers take them.
    private var window = ClaimWindow()

    var windowCount: Int { window.count }
    var windowDeadline: ContinuousClock.Instant? { window.deadline }

    func addToWindow(_ claims: [ClaimedRequest], at clock: ContinuousClock.Instant) {
        window.add(claims, at: clock)
    }

    /// Empties the window when its oldest row has waited ``ClaimWindow/maxWait`` (`force`:
    /// in any case); returns the rows to put back.
    func expireWindow(at clock: ContinuousClock.Instant, force: Bool = false) -> [ClaimedRequest] {
        window.expire(at: clock, force: force)
    }

    /// Rows from the window for the places the plan allows now, counted in flight; none once
    /// the engine is stopping or has failed.
    func takeFromWindow(now: Date, clock: ContinuousClock.Instant) -> [ClaimedRequest] {
        guard !window.isEmpty, !stopRequested, fatalError == nil,
              case .claim(let count) = plan(now: now, clock: clock, queueMayHaveWork: true) else { return [] }
        let taken = window.take(count)
        started(taken.count, clock: clock)
        return taken
    }

    /// The answer ``answered(takeNext:now:clock:)`` announced is recorded (or given up on): the row's new state
    /// (due again later, say) is for the loop to see.
    func recorded() {
        recording -= 1
        completed.store(true, ordering: .sequentiallyConsistent)
        wakeup.signal()
    }

    /// Submissions not yet done: in flight, or being recorded. Shutdown waits for these.
    var unfinished: Int { inFlight + recording }

    // MARK: Outcomes

    /// Colt answered a request (accepted or refused it): the API works.
    func apiAnswered() {
        breaker.recordSuccess()
        publish()
    }

    /// A transient failure (`detail` in words); returns the global pause when it opens the breaker.
    func apiFailed(now: Date, retryAfter: Duration?, detail: String) -> Duration? {
        defer { publish(error: detail, at: now) }
        return breaker.recordFailure(now: now, retryAfter: retryAfter)
    }

    /// The token endpoint failed: pause at once (no row is spent on it).
    func tokenUnavailable(now: Date, retryAfter: Duration?, detail: String) -> Duration {
        let pause = breaker.trip(now: now, retryAfter: retryAfter)
        publish(error: detail, at: now)
        return pause
    }

    /// Everything waits until `date` (a 429's Retry-After).
    func pauseAll(until date: Date) {
        breaker.hold(until: date)
        publish()
    }

    func pauseForCredentials(until date: Date, detail: String) {
        credentialsPausedUntil = max(credentialsPausedUntil ?? date, date)
        wakeup.signal()
        publish(error: detail, at: Date())
    }

    /// Copies what the operator's page shows into ``condition``.
    private func publish(error: String? = nil, at: Date? = nil) {
        condition.update { [inFlight, breaker, credentialsPausedUntil] shown in
            shown.inFlight = inFlight
            shown.pausedUntil = breaker.pausedUntil
            shown.credentialsPausedUntil = credentialsPausedUntil
            if let error {
                shown.lastError = error
                shown.lastErrorAt = at
            }
        }
    }

    /// Stops the engine with `error` (the first one wins).
    func fail(_ error: any Error) {
        if fatalError == nil { fatalError = error }
        stopFlag.store(true, ordering: .sequentiallyConsistent)
        wakeup.signal()
    }
}
