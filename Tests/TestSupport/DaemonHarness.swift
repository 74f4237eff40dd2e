import ColtSandbox
import Foundation
import Logging

/// An end-to-end setting: an in-process Colt sandbox on loopback, a database file, a secret
/// file, and the real `colt-orders` binary run against them.
public struct DaemonHarness: Sendable {
    public let directory: TemporaryDirectory
    public let database: String
    public let secretFile: String
    public let sandbox: ColtSandbox
    public let sandboxConfiguration: SandboxConfiguration
    /// With `start(tls: true)`: the private CA and certificate the HTTPS front serves.
    public let certificates: TestCertificates?
    /// With `start(tls: true)`: HTTPS in front of the sandbox, where the daemon is sent.
    public let tlsFront: TLSFront?

    /// Where the daemon is sent: the TLS front when there is one, else the sandbox itself.
    public var baseURL: String { tlsFront?.baseURL ?? sandbox.baseURL }

    /// Settings that make retries and pauses fast enough for tests.
    public static let fastEnvironment: [String: String] = [
        "COLT_ORDERS_RETRY_INITIAL_DELAY": "0.05",
        "COLT_ORDERS_RETRY_MAX_DELAY": "0.3",
        "COLT_ORDERS_BACKOFF_FAILURE_THRESHOLD": "1000",
        "COLT_ORDERS_BACKOFF_INITIAL_PAUSE": "0.1",
        "COLT_ORDERS_BACKOFF_MAX_PAUSE": "0.5",
        "COLT_ORDERS_API_REQUEST_TIMEOUT": "2",
        "COLT_ORDERS_SUBMIT_RATE_PER_SECOND": "2000",
        "COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT": "8",
        "COLT_ORDERS_CREDENTIALS_RETRY_INTERVAL": "1",
        "COLT_ORDERS_SHUTDOWN_GRACE": "5",
    ]

    /// Starts a sandbox configured by `configure`; with `tls`, behind an HTTPS front whose
    /// certificate a private CA signed (``certificates``).
    public static func start(tls: Bool = false, _ configure: (inout SandboxConfiguration) -> Void = { _ in }) async throws -> DaemonHarness {
        let directory = try TemporaryDirectory("daemon")
        var configuration = SandboxConfiguration()
        configure(&configuration)
        // The sandbox's line per request would drown the test output; its warnings still show.
        var logger = Logger(label: "colt-sandbox")
        logger.logLevel = .warning
        let sandbox = try await ColtSandbox.start(configuration, logger: logger)
        let secretFile = try directory.write("client-secret", configuration.clientSecret + "\n")
        let certificates = tls ? try TestCertificates(in: directory) : nil
        var front: TLSFront?
        if let certificates { front = try await TLSFront.start(certificates, upstreamPort: sandbox.port, directory: directory) }
        return DaemonHarness(directory: directory, database: directory.file("orders.db"), secretFile: secretFile,
                             sandbox: sandbox, sandboxConfiguration: configuration, certificates: certificates, tlsFront: front)
    }

    /// The command-line arguments for `command` (run, drain, check-config) against the sandbox.
    public func arguments(_ command: String, clientID: String? = nil, secretFile: String? = nil) -> [String] {
        [command, "--database", database, "--base-url", baseURL,
         "--client-id", clientID ?? sandboxConfiguration.clientID, "--client-secret-file", secretFile ?? self.secretFile]
    }

    /// Starts the real binary; `extra` arguments go after the harness's own.
    public func launch(_ command: String, environment: [String: String] = [:], clientID: String? = nil,
                       secretFile: String? = nil, name: String = "daemon", extra: [String] = []) throws -> DaemonProcess {
        try DaemonProcess(arguments: arguments(command, clientID: clientID, secretFile: secretFile) + extra,
                          environment: Self.fastEnvironment.merging(environment) { $1 }, directory: directory, name: name)
    }

    /// Runs `colt-orders drain` to the end and returns its exit status and output.
    @discardableResult
    public func drain(environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stderr: String) {
        let process = try launch("drain", environment: environment, name: "drain")
        let status = try await process.wait(timeout: timeout)
        return (status, process.stderr)
    }

    /// Creates the schema the way the daemon does, so rows can be inserted before it starts.
    public func createSchema() throws {
        let result = try run(builtBinary(), ["migrate", "--database", database])
        guard result.status == 0 else { throw TestFailure("colt-orders migrate failed: \(result.stderr)") }
    }

    /// Inserts rows with the sqlite3 CLI, as an operator would (with a busy timeout).
    public func insert(_ rows: [(action: String, country: String, start: String, end: String?, profile: String?)]) throws {
        var sql = "BEGIN;\n"
        for row in rows {
            let end = row.end.map { "'\($0)'" } ?? "NULL"
            let profile = row.profile.map { "'\($0)'" } ?? "NULL"
            sql += "INSERT INTO requests (action, country, range_start, range_end, service_profile) VALUES ('\(row.action)', '\(row.country)', '\(row.start)', \(end), \(profile));\n"
        }
        sql += "COMMIT;"
        let result = try sqlite(sql)
        guard result.status == 0 else { throw TestFailure("insert failed: \(result.stderr)") }
    }

    /// The sqlite3 CLI on the harness's database, with a 5 s busy timeout as the README advises.
    public func sqlite(_ sql: String) throws -> ProcessResult {
        try run("/usr/bin/sqlite3", ["-bail", "-cmd", ".timeout 5000", database, sql])
    }

    /// Rows of a query, each split on `|`.
    public func rows(_ sql: String) throws -> [[String]] {
        let result = try sqlite(sql)
        guard result.status == 0 else { throw TestFailure("query failed: \(sql): \(result.stderr)") }
        return result.stdout.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    public func value(_ sql: String) throws -> String { try rows(sql).first?.first ?? "" }

    /// Runs `body`, then stops the harness whether `body` returned or threw: the sandbox, the
    /// TLS front and the files of a test never outlive it (a `defer { Task { ... } }` could).
    public func inScope<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }

    public func stop() async {
        await tlsFront?.stop()
        await sandbox.shutdown()
        if ProcessInfo.processInfo.environment["COLT_ORDERS_KEEP_TEST_FILES"] == nil { directory.remove() }
    }
}
