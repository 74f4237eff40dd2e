import ColtClient
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import OperatorPages
import OrderEngine
import OrderStore
import Prometheus
import ServiceLifecycle
import Synchronization

/// Where the status server listens: loopback unless non-loopback addresses are explicitly allowed.
public struct StatusListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Parses `127.0.0.1:9464`, `[::1]:9464` or `localhost:9464`.
    ///
    /// - Returns: the address, or a problem in words.
    public static func parse(_ text: String, allowNonLoopback: Bool) -> Result<StatusListenAddress, StatusListenError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var host: Substring, portText: Substring
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.init("must be HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464, not '\(text)'")) }
            portText = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":"), !trimmed[..<colon].contains(":") else {
                return .failure(.init("must be HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464, not '\(text)'"))
            }
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            return .failure(.init("must be HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9464, not '\(text)'"))
        }
        let address = StatusListenAddress(host: String(host), port: port)
        if !allowNonLoopback, !address.isLoopback {
            return .failure(.init("'\(text)' is not a loopback address; off loopback the status endpoint and its pages need authentication: set status.auth_file to a file of name:password lines (under systemd, a LoadCredential= credential named status-users), or listen on 127.0.0.1, ::1 or localhost"))
        }
        return .success(address)
    }

    /// Whether the host is a literal 127.0.0.0/8 address, ::1 or localhost.
    public var isLoopback: Bool { LoopbackHost.isLoopback(host) }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a `status.listen` value was refused.
public struct StatusListenError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The daemon's HTTP status endpoint (Hummingbird), run as a `Service` in the daemon's group:
///
/// - `GET /healthz`: 200 while the process serves requests.
/// - `GET /readyz`: 200 when the database answers, the daemon lock is held, and a Colt token
///   can be had (through the engine's ``TokenProvider``); 503 naming what is not ready.
/// - `GET /orders?state=&action=&country=&since=&limit=&before=`: a page of the ledger as JSON;
///   it looks through at most `LedgerFilter.pageExamineLimit` ids, and says `stopped_at` when that ended it.
/// - `GET /orders/{id}`: one request, its attempts and inventory reads, and what the inventory
///   last showed per number, as JSON (404 when there is none).
/// - `GET /metrics`: Prometheus text: the engine's swift-metrics figures, plus rows by state,
///   the oldest queued and retrying rows' ages, and token refreshes, read at scrape time.
/// - The operator's web pages (``OperatorRoutes``): `/`, `/ledger`, `/requests/{id}`.
///
/// It reads the database through its own read-only connection, so it never takes a write lock;
/// only the pages' actions (off unless ``Options/allowActions``) write, through a second one.
/// With ``Options/credentials`` every endpoint asks for HTTP Basic authentication; without
/// them it listens on loopback only.
public struct StatusServer: Service {
    /// Who may use the endpoint and what the pages may do.
    public struct Options: Sendable {
        /// Users of the status credentials file; `nil`: no authentication (loopback only).
        public var credentials: StatusCredentials?
        /// Whether the request page offers cancel and retry (which also needs ``credentials``).
        public var allowActions: Bool
        /// What the engine is doing, for the overview; `nil` when no engine runs in this process.
        public var condition: EngineCondition?

        public init(credentials: StatusCredentials? = nil, allowActions: Bool = false, condition: EngineCondition? = nil) {
            self.credentials = credentials
            self.allowActions = allowActions
            self.condition = condition
        }
    }

    let address: StatusListenAddress
    let database: Database
    let tokens: TokenProvider
    let registry: PrometheusCollectorRegistry
    let lockHeld: @Sendable () -> Bool
    let logger: Logger
    let gauges: LedgerGauges
    let readiness = TokenCheck()
    let options: Options
    let operatorRoutes: OperatorRoutes

    /// - Parameters:
    ///   - databasePath: the daemon's database; opened read-only here.
    ///   - registry: the registry the process bootstrapped swift-metrics with.
    ///   - lockHeld: whether the daemon still holds its lock.
    ///   - options: authentication, actions, and the engine's condition.
    public init(address: StatusListenAddress, databasePath: String, tokens: TokenProvider, registry: PrometheusCollectorRegistry,
                logger: Logger, options: Options = Options(), lockHeld: @escaping @Sendable () -> Bool) throws {
        guard address.isLoopback || options.credentials != nil else {
            throw StatusListenError("\(address) is not a loopback address and no status.auth_file is set: the endpoint would show the ledger to anyone")
        }
        self.address = address
        database = try Database(path: databasePath, mode: .readOnly, busyTimeout: .seconds(2))
        self.tokens = tokens
        self.registry = registry
        self.lockHeld = lockHeld
        self.logger = logger
        self.options = options
        gauges = LedgerGauges(registry: registry)
        let readOnlyBecause: String? = switch (options.allowActions, options.credentials != nil) {
        case (true, true): nil
        case (true, false): "Actions need signing in: set status.auth_file as well as status.allow_actions."
        case (false, _): "To cancel and retry from here, set status.allow_actions = true (with status.auth_file); the CLI's cancel and retry work meanwhile."
        }
        let condition = options.condition
        // The pages read through a connection of their own, so that however many are loading,
        // /healthz, /readyz and /metrics never wait behind them.
        operatorRoutes = OperatorRoutes(
            reader: try Database(path: databasePath, mode: .readOnly, busyTimeout: .seconds(2)),
            writer: readOnlyBecause == nil ? try Database(path: databasePath, mode: .readWrite, busyTimeout: .seconds(5)) : nil,
            readOnlyBecause: readOnlyBecause, credentials: options.credentials, pages: try OperatorPages(),
            condition: { [tokens, lockHeld] in
                let engine = condition?.snapshot()
                let token = await tokens.condition
                var shown = DaemonCondition(engineRunning: engine?.running ?? false, inFlight: engine?.inFlight ?? 0,
                                            pausedUntil: engine?.pausedUntil, credentialsPausedUntil: engine?.credentialsPausedUntil,
                                            lastError: engine?.lastError, lastErrorAt: engine?.lastErrorAt,
                                            tokenValidFor: token.validFor, tokenFailure: token.lastFailure)
                if !lockHeld() { shown.lastError = "the daemon lock file is gone: " + (shown.lastError ?? "") }
                return shown
            },
            logger: logger)
    }

    public func run() async throws {
        var frameworkLogger = logger
        frameworkLogger.logLevel = max(logger.logLevel, .warning)
        // A client that opens a connection and sends half a request, or nothing, is closed after
        // `idleTimeout`; beyond `maxConnections` at once, new ones are closed at once: status
        // clients can never take the descriptors the engine needs for Colt and the database.
        let connections = ConnectionCount(limit: Self.maxConnections)
        var http = HTTP1Channel.Configuration(additionalChannelHandlers: [ConnectionLimiter(count: connections)])
        http.idleTimeout = .seconds(Int64(Self.idleTimeout.components.seconds))
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: http),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "colt-orders"),
            onServerRunning: { [logger, address] channel in
                let port = channel.localAddress?.port ?? address.port
                logger.notice("status endpoint listening", metadata: [
                    "address": "\(StatusListenAddress(host: address.host, port: port))",
                    "endpoints": "/ /ledger /requests/{id} /healthz /readyz /orders /orders/{id} /metrics",
                    "authentication": "\(options.credentials.map { "basic, users \($0.userNames.joined(separator: " "))" } ?? "none (loopback only)")",
                    "actions": "\(operatorRoutes.readOnlyBecause == nil ? "on" : "off")",
                ])
            },
            logger: frameworkLogger)
        try await app.run()
    }

    /// The most status connections open at once.
    public static let maxConnections = 64
    /// How long a status connection may sit without a complete request.
    public static let idleTimeout: Duration = .seconds(10)

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        // Middleware applies to the routes added after it: these come first.
        router.add(middleware: SecurityHeaders())
        if let credentials = options.credentials {
            router.add(middleware: BasicAuthentication(credentials: credentials, logger: logger))
        } else {
            router.add(middleware: LoopbackHostOnly())
        }
        operatorRoutes.add(to: router)
        router.get("/healthz") { _, _ in
            json(["status": "alive"])
        }
        router.get("/readyz") { _, _ in
            var checks: [String: String] = [:]
            do {
                try await database.use { db in
                    try db.checkFileStillThere()
                    _ = try db.first("SELECT count(*) FROM schema_migrations", [], { $0.int(0) })
                }
                checks["database"] = "ok"
            } catch {
                checks["database"] = "\(error)"
            }
            checks["lock"] = lockHeld() ? "ok" : "the daemon lock file is gone"
            checks["token"] = await readiness.check(tokens)
            let ready = checks.values.allSatisfy { $0 == "ok" }
            return json(Readiness(ready: ready, checks: checks), status: ready ? .ok : .serviceUnavailable)
        }
        router.get("/orders") { request, _ in
            let query = request.uri.queryParameters
            var filter = LedgerFilter()
            if let state = query.get("state") {
                guard Ledger.states.contains(state) else { return problem(.badRequest, "state must be one of \(Ledger.states.joined(separator: ", "))") }
                filter.state = state
            }
            filter.action = query.get("action")
            filter.country = query.get("country")
            if let since = query.get("since") {
                guard let date = Timestamp.date(since) else { return problem(.badRequest, "since must be an ISO-8601 UTC time, e.g. 2026-11-24T09:30:00Z") }
                filter.since = date
            }
            if let limit = query.get("limit") {
                guard let value = Int(limit), (1...1000).contains(value) else { return problem(.badRequest, "limit must be from 1 to 1000") }
                filter.limit = value
            }
            if let before = query.get("before") {
                guard let value = Int64(before) else { return problem(.badRequest, "before must be a request id") }
                filter.before = value
            }
            filter.examineAtMost = LedgerFilter.pageExamineLimit
            let page = try await database.use { [filter] db in try db.transaction(.deferred) { try Ledger.list(db, filter: filter) } }
            return json(OrdersPage(orders: page.entries, nextBefore: page.nextBefore, stoppedAt: page.stoppedAt))
        }
        router.get("/orders/:id") { _, context in
            guard let id = context.parameters.get("id", as: Int64.self) else { return problem(.badRequest, "the id must be a number") }
            let found = try await database.use { db in
                try db.transaction(.deferred) { () throws -> OrderDetail? in
                    guard let entry = try Ledger.entry(db, id: id) else { return nil }
                    return OrderDetail(request: entry, attempts: try Ledger.attempts(db, requestID: id),
                                       numbers: try Ledger.numbers(db, requestID: id))
                }
            }
            guard let found else { return problem(.notFound, "request \(id): no such request") }
            return json(found)
        }
        router.get("/metrics") { _, _ in
            let status = try await database.use { db in try Ledger.status(db, rejections: 0) }
            gauges.update(status: status, tokenRefreshes: await tokens.refreshCount)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }
}

struct Readiness: Encodable {
    var ready: Bool
    var checks: [String: String]
}

struct OrdersPage: Encodable {
    var orders: [LedgerEntry]
    var nextBefore: Int64?
    /// Set when the page stopped looking (`LedgerFilter.pageExamineLimit` ids) before it was full.
    var stoppedAt: Int64?
    enum CodingKeys: String, CodingKey { case orders, nextBefore = "next_before", stoppedAt = "stopped_at" }
}

struct OrderDetail: Encodable, Sendable {
    var request: LedgerEntry
    var attempts: [AttemptEntry]
    /// What Colt's inventory last showed for the request's numbers (`order_numbers`).
    var numbers: [NumberEntry]
}

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    var headers = HTTPFields()
    headers[.contentType] = "application/json"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
    json(["error": message], status: status)
}

/// Asks the engine's token provider for a token, but after a failure waits 30 s before asking
/// again, so a probe every second cannot hammer Colt's token endpoint.
actor TokenCheck {
    private var lastFailure: (at: ContinuousClock.Instant, detail: String)?

    func check(_ tokens: TokenProvider) async -> String {
        if let lastFailure, ContinuousClock.now - lastFailure.at < .seconds(30) { return lastFailure.detail }
        do {
            _ = try await tokens.token()
            lastFailure = nil
            return "ok"
        } catch {
            let detail = "no Colt token: \(error.detail)"
            lastFailure = (.now, detail)
            return detail
        }
    }
}

/// The figures read from the database at scrape time.
final class LedgerGauges: Sendable {
    let byState: [String: Prometheus.Gauge]
    let oldestQueued: Prometheus.Gauge
    let oldestRetrying: Prometheus.Gauge
    let tokenRefreshes: Prometheus.Counter
    let refreshesSeen = Mutex(0)

    init(registry: PrometheusCollectorRegistry) {
        var byState: [String: Prometheus.Gauge] = [:]
        for state in Ledger.states {
            byState[state] = registry.makeGauge(descriptor: Self.name("requests", "", "Rows of the requests table, by state, at scrape time"), labels: [("state", state)])
        }
        self.byState = byState
        oldestQueued = registry.makeGauge(descriptor: Self.name("oldest_queued_age", "seconds", "Age of the oldest queued row (0 when none)"))
        oldestRetrying = registry.makeGauge(descriptor: Self.name("oldest_retrying_age", "seconds", "Age of the oldest retrying row (0 when none)"))
        tokenRefreshes = registry.makeCounter(descriptor: Self.name("token_refreshes", "total", "Colt token fetches started (TokenProvider.refreshCount)"))
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "colt_orders", metricName: metric, unitName: unit, helpText: help)
    }

    func update(status: LedgerStatus, tokenRefreshes count: Int) {
        for (state, gauge) in byState { gauge.set(Double(status.counts[state] ?? 0)) }
        oldestQueued.set(Double(status.oldestQueued?.ageSeconds ?? 0))
        oldestRetrying.set(Double(status.oldestRetrying?.ageSeconds ?? 0))
        let delta = refreshesSeen.withLock { seen in
            defer { seen = max(seen, count) }
            return max(0, count - seen)
        }
        if delta > 0 { tokenRefreshes.increment(by: Int64(delta)) }
    }
}

/// How many status connections are open, shared by every connection's ``ConnectionLimiter``.
final class ConnectionCount: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Counts one more; false (and not counted) when the limit is reached.
    func enter() -> Bool {
        while true {
            let current = open.load(ordering: .relaxed)
            guard current < limit else { return false }
            if open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed).exchanged { return true }
        }
    }

    func leave() { open.subtract(1, ordering: .relaxed) }
}

/// Closes a connection beyond ``ConnectionCount/limit`` as soon as it is set up.
final class ConnectionLimiter: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    let count: ConnectionCount
    /// Whether this connection was counted (it is touched only on its channel's event loop).
    private let counted = Atomic<Bool>(false)

    init(count: ConnectionCount) { self.count = count }

    func handlerAdded(context: ChannelHandlerContext) {
        if count.enter() { counted.store(true, ordering: .relaxed) }
        if context.channel.isActive, !counted.load(ordering: .relaxed) { context.close(promise: nil) }
    }

    func channelActive(context: ChannelHandlerContext) {
        guard counted.load(ordering: .relaxed) else {
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted.exchange(false, ordering: .relaxed) { count.leave() }
    }
}
