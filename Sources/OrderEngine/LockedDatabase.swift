import Logging
import OrderStore
import Synchronization

/// The one way the engine meets a database locked by another process (an operator's long
/// transaction, a backup), wherever it meets it: claiming rows, claiming checks, recording.
///
/// - Nothing is lost: every try is one transaction that either committed or wrote nothing,
///   so trying again is safe.
/// - Each try waits up to the connection's busy timeout inside SQLite, then the engine waits
///   ``LockedDatabase/retryInterval`` before the next one. A claim returns to the engine's loop
///   in between, so the loop stays alive (and systemd's watchdog fed) however long the lock lasts.
/// - One WARNING when a lock is first met, one NOTICE when it is gone: not a line per try.
final class LockedDatabase: Sendable {
    /// The wait between two tries.
    static let retryInterval: Duration = .milliseconds(200)

    /// Whether the engine is waiting out a lock now (a WARNING was logged, no NOTICE yet).
    private let waiting = Mutex(false)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// `what` met a lock: warns, once per lock.
    func met(_ what: String, error: DatabaseError, records: Int? = nil) {
        let first = waiting.withLock { waiting in
            defer { waiting = true }
            return !waiting
        }
        guard first else { return }
        var metadata: Logger.Metadata = ["error": "\(error)"]
        if let records { metadata["records"] = "\(records)" }
        logger.warning("the database is locked by another process; waiting to \(what), trying again every \(Self.retryInterval)", metadata: metadata)
    }

    /// `what` went through: says so when the engine had been waiting.
    func passed(_ what: String) {
        let wasWaiting = waiting.withLock { waiting in
            defer { waiting = false }
            return waiting
        }
        if wasWaiting { logger.notice("the database lock was released", metadata: ["done": "\(what)"]) }
    }

    /// Runs `write` until it does not meet a lock held by another process.
    func retrying<T: Sendable>(_ what: String, records: Int? = nil, _ write: @Sendable () async throws -> T) async throws -> T {
        while true {
            do {
                let value = try await write()
                passed(what)
                return value
            } catch let error as DatabaseError where error.isBusy {
                met(what, error: error, records: records)
                try await Task.sleep(for: Self.retryInterval)
            }
        }
    }
}
