import Foundation
import Synchronization

/// What the running engine is doing, for the operator's page: requests in flight, the global
/// backoff, the credentials pause, and the last thing that went wrong with Colt.
///
/// The engine writes it as things happen (a lock and a copy, nothing on the database); readers
/// take a ``Snapshot``.
public final class EngineCondition: Sendable {
    /// The condition at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Whether the engine has started (recovered its rows and begun claiming).
        public var running = false
        public var inFlight = 0
        /// Every submission waits until then (the breaker is open, or Colt sent a Retry-After).
        public var pausedUntil: Date?
        /// Colt refused the client credentials: nothing is sent until then.
        public var credentialsPausedUntil: Date?
        /// The last transient failure or token problem, in words, and when it happened.
        public var lastError: String?
        public var lastErrorAt: Date?

        public init() {}
    }

    private let current = Mutex(Snapshot())

    public init() {}

    public func snapshot() -> Snapshot { current.withLock { $0 } }

    func update(_ change: (inout Snapshot) -> Void) {
        current.withLock { change(&$0) }
    }
}
