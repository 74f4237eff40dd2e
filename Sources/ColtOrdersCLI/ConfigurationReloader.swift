import ColtClient
import Foundation
import Logging
import OrderEngine
import ServiceLifecycle
import StatusServer
import Synchronization
import UnixSignals

/// SIGHUP (`systemctl reload colt-orders`): reads the configuration again and applies what can
/// change while running.
///
/// - Applied at once: `submit.*`, `retry.*`, `backoff.*`, `credentials.retry_interval` (the
///   engine takes them at its next turn) and `log.level`. Each change is logged (notice).
/// - Logged as needing a restart (warning), the running value kept: `database.path`, `api.*`
///   (the client secret too), `retention.days` and `status.*` (the status credentials too).
/// - A configuration with problems is refused: each problem is logged, and the running
///   configuration stays as it was.
///
/// Around it, systemd hears `RELOADING=1` and then `READY=1` (sd_notify(3)).
struct ConfigurationReloader: Service {
    private let signals: UnixSignalsSequence
    private let initial: Settings
    private let load: @Sendable () throws(Settings.Problems) -> Settings
    private let engine: OrderEngine
    private let notifier: SystemdNotifier?
    private let logLevel: LogLevelControl
    private let logger: Logger

    /// Traps SIGHUP at once (so a reload that comes before the service runs cannot kill the
    /// process), then handles it in ``run()``.
    init(initial: Settings, load: @escaping @Sendable () throws(Settings.Problems) -> Settings, engine: OrderEngine,
         notifier: SystemdNotifier?, logLevel: LogLevelControl, logger: Logger) async {
        signals = await UnixSignalsSequence(trapping: .sighup)
        self.initial = initial
        self.load = load
        self.engine = engine
        self.notifier = notifier
        self.logLevel = logLevel
        self.logger = logger
    }

    func run() async {
        var running = initial
        for await _ in signals.cancelOnGracefulShutdown() {
            running = reload(running)
        }
    }

    /// One reload: returns the settings now in force.
    func reload(_ running: Settings) -> Settings {
        notifier?.reloading()
        logger.notice("SIGHUP: reading the configuration again")
        let new: Settings
        do {
            new = try load()
        } catch {
            for problem in error.list {
                logger.error("configuration problem", metadata: ["problem": "\(problem)"])
            }
            logger.error("new configuration refused; the running one is kept", metadata: ["problems": "\(error.list.count)"])
            notifier?.reloaded("new configuration refused (see the log); running with the previous one")
            return running
        }

        var applied = running
        applied.engine = new.engine
        applied.logLevel = new.logLevel
        let changes = Settings.changes(from: running, to: new)
        for change in changes where change.reloadable {
            logger.notice("setting changed", metadata: ["setting": "\(change.key)", "old": "\(change.old)", "new": "\(change.new)"])
        }
        for change in changes where !change.reloadable {
            logger.warning("setting changed but needs a restart to take effect (systemctl restart colt-orders); the running value stays",
                           metadata: ["setting": "\(change.key)", "old": "\(change.old)", "new": "\(change.new)"])
        }
        if changes.isEmpty { logger.notice("configuration unchanged") }
        logLevel.level = applied.logLevel
        engine.reload(watchdogAdjusted(applied.engine, notifier: notifier))
        let restart = changes.filter { !$0.reloadable }.map(\.key)
        notifier?.reloaded(restart.isEmpty ? "configuration reloaded" : "configuration reloaded; restart to apply \(restart.joined(separator: ", "))")
        return applied
    }
}

extension Settings {
    /// One setting whose value differs between two configurations.
    struct Change: Equatable {
        var key: String
        var old: String
        var new: String
        /// Whether a SIGHUP applies it (otherwise it takes a restart).
        var reloadable: Bool
    }

    /// The settings that differ from `old` to `new`, in the order of ``keys``. The secret is
    /// never shown, only that it changed.
    static func changes(from old: Settings, to new: Settings) -> [Change] {
        var changes: [Change] = []
        func compare<Value: Equatable>(_ key: String, _ reloadable: Bool, _ value: (Settings) -> Value, _ show: (Value) -> String = { "\($0)" }) {
            let (a, b) = (value(old), value(new))
            if a != b { changes.append(Change(key: key, old: show(a), new: show(b), reloadable: reloadable)) }
        }
        let seconds: (Duration) -> String = { "\($0.seconds)" }
        compare("database.path", false, \.databasePath)
        compare("api.base_url", false, \.client.baseURL)
        compare("api.client_id", false, \.client.clientID)
        compare("api.client_secret_file", false, \.client.clientSecret) { _ in "(a secret)" }
        compare("api.ca_file", false, \.client.caFile) { $0 ?? "(system CAs)" }
        compare("api.request_timeout", false, \.client.requestTimeout, seconds)
        compare("api.connect_timeout", false, \.client.connectTimeout, seconds)
        compare("submit.max_in_flight", true, \.engine.maxInFlight)
        compare("submit.rate_per_second", true, \.engine.ratePerSecond)
        compare("submit.max_range_size", true, \.engine.maxRangeSize)
        compare("retry.initial_delay", true, \.engine.retry.initialDelay, seconds)
        compare("retry.max_delay", true, \.engine.retry.maxDelay, seconds)
        compare("retry.max_attempts", true, \.engine.retry.maxAttempts)
        compare("retry.max_age", true, \.engine.retry.maxAge, seconds)
        compare("backoff.failure_threshold", true, \.engine.globalBackoff.failureThreshold)
        compare("backoff.initial_pause", true, \.engine.globalBackoff.initialPause, seconds)
        compare("backoff.max_pause", true, \.engine.globalBackoff.maxPause, seconds)
        compare("credentials.retry_interval", true, \.engine.credentialsRetryInterval, seconds)
        compare("shutdown.grace", true, \.engine.shutdownGrace, seconds)
        compare("database.poll_interval", true, \.engine.pollInterval, seconds)
        compare("tracking.check_interval", true, \.engine.tracking.checkInterval, seconds)
        compare("tracking.stall_after", true, \.engine.tracking.stallAfter, seconds)
        compare("log.level", true, \.logLevel) { $0.rawValue }
        compare("retention.days", false, \.retentionDays) { $0.map(String.init) ?? "(off)" }
        compare("status.listen", false, \.statusListen) { $0.map { "\($0)" } ?? "(off)" }
        compare("status.auth_file", false, \.statusCredentials) { $0.map { "users \($0.userNames.joined(separator: " "))" } ?? "(none)" }
        compare("status.allow_actions", false, \.statusAllowActions)
        if let index = changes.firstIndex(where: { $0.key == "api.client_secret_file" }) {
            changes[index].old = "(the secret read at start)"
            changes[index].new = "(a different secret)"
        }
        return changes
    }
}

extension SettingsOptions {
    /// Loads the settings again from the same sources (file, environment, flags), for SIGHUP.
    func reloader() -> @Sendable () throws(Settings.Problems) -> Settings {
        let environment = ProcessInfo.processInfo.environment
        let file = config ?? environment["COLT_ORDERS_CONFIG"]
        let flags = flags
        return { () throws(Settings.Problems) -> Settings in
            try Settings.load(file: file, flags: flags, environment: environment)
        }
    }
}

/// The log level in force, shared by every logger so that a reload can change it.
final class LogLevelControl: Sendable {
    private let current: Mutex<Logger.Level>

    init(_ level: Logger.Level) { current = Mutex(level) }

    var level: Logger.Level {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// Wraps a handler so its level follows a ``LogLevelControl`` (unless a logger sets its own).
struct LevelControlledLogHandler<Inner: LogHandler>: LogHandler {
    var inner: Inner
    let control: LogLevelControl
    private var override: Logger.Level?

    init(_ inner: Inner, control: LogLevelControl) {
        self.inner = inner
        self.control = control
    }

    var logLevel: Logger.Level {
        get { override ?? control.level }
        set { override = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}

/// The engine's tunables adjusted for the systemd watchdog: the engine's loop turns at least
/// every `pollInterval` and pings the watchdog from there, so the loop must turn well within
/// half the watchdog interval (WatchdogSec= below 2 s would otherwise be missed).
func watchdogAdjusted(_ configuration: EngineConfiguration, notifier: SystemdNotifier?) -> EngineConfiguration {
    guard let interval = notifier?.watchdogInterval else { return configuration }
    var configuration = configuration
    configuration.pollInterval = max(.milliseconds(10), min(configuration.pollInterval, interval / 2))
    return configuration
}

/// Warns when the watchdog could fire on a healthy daemon: a token request (up to
/// `api.request_timeout`) is awaited in the engine's loop, which pings the watchdog.
func checkWatchdog(_ notifier: SystemdNotifier?, settings: Settings, logger: Logger) {
    guard let timeout = notifier?.watchdogTimeout else { return }
    if timeout < settings.client.requestTimeout + .seconds(5) {
        logger.warning("WatchdogSec is shorter than api.request_timeout + 5 s: a slow token request could get a healthy daemon restarted",
                       metadata: ["watchdog": "\(timeout.seconds)", "api.request_timeout": "\(settings.client.requestTimeout.seconds)"])
    }
}
