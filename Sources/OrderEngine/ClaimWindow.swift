import OrderStore

/// Rows claimed ahead of a free place in flight: their tracking ids and `submitting` state are
/// committed, nothing is sent yet. When an answer frees a place, the next row goes out at once,
/// with no commit between the answer and the next request; the window is topped up while every
/// place is busy.
///
/// The window is small and short-lived, because a row in it is `submitting` without being on
/// the wire:
/// - it holds at most ``limit(maxInFlight:ratePerSecond:)`` rows: about 100 ms of sending at the
///   rate limit, never more than the places in flight, and none below 10 requests per second,
///   where one commit per request costs nothing that matters;
/// - once its oldest row has waited ``maxWait`` (a pause, the breaker, Colt answering slowly)
///   the window is put back as it was, as it is when the engine stops
///   (``RequestQueue/release(_:now:)``); the engine then claims nothing ahead until an answer
///   frees a place, so the rows stay `queued` (and cancellable) while Colt is slow;
/// - after a crash its rows are recovered like any row left `submitting`: Colt's inventory is
///   read before they are sent, the interruption spends an attempt, and the row keeps
///   `outcome_unknown` (a later `retry` of it needs `--force`). Nothing is lost or sent twice;
///   the price of a crash is one inventory read, and one attempt, per row in the window.
struct ClaimWindow {
    /// How long a row may wait in the window before it is put back.
    static let maxWait = Duration.seconds(1)

    /// How many rows may wait, for these settings.
    static func limit(maxInFlight: Int, ratePerSecond: Double) -> Int {
        guard ratePerSecond >= 10 else { return 0 }
        return max(0, min(maxInFlight, Int(min(ratePerSecond / 10, Double(Int.max / 2)))))
    }

    private var rows: [(claim: ClaimedRequest, since: ContinuousClock.Instant)] = []

    var count: Int { rows.count }
    var isEmpty: Bool { rows.isEmpty }

    /// When the oldest row has waited ``maxWait``; nil when the window is empty.
    var deadline: ContinuousClock.Instant? { rows.first.map { $0.since + Self.maxWait } }

    /// Adds claimed rows, in claim order, behind those already waiting.
    mutating func add(_ claims: some Sequence<ClaimedRequest>, at now: ContinuousClock.Instant) {
        rows += claims.map { ($0, now) }
    }

    /// Takes up to `count` rows, oldest first.
    mutating func take(_ count: Int) -> [ClaimedRequest] {
        let taken = rows.prefix(max(0, count)).map(\.claim)
        rows.removeFirst(taken.count)
        return taken
    }

    /// Empties the window when its oldest row has waited ``maxWait`` (`force`: in any case),
    /// returning the rows to put back.
    mutating func expire(at now: ContinuousClock.Instant, force: Bool = false) -> [ClaimedRequest] {
        guard let deadline, force || now >= deadline else { return [] }
        return take(rows.count)
    }
}
