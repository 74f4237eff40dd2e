/// A row's `state` in `requests`, as the schema's CHECK lists them (migrations/0004; a test
/// holds the two together). In the order a row usually passes through them.
public enum RequestState: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Waiting for its first attempt.
    case queued
    /// Claimed, its tracking id committed; a request is (or may be) in flight, or is about to go
    /// (claimed ahead of a free place: see the engine's `ClaimWindow`).
    case submitting
    /// The last attempt failed and cannot have made an order; due again at `next_attempt_at`.
    case retrying
    /// An attempt's outcome is unknown: Colt's inventory is read at `next_attempt_at` first.
    case reconciling
    /// Colt accepted it; its order is followed until completed.
    case inProgress = "in_progress"
    /// The inventory could not settle an unknown outcome within retry.max_age: an operator decides.
    case unresolved
    /// Colt's work is done.
    case completed
    /// Colt refused it for good.
    case rejected
    /// It can never be sent (its columns are not a valid request).
    case invalid
    /// Retries exhausted; never accepted.
    case failed
    /// An operator cancelled it before Colt accepted it.
    case cancelled

    /// The states a row never leaves by itself, and the only ones `prune` removes.
    public var isTerminal: Bool {
        switch self {
        case .completed, .rejected, .invalid, .failed, .cancelled: true
        case .queued, .submitting, .retrying, .reconciling, .inProgress, .unresolved: false
        }
    }

    /// Still the daemon's to send or settle (queued, submitting, retrying, reconciling).
    public var isUnsettled: Bool {
        switch self {
        case .queued, .submitting, .retrying, .reconciling: true
        default: false
        }
    }

    /// What `colt-orders cancel` (and the operator's page) may cancel: rows Colt has not
    /// accepted and no request of which is on the wire.
    public static let cancellable: [RequestState] = [.queued, .retrying, .unresolved]

    /// What `colt-orders retry` (and the operator's page) may send again, under a new tracking id.
    public static let retryable: [RequestState] = [.rejected, .failed, .unresolved]

    /// The states as an SQL list, `('queued', 'retrying')`, for a `state IN` condition.
    public static func sqlList(_ states: [RequestState]) -> String {
        "(" + states.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ")"
    }

    public var description: String { rawValue }
}
