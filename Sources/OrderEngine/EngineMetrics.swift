import ColtClient
import Metrics
import OrderStore
import Synchronization

/// The engine's figures, through swift-metrics: whatever backend the process bootstraps
/// (Prometheus for `/metrics`) receives them; without one they cost nothing.
struct EngineMetrics: Sendable {
    /// HTTP attempts, by outcome (`accepted`, `server_error`, …).
    func attempt(_ outcome: String) -> Counter {
        Counter(label: "colt_orders_attempts_total", dimensions: [("outcome", outcome)])
    }
    /// Rows that reached a state through an attempt (`in_progress`, `retrying`, `rejected`, `failed`).
    func transition(_ state: String) -> Counter {
        Counter(label: "colt_orders_transitions_total", dimensions: [("state", state)])
    }
    /// How long Colt took to answer an order request.
    let submissionLatency = Metrics.Timer(label: "colt_orders_submission_duration_seconds", preferredDisplayUnit: .seconds)
    /// Requests in flight: recorded when rows are sent and every 5 s (a hand-off from an
    /// answer to the next row leaves it unchanged).
    let inFlight = Gauge(label: "colt_orders_in_flight")
    /// Times the whole API was found failing and every submission paused.
    let globalPauses = Counter(label: "colt_orders_global_pauses_total")
    /// Token requests that failed (credentials refused, or the endpoint unavailable).
    let tokenFailures = Counter(label: "colt_orders_token_failures_total")

    func record(_ result: AttemptResult, transition: AttemptRecord.Transition) {
        attempt(result.outcome.name).increment()
        submissionLatency.recordNanoseconds(Int64(result.duration.seconds * 1e9))
        if transition != .resendNow { self.transition(transition.state.rawValue).increment() }
    }

    /// Inventory reads of rows whose outcome was unknown, by what they showed
    /// (`adopted`, `done`, `not_created`, `unclear`).
    func reconciled(_ verdict: ReconcileVerdict) {
        let result = switch verdict {
        case .adopt: "adopted"
        case .done: "done"
        case .notCreated: "not_created"
        case .unclear: "unclear"
        }
        Counter(label: "colt_orders_reconciliations_total", dimensions: [("result", result)]).increment()
    }

    /// How long orders took from first sending to completion, as the daemon saw it.
    let timeToCompletion = Metrics.Timer(label: "colt_orders_time_to_completion_seconds", preferredDisplayUnit: .seconds)

    func completed(after age: Duration) {
        timeToCompletion.recordNanoseconds(Int64(age.seconds * 1e9))
        transition("completed").increment()
    }

    /// Rows an operator should see: awaiting reconciliation, unresolved, followed, stalled.
    func record(_ figures: AttentionFigures) {
        Gauge(label: "colt_orders_awaiting_reconciliation").record(figures.reconciling)
        Gauge(label: "colt_orders_unresolved").record(figures.unresolved)
        Gauge(label: "colt_orders_tracked_orders").record(figures.tracked)
        Gauge(label: "colt_orders_stalled_orders").record(figures.stalled)
    }
}

/// New tunables handed to the running engine (SIGHUP), picked up at its next turn.
final class ReloadBox: Sendable {
    private let pending = Mutex<EngineConfiguration?>(nil)

    func store(_ configuration: EngineConfiguration) { pending.withLock { $0 = configuration } }
    func take() -> EngineConfiguration? { pending.withLock { value in defer { value = nil }; return value } }
}
