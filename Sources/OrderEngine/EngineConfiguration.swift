import Foundation

/// The engine's tunables, with defaults fit for production against Colt.
public struct EngineConfiguration: Sendable, Equatable {
    /// Requests in flight at once, at most.
    public var maxInFlight: Int = 4
    /// Requests started per second, at most (a token bucket with a one-second burst).
    public var ratePerSecond: Double = 10
    /// The most numbers one request's range may hold; a larger one is `invalid`, never sent.
    public var maxRangeSize: Int = 10_000
    /// When and how often a row is tried again.
    public var retry = RetryPolicy()
    /// When the API as a whole is failing: how long every submission waits.
    public var globalBackoff = GlobalBackoffPolicy()
    /// After Colt refused the client credentials, how long before the token is asked for again.
    public var credentialsRetryInterval: Duration = .seconds(300)
    /// On SIGTERM, how long requests in flight may take to finish before they are abandoned
    /// (and resumed, with their own tracking id, at the next start).
    public var shutdownGrace: Duration = .seconds(20)
    /// How often the database is checked for new rows when no file event says so.
    public var pollInterval: Duration = .seconds(1)
    /// How accepted orders are followed to completion.
    public var tracking = TrackingPolicy()

    public init() {}
}

/// Exponential backoff with full jitter, capped, for one row's retries.
public struct RetryPolicy: Sendable, Equatable {
    /// The first retry's delay before jitter.
    public var initialDelay: Duration = .seconds(2)
    /// The longest delay between two attempts, `Retry-After` included.
    public var maxDelay: Duration = .seconds(600)
    /// Each retry's delay grows by this factor.
    public var multiplier: Double = 2
    /// Attempts a row may spend before it is `failed`.
    public var maxAttempts: Int = 12
    /// How long after its first attempt a row may still be retried before it is `failed`.
    public var maxAge: Duration = .seconds(86_400)

    public init() {}

    /// The delay before the attempt after attempt number `attempt` (1-based), given a
    /// server's `Retry-After`, which wins when it asks for longer than the backoff.
    /// Jitter draws uniformly between half the backoff and the whole of it.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, using generator: inout some RandomNumberGenerator) -> Duration {
        let exponent = Double(max(0, attempt - 1))
        let base = min(initialDelay.seconds * pow(multiplier, min(exponent, 60)), maxDelay.seconds)
        let jittered = Double.random(in: (base / 2)...max(base / 2, base), using: &generator)
        let wanted = max(jittered, retryAfter?.seconds ?? 0)
        return .milliseconds(Int64(min(wanted, maxDelay.seconds) * 1000))
    }
}

/// When consecutive transient failures say the API as a whole is failing, every submission
/// waits (instead of each row spending its attempts), then one probe tests the water.
public struct GlobalBackoffPolicy: Sendable, Equatable {
    /// Consecutive transient failures, across rows, that open the breaker.
    public var failureThreshold: Int = 5
    /// The first global pause.
    public var initialPause: Duration = .seconds(5)
    /// The longest global pause.
    public var maxPause: Duration = .seconds(300)

    public init() {}
}

/// How `in_progress` orders are followed through Colt's inventory until they complete.
public struct TrackingPolicy: Sendable, Equatable {
    /// The time between two checks of a young order. Colt's orders take hours to days (NL 088
    /// deactivations three working days), so a quarter of an hour by default.
    public var checkInterval: Duration = .seconds(900)
    /// An order still in progress this long after it was sent is flagged as stalled.
    public var stallAfter: Duration = .seconds(5 * 86_400)

    public init() {}

    /// The wait before the next check of an order of this age: the interval while the order
    /// is younger than 12 intervals, then growing with its age up to 8 intervals (a five-day
    /// order is not asked about every quarter of an hour), jittered by ±20 % so that orders
    /// accepted together are not checked together for ever.
    public func delay(age: Duration, using generator: inout some RandomNumberGenerator) -> Duration {
        let interval = checkInterval.seconds
        let factor = min(8, max(1, age.seconds / (12 * interval)))
        let jittered = interval * factor * Double.random(in: 0.8...1.2, using: &generator)
        return .milliseconds(Int64(jittered * 1000))
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
