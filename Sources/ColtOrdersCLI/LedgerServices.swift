import ArgumentParser
import ColtClient
import Foundation
import Logging
import Metrics
import OrderEngine
import OrderStore
import Prometheus
import ServiceLifecycle
import StatusServer

/// The ledger's optional pieces of the daemon: the HTTP status endpoint (`status.listen`) and
/// scheduled retention (`retention.days`). Both are off by default.
enum LedgerServices {
    /// Bootstraps swift-metrics with a Prometheus registry when the status endpoint is on, so the
    /// engine's figures reach `/metrics`. Call before anything creates a metric (the engine).
    static func bootstrapMetrics(_ settings: Settings) -> PrometheusCollectorRegistry? {
        guard settings.statusListen != nil else { return nil }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// The services to run beside the engine (first in the group, so they stop after it).
    static func make(settings: Settings, database: Database, tokens: TokenProvider, registry: PrometheusCollectorRegistry?,
                     lock: DaemonLock, condition: EngineCondition, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let address = settings.statusListen, let registry {
            do {
                let options = StatusServer.Options(credentials: settings.statusCredentials, allowActions: settings.statusAllowActions,
                                                   condition: condition)
                let server = try StatusServer(address: address, databasePath: settings.databasePath, tokens: tokens, registry: registry,
                                              logger: logger, options: options,
                                              lockHeld: { [lock] in FileManager.default.fileExists(atPath: lock.path) })
                services.append(.init(service: server))
            } catch {
                throw ExitCode.withMessage("colt-orders: status endpoint: \(error)", code: 1)
            }
        }
        if let days = settings.retentionDays {
            services.append(.init(service: RetentionService(database: database, maxAge: Double(days) * 86400, logger: logger)))
        }
        return services
    }
}

/// Prunes settled rows (completed, rejected, invalid, failed, cancelled) older than `maxAge`,
/// with their attempts, at start-up and then every `interval`, in small batches, each its own
/// short transaction, so the engine's writes are never held up for long. Never touches a row
/// that is not settled.
struct RetentionService: Service {
    let database: Database
    let maxAge: TimeInterval
    var interval: Duration = .seconds(3600)
    var batchSize = 500
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            await pruneOnce()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    func pruneOnce() async {
        let cutoff = Date().addingTimeInterval(-maxAge)
        var total = PruneReport()
        do {
            while !Task.isShuttingDownGracefully {
                let batch = try await database.use { [batchSize] db in try Ledger.pruneBatch(db, olderThan: cutoff, limit: batchSize) }
                if batch.requests == 0 { break }
                total.requests += batch.requests
                total.attempts += batch.attempts
                total.batches += 1
                try await Task.sleep(for: .milliseconds(10))
            }
        } catch {
            logger.error("retention: pruning failed; trying again at the next run", metadata: ["error": "\(error)"])
        }
        if total.requests > 0 {
            logger.notice("retention: pruned settled requests", metadata: [
                "requests": "\(total.requests)", "attempts": "\(total.attempts)", "batches": "\(total.batches)",
                "older_than": "\(Timestamp.string(cutoff))",
            ])
        }
    }
}
