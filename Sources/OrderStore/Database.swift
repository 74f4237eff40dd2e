import Dispatch

/// A ``Connection`` that async code can share: every use runs on the connection's own serial
/// queue, so SQLite's waits for locks never block Swift's cooperative thread pool.
///
/// `@unchecked Sendable`: the connection is not thread-safe, but it is only ever touched on
/// `queue`, one block at a time, which is what makes sharing this class between tasks safe.
public final class Database: @unchecked Sendable {
    private let connection: Connection
    private let queue: DispatchQueue

    /// The database file.
    public let path: String

    /// Opens the database; see ``Connection/init(path:mode:busyTimeout:)``.
    public init(path: String, mode: Connection.Mode = .readWriteCreate, busyTimeout: Duration = .seconds(5)) throws(DatabaseError) {
        connection = try Connection(path: path, mode: mode, busyTimeout: busyTimeout)
        self.path = path
        queue = DispatchQueue(label: "colt-orders.database")
    }

    /// Runs `body` with the connection on the database queue.
    public func use<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }

    /// Runs `body` with the connection on the calling thread, waiting for the queue.
    /// For command-line tools and start-up, before any concurrency begins.
    public func useNow<T>(_ body: (Connection) throws -> T) rethrows -> T {
        try queue.sync { try body(connection) }
    }
}
