import ArgumentParser
import ColtClient
import Foundation
import Logging
import OrderEngine
import OrderStore
import ServiceLifecycle
import UnixSignals

/// The options every command that reads the configuration shares.
struct SettingsOptions: ParsableArguments {
    @Option(name: .long, help: "JSON configuration file (see the README's configuration reference).")
    var config: String?

    @Option(name: .long, help: "The SQLite database file (database.path).")
    var database: String?

    @Option(name: .long, help: "'production', 'sandbox', or a URL; http:// only to loopback (api.base_url).")
    var baseURL: String?

    @Option(name: .long, help: "The OAuth client id (api.client_id).")
    var clientID: String?

    @Option(name: .long, help: "A file holding the client secret (api.client_secret_file). The secret itself is never taken on the command line.")
    var clientSecretFile: String?

    @Option(name: .long, help: "PEM file of CAs to trust for the API (api.ca_file).")
    var caFile: String?

    @Option(name: .long, help: "Requests in flight at once (submit.max_in_flight).")
    var maxInFlight: String?

    @Option(name: .long, help: "Requests started per second (submit.rate_per_second).")
    var ratePerSecond: String?

    @Option(name: .long, help: "Seconds between inventory checks of an order in progress (tracking.check_interval).")
    var checkInterval: String?

    @Option(name: .long, help: "Seconds after which an order still in progress is flagged as stalled (tracking.stall_after).")
    var stallAfter: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (log.level).")
    var logLevel: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        flags["database.path"] = database
        flags["api.base_url"] = baseURL
        flags["api.client_id"] = clientID
        flags["api.client_secret_file"] = clientSecretFile
        flags["api.ca_file"] = caFile
        flags["submit.max_in_flight"] = maxInFlight
        flags["submit.rate_per_second"] = ratePerSecond
        flags["log.level"] = logLevel
        flags["tracking.check_interval"] = checkInterval
        flags["tracking.stall_after"] = stallAfter
        return flags
    }

    func load() throws -> Settings {
        do {
            return try Settings.load(file: config ?? ProcessInfo.processInfo.environment["COLT_ORDERS_CONFIG"],
                                     flags: flags, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ExitCode.withMessage(error.description, code: 2)
        }
    }
}

/// `colt-orders run`: the long-running service.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon: submit queued requests until SIGTERM or SIGINT.")

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        try await Daemon.run(settings: settings.load(), mode: .daemon, reload: settings.reloader())
    }
}

/// `colt-orders drain`: submit everything, wait until every row is settled, exit.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Submit every queued request, wait until each is settled (accepted, rejected, failed...), then exit.",
        discussion: "Retries wait for their backoff as in the daemon. Exit status 0 when everything is settled, 1 on a fatal error (wrong credentials, database errors). With --until-completed it then follows every accepted order through Colt's inventory until it is completed or flagged (stalled).")

    @OptionGroup var settings: SettingsOptions

    @Flag(name: .long, help: "Also wait until every in_progress order has completed (or is flagged as stalled).")
    var untilCompleted = false

    func run() async throws {
        try await Daemon.run(settings: settings.load(), mode: untilCompleted ? .drainUntilCompleted : .drain)
    }
}

/// `colt-orders check-config`: validate a configuration and say what is wrong.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check the configuration and print the settings in force (never the secret).")

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        let loaded = try settings.load()
        for warning in loaded.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        print("configuration is valid:")
        for key in Settings.keys {
            guard let (value, source) = loaded.resolved[key.name] else {
                print("  \(key.name) = (not set)")
                continue
            }
            // The secret file's path is shown; the secret itself never is.
            let shown = switch key.name {
            case "api.client_secret_file": "\(value) (read, \(loaded.client.clientSecret))"
            case "api.base_url" where value != loaded.client.baseURL: "\(value) (\(loaded.client.baseURL))"
            default: value
            }
            print("  \(key.name) = \(shown)  [\(source)]")
        }
    }
}

/// Starts the daemon's pieces in order and runs the engine under swift-service-lifecycle.
enum Daemon {
    /// - Parameter reload: loads the configuration again, for SIGHUP; without it SIGHUP is not handled.
    static func run(settings: Settings, mode: OrderEngine.Mode, reload: (@Sendable () throws(Settings.Problems) -> Settings)? = nil) async throws {
        let logLevel = LogLevelControl(settings.logLevel)
        LoggingSystem.bootstrap { label in LevelControlledLogHandler(OperatorLogHandler(label: label, level: settings.logLevel), control: logLevel) }
        let logger = Logger(label: "colt-orders")
        for warning in settings.warnings { logger.warning("\(warning)") }
        // Prometheus for /metrics when the status endpoint is on, before anything makes a metric.
        let metricsRegistry = LedgerServices.bootstrapMetrics(settings)
        let startedAt = Timestamp.string(Date())

        // One daemon per database: take the lock before touching the file.
        let lock: DaemonLock
        do {
            lock = try DaemonLock(database: settings.databasePath, startedAt: startedAt)
        } catch {
            throw ExitCode.withMessage("colt-orders: \(error.description)", code: 1)
        }
        let database: Database
        do {
            database = try Database(path: settings.databasePath)
            let report = try database.useNow { try Migrator.migrate($0) }
            // The temporary b-trees SQLite builds for the daemon's statements (the state CHECK's
            // list) stay in memory instead of spilling to files under /var/tmp: 0.35 writes a
            // request in a drain without this (3.7 before schema 8). Each of the daemon's
            // queries is bounded by its LIMIT or by one row, so memory stays small.
            try database.useNow { try $0.execute("PRAGMA temp_store = MEMORY") }
            if !report.applied.isEmpty {
                logger.notice("database schema migrated", metadata: ["database": "\(settings.databasePath)", "applied": "\(report.applied)", "version": "\(report.version)"])
            }
            if !report.restoredIndexes.isEmpty {
                logger.warning("indexes the daemon's queries need were missing (dropped by hand?) and were made again", metadata: [
                    "database": "\(settings.databasePath)", "indexes": "\(report.restoredIndexes.joined(separator: ", "))"])
            }
        } catch {
            throw ExitCode.withMessage("colt-orders: \(error)", code: 1)
        }
        DatabaseFileModes.applyUmask(to: settings.databasePath, logger: logger)
        // systemd's notify protocol, when run as a Type=notify service.
        let notifier = SystemdNotifier()
        checkWatchdog(notifier, settings: settings, logger: logger)

        let transport = try CurlTransport(maxTransfers: Settings.maxInFlight.upperBound)
        defer { transport.shutdown() }  // on the early exits below; a no-op after close()
        let api = ColtAPI(configuration: settings.client, transport: transport, logger: logger)
        let tokens = TokenProvider(api: api, logger: logger)
        let engine = OrderEngine(database: database, api: api, tokens: tokens, configuration: watchdogAdjusted(settings.engine, notifier: notifier),
                                 mode: mode, logger: logger, observer: notifier)
        // SIGHUP re-reads the configuration (trapped now, before READY=1).
        var reloader: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if mode == .daemon, let reload {
            reloader = [.init(service: await ConfigurationReloader(initial: settings, load: reload, engine: engine, notifier: notifier,
                                                                   logLevel: logLevel, logger: logger), successTerminationBehavior: .ignore)]
        }
        // The status endpoint and retention, when configured (both off by default).
        let ledgerServices = try LedgerServices.make(settings: settings, database: database, tokens: tokens, registry: metricsRegistry,
                                                     lock: lock, condition: engine.condition, logger: logger)
        logger.info("colt-orders started", metadata: [
            "database": "\(settings.databasePath)", "api": "\(settings.client.baseURL)", "pid": "\(getpid())",
            "max_in_flight": "\(settings.engine.maxInFlight)", "rate_per_second": "\(settings.engine.ratePerSecond)",
            "mode": "\(mode)",
        ])
        let group = ServiceGroup(configuration: .init(
            services: ledgerServices + [.init(service: engine, successTerminationBehavior: .gracefullyShutdownGroup)] + reloader,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        var failure: (any Error)?
        do { try await group.run() } catch { failure = error }
        // Every connection closed, and the transport's thread joined, before the process exits
        // (see CurlTransport.close()).
        if !(await transport.close(timeout: .seconds(5))) {
            logger.warning("the HTTP transport did not finish closing its connections within 5 s; exiting without waiting for it")
        }
        if let error = failure {
            logger.critical("colt-orders stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode.withMessage("colt-orders: \(Self.describe(error))", code: 1)
        }
        logger.info("colt-orders stopped")
        withExtendedLifetime(lock) {}
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? ServiceGroupError { return "\(error)" }
        return "\(error)"
    }
}

extension ExitCode {
    /// Prints `text` to stderr; throwing the result exits with `code`. (ArgumentParser's own
    /// `CleanExit.message` prints to stdout and exits 0: this is the failing counterpart.)
    static func withMessage(_ text: String, code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data((text + "\n").utf8))
        return ExitCode(code)
    }
}
