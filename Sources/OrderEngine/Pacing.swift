import Foundation

/// The global circuit breaker: closed while the API answers, open (all submissions wait) after
/// too many transient failures in a row, then half-open: one probe, whose outcome decides.
struct GlobalBackoff {
    private(set) var consecutiveFailures = 0
    private(set) var pausedUntil: Date?
    private var currentPause: Duration?
    var policy: GlobalBackoffPolicy

    init(policy: GlobalBackoffPolicy) {
        self.policy = policy
    }

    /// Whether only one probe may be in flight (the breaker has opened and not yet closed).
    var isProbing: Bool { currentPause != nil }

    /// The API answered (accepted or refused a request): close the breaker.
    mutating func recordSuccess() {
        consecutiveFailures = 0
        currentPause = nil
        pausedUntil = nil
    }

    /// A transient failure. Returns the pause when this failure opens (or re-opens) the breaker.
    mutating func recordFailure(now: Date, retryAfter: Duration?) -> Duration? {
        consecutiveFailures += 1
        guard consecutiveFailures >= policy.failureThreshold || currentPause != nil else { return nil }
        let next = currentPause.map { min($0 * 2, policy.maxPause) } ?? policy.initialPause
        currentPause = next
        let pause = max(next, min(retryAfter ?? .zero, policy.maxPause))
        pausedUntil = now.addingTimeInterval(pause.seconds)
        consecutiveFailures = 0
        return pause
    }

    /// Pauses everything until at least `date` (a 429's `Retry-After`, a token endpoint that is down).
    mutating func pause(until date: Date) {
        pausedUntil = max(pausedUntil ?? date, date)
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
