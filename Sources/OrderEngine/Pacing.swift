import Foundation

/// The global circuit breaker: closed while the API answers; open (everything waits) after
/// `failureThreshold` transient failures in a row; half-open once the pause is over, letting one
/// probe through, whose outcome closes it (an answer) or opens it again for twice as long.
///
/// A hold (a 429's `Retry-After`) is apart from the breaker's state: everything waits until it
/// is over, and an answer from Colt does not lift it.
struct GlobalBackoff {
    /// Where the breaker stands.
    enum State: Equatable {
        /// Requests flow; `failures` transient failures in a row so far.
        case closed(failures: Int)
        /// Nothing goes until `until`; `pause` is how long this opening lasts.
        case open(until: Date, pause: Duration)
        /// One probe at a time; `lastPause` is the opening it follows (doubled if the probe fails).
        case halfOpen(lastPause: Duration)
    }

    /// What may go now.
    enum Gate: Equatable {
        /// As many as the other limits allow.
        case flowing
        /// One request at a time (the breaker's probe).
        case probe
        /// Nothing until the date.
        case wait(until: Date)
    }

    private(set) var state: State = .closed(failures: 0)
    /// Until when a `Retry-After` holds everything, whatever the state.
    private(set) var heldUntil: Date?
    var policy: GlobalBackoffPolicy

    init(policy: GlobalBackoffPolicy) {
        self.policy = policy
    }

    /// What may go at `now`; an open breaker whose pause is over turns half-open here.
    mutating func gate(now: Date) -> Gate {
        if case .open(let until, let pause) = state, now >= until { state = .halfOpen(lastPause: pause) }
        let until = pausedUntil
        if let until, now < until { return .wait(until: until) }
        if let held = heldUntil, now >= held { heldUntil = nil }
        if case .halfOpen = state { return .probe }
        return .flowing
    }

    /// Until when everything waits (the breaker's pause or a hold), if anything waits.
    var pausedUntil: Date? {
        var until = heldUntil
        if case .open(let end, _) = state { until = max(until ?? end, end) }
        return until
    }

    /// The API answered (accepted or refused a request): close the breaker.
    mutating func recordSuccess() {
        state = .closed(failures: 0)
    }

    /// A transient failure. Returns the pause when this failure opens (or re-opens) the breaker.
    /// Failures of requests already in flight while it is open change nothing: they were sent
    /// before it opened.
    mutating func recordFailure(now: Date, retryAfter: Duration?) -> Duration? {
        switch state {
        case .closed(let failures):
            guard failures + 1 >= policy.failureThreshold else {
                state = .closed(failures: failures + 1)
                return nil
            }
            return open(now: now, pause: policy.initialPause, retryAfter: retryAfter)
        case .halfOpen(let lastPause):
            return open(now: now, pause: min(lastPause * 2, policy.maxPause), retryAfter: retryAfter)
        case .open:
            return nil
        }
    }

    /// Opens the breaker now, whatever its state (the token endpoint is down: nothing can go);
    /// returns the pause.
    mutating func trip(now: Date, retryAfter: Duration?) -> Duration {
        switch state {
        case .closed: open(now: now, pause: policy.initialPause, retryAfter: retryAfter)
        case .halfOpen(let lastPause), .open(_, let lastPause): open(now: now, pause: min(lastPause * 2, policy.maxPause), retryAfter: retryAfter)
        }
    }

    private mutating func open(now: Date, pause base: Duration, retryAfter: Duration?) -> Duration {
        let pause = max(base, min(retryAfter ?? .zero, policy.maxPause))
        state = .open(until: now.addingTimeInterval(pause.seconds), pause: base)
        return pause
    }

    /// Holds everything until at least `date` (a 429's `Retry-After`).
    mutating func hold(until date: Date) {
        heldUntil = max(heldUntil ?? date, date)
    }
}

/// A token bucket: at most `rate` starts per second, with a burst of one second's worth.
struct RateLimiter {
    let rate: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    init(ratePerSecond: Double, now: ContinuousClock.Instant) {
        rate = max(ratePerSecond, 0.001)
        tokens = max(1, rate)
        updated = now
    }

    /// Whole tokens available now.
    mutating func available(now: ContinuousClock.Instant) -> Int {
        refill(now: now)
        return Int(tokens.rounded(.down))
    }

    mutating func take(_ count: Int, now: ContinuousClock.Instant) {
        refill(now: now)
        tokens -= Double(count)
    }

    /// When the next whole token will be there.
    func nextToken(now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        tokens >= 1 ? now : now + .milliseconds(Int64(((1 - tokens) / rate * 1000).rounded(.up)))
    }

    private mutating func refill(now: ContinuousClock.Instant) {
        let elapsed = (now - updated).seconds
        tokens = min(max(1, rate), tokens + elapsed * rate)
        updated = now
    }
}
