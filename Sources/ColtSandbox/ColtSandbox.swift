import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An in-process simulator of Colt's number-management API (token, return and reactivate
/// orders, number search), plus a `/_sandbox/` control API.
///
/// Start it with ``start(_:logger:)``, talk to ``baseURL`` over HTTP(S), inspect it with
/// the methods below, and ``shutdown()`` it; many sandboxes can run (and be restarted) in
/// one process, each with its own state.
///
/// An accepted order stays `In progress` until its completion time (about
/// ``SandboxConfiguration/completionDelay``) has passed; then its numbers move to the status the
/// seeds' tables give. A new order on a number whose order is still `In progress` is refused with 409.
///
/// Endpoints:
/// - `POST /authentication/v1/oauth/token`
/// - `POST /numberManagement/v1/return/order`, `POST /numberManagement/v1/reactivate/order`
/// - `GET /numberManagement/v1/Number?numberRangeStart=&numberRangeEnd=` or `?orderID=`, paged
///   with `offset` and `limit` (`X-Total-Count` tells the total), in one of two shapes (Colt has
///   not published one; see ``NumberShape``): rich,
///   `{"numbers":[{"number":"+442081324758","status":"Quarantined","country":"GB",
///   "serviceProfile":"ANH","lastOrder":{"id":"ORD-12345678","trackingId":"...",
///   "type":"return","status":"In progress","createdAt":"..."},"orders":[...]}],"totalCount":1}`
///   (`lastOrder` is absent for a number that never had an order; `orders` is oldest first), or
///   minimal, `[{"number":"+442081324758","resourceStatus":"Activated","orderId":"ORD-12345678"}]`
///   (`orderId` only while the order runs).
/// - `GET /_sandbox/orders[?trackingId=|?number=]`, `GET /_sandbox/stats`,
///   `GET|PUT /_sandbox/faults`, `POST /_sandbox/expire-tokens`, `GET /_sandbox/numbers`.
public final class ColtSandbox: Sendable {
    /// The URL the sandbox answers on, e.g. `http://127.0.0.1:54321` (no trailing slash).
    public let baseURL: String
    /// The TCP port the sandbox listens on.
    public let port: Int

    private let state: SandboxState
    private let serviceGroup: ServiceGroup
    private let runTask: Task<Void, any Error>
    private let stopping: StopSignal
    private let logger: Logger

    private init(baseURL: String, port: Int, state: SandboxState, serviceGroup: ServiceGroup,
                 runTask: Task<Void, any Error>, stopping: StopSignal, logger: Logger) {
        self.baseURL = baseURL
        self.port = port
        self.state = state
        self.serviceGroup = serviceGroup
        self.runTask = runTask
        self.stopping = stopping
        self.logger = logger
    }

    deinit {
        self.stopping.stop()
        self.runTask.cancel()
    }

    /// Starts a sandbox and returns once it is listening.
    ///
    /// - Throws: when the address cannot be bound.
    public static func start(
        _ configuration: SandboxConfiguration,
        logger: Logger = Logger(label: "colt-sandbox")
    ) async throws -> ColtSandbox {
        let state = SandboxState(configuration: configuration)
        let stopping = StopSignal()
        let responder = SandboxResponder(state: state, logger: logger, stopping: stopping)

        var frameworkLogger = logger
        frameworkLogger.logLevel = max(logger.logLevel, .warning)
        let listening = OneShot<Int>()
        let app = Application(
            responder: responder,
            server: .http1(configuration: .init(additionalChannelHandlers: [AnswerTiming()])),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "colt-sandbox"
            ),
            onServerRunning: { channel in
                listening.resolve(.success(channel.localAddress?.port ?? configuration.port))
            },
            logger: frameworkLogger
        )
        var groupConfiguration = ServiceGroupConfiguration(services: [app], logger: frameworkLogger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(3)
        let group = ServiceGroup(configuration: groupConfiguration)
        let task = Task {
            do {
                try await group.run()
                listening.resolve(.failure(SandboxStartError(description: "the server stopped before listening")))
            } catch {
                listening.resolve(.failure(error))
                throw error
            }
        }
        let port = try await listening.value()
        let hostPart = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        let sandbox = ColtSandbox(
            baseURL: "http://\(hostPart):\(port)", port: port, state: state, serviceGroup: group,
            runTask: task, stopping: stopping, logger: logger
        )
        logger.info("colt sandbox listening on \(sandbox.baseURL) (tracking ids: \(configuration.trackingIDMode.rawValue), seed \(configuration.seed), \(configuration.inventory.count) numbers, \(configuration.faults.count) fault rules)")
        return sandbox
    }

    /// Every order accepted so far, oldest first.
    public func orders() async -> [SandboxOrder] { await self.state.orders() }

    /// The orders created by requests with this `x-tracking-id`.
    public func orders(forTrackingID trackingID: String) async -> [SandboxOrder] {
        await self.state.orders(forTrackingID: trackingID)
    }

    /// The orders whose ranges contain `number`, oldest first.
    public func orders(forNumber number: String) async -> [SandboxOrder] {
        await self.state.orders(forNumber: number)
    }

    /// How many HTTP requests arrived on `path` (e.g. `/numberManagement/v1/return/order`),
    /// whatever their outcome (faulted, refused, replayed, accepted).
    public func requestCount(path: String) async -> Int { await self.state.requestCount(path: path) }

    /// The `x-tracking-id` of every request on `path` that carried one, in arrival order.
    public func receivedTrackingIDs(path: String) async -> [String] {
        await self.state.receivedTrackingIDs(path: path)
    }

    /// Replaces the fault rules (their counters and the fault generator start afresh).
    public func setFaults(_ rules: [FaultRule]) async { await self.state.setFaults(rules) }

    /// The fault rules in force.
    public func faults() async -> [FaultRule] { await self.state.currentFaults() }

    /// Invalidates every token issued so far: their next use answers 401 (code 002).
    public func expireTokens() async { await self.state.expireTokens() }

    /// A number's current status, or `nil` if it is not in the inventory.
    public func status(of number: String) async -> NumberStatus? { await self.state.status(of: number) }

    /// The whole inventory with current statuses, in configuration order.
    public func inventory() async -> [InventoryNumber] { await self.state.inventorySnapshot() }

    /// Counters of this run.
    public func stats() async -> SandboxStats {
        var stats = await self.state.stats()
        stats.heldConnections = self.stopping.heldCount
        return stats
    }

    /// Stops listening, releases hung connections, frees the port and returns once stopped.
    /// Calling it again is harmless.
    public func shutdown() async {
        if self.stopping.stop() {
            await self.serviceGroup.triggerGracefulShutdown()
        }
        _ = try? await self.runTask.value
    }
}

/// Why ``ColtSandbox/start(_:logger:)`` failed without an underlying error.
public struct SandboxStartError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var description: String
}

/// The connections held open by `hang` faults, and whether the sandbox is stopping.
///
/// Stopping closes every held connection (and any later one at once), so shutdown never waits
/// for a client that is still patiently waiting for an answer.
final class StopSignal: Sendable {
    private struct State {
        var stopped = false
        var held: [ObjectIdentifier: any Channel] = [:]
    }

    private let state = Mutex(State())

    /// Marks the sandbox stopping and closes the held connections; `true` for the first call.
    @discardableResult
    func stop() -> Bool {
        let (first, channels) = self.state.withLock { state -> (Bool, [any Channel]) in
            defer { state.stopped = true; state.held = [:] }
            return (!state.stopped, Array(state.held.values))
        }
        for channel in channels { channel.close(promise: nil) }
        return first
    }

    var isStopped: Bool { self.state.withLock { $0.stopped } }

    /// How many connections are held right now.
    var heldCount: Int { self.state.withLock { $0.held.count } }

    /// Registers a held connection; `false` (and nothing registered) when already stopping.
    func hold(_ channel: any Channel) -> Bool {
        self.state.withLock { state in
            guard !state.stopped else { return false }
            state.held[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    /// Forgets a held connection.
    func release(_ channel: any Channel) {
        _ = self.state.withLock { $0.held.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// A value delivered once, awaited once.
final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, any Error>)
        case done(Result<Value, any Error>)
        case consumed
    }

    private let state = Mutex<State>(.empty)

    func resolve(_ result: Result<Value, any Error>) {
        let continuation: CheckedContinuation<Value, any Error>? = self.state.withLock { state in
            switch state {
            case .empty:
                state = .done(result)
                return nil
            case .waiting(let continuation):
                state = .consumed
                return continuation
            case .done, .consumed:
                return nil
            }
        }
        continuation?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, any Error>? = self.state.withLock { state in
                switch state {
                case .empty:
                    state = .waiting(continuation)
                    return nil
                case .done(let result):
                    state = .consumed
                    return result
                case .waiting, .consumed:
                    return .failure(SandboxStartError(description: "awaited twice"))
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
