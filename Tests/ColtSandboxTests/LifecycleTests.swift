import ColtSandbox
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

@Suite("Start, stop, HTTPS front, concurrency, logging")
struct LifecycleTests {
    @Test("start and shutdown repeat cleanly; the port is freed and can be bound again")
    func restart() async throws {
        var lastPort = 0
        for _ in 0..<8 {
            let sandbox = try await ColtSandbox.start(SandboxConfiguration(), logger: quietLogger)
            #expect(sandbox.baseURL == "http://127.0.0.1:\(sandbox.port)")
            #expect(try await tokenRequest(sandbox).status == 200)
            lastPort = sandbox.port
            await sandbox.shutdown()
            await sandbox.shutdown()   // harmless
        }
        // Same port again, with state starting afresh.
        var configuration = SandboxConfiguration()
        configuration.port = lastPort
        let again = try await ColtSandbox.start(configuration, logger: quietLogger)
        #expect(again.port == lastPort)
        #expect(await again.requestCount(path: tokenPath) == 0)
        // A second sandbox on a port in use fails to start instead of hanging.
        await #expect(throws: (any Error).self) {
            let clash = try await ColtSandbox.start(configuration, logger: quietLogger)
            await clash.shutdown()
        }
        await again.shutdown()
        let refused = try await curl(["http://127.0.0.1:\(lastPort)/_sandbox/stats"], maxTime: 2)
        #expect(refused.exitCode == 7, "curl exit \(refused.exitCode)")   // connection refused
    }

    @Test("the tests' HTTPS front: verified with the private CA, refused without it, no HTTP answer to plain HTTP")
    func httpsFront() async throws {
        let directory = try TemporaryDirectory("sandbox-tls")
        defer { directory.remove() }
        let certificates = try TestCertificates(in: directory)
        try await withSandbox({ _ in }) { sandbox in
            let front = try await TLSFront.start(certificates, upstreamPort: sandbox.port, directory: directory)
            #expect(front.baseURL.hasPrefix("https://127.0.0.1:"))
            let token = ["-X", "POST", front.baseURL + tokenPath, "--data-binary", "grant_type=client_credentials",
                         "-u", "sandbox-client:sandbox-secret", "-H", "x-tracking-id: \(newTrackingID())",
                         "-H", "Content-Type: application/x-www-form-urlencoded"]
            let verified = try await curl(token + ["--cacert", certificates.ca])
            #expect(verified.status == 200, "\(verified.exitCode) \(verified.stderr)")
            #expect(verified.json?["access_token"] is String)
            // Twenty requests at once all pass through.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await curl(token + ["--cacert", certificates.ca]).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 20))
            let unverified = try await curl(token)
            #expect(unverified.exitCode == 60, "curl exit \(unverified.exitCode)")   // peer certificate cannot be authenticated
            #expect(unverified.status == 0)
            let plain = try await curl([front.baseURL.replacingOccurrences(of: "https:", with: "http:") + "/_sandbox/stats"], maxTime: 3)
            #expect(plain.status != 200)
            #expect(await sandbox.requestCount(path: tokenPath) == 21, "only the verified requests reached the sandbox")
            await front.stop()
        }
    }

    @Test("concurrent orders: distinct numbers all succeed; one number gets exactly one order")
    func concurrency() async throws {
        let inventory = InventoryNumber.generated(count: 64, seed: 3)
        try await withSandbox({ $0.inventory = inventory; $0.trackingIDMode = .ignore }) { sandbox in
            let token = try await accessToken(sandbox)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for row in inventory.prefix(48) {
                    group.addTask { try await postOrder(sandbox, body: orderBody(row.number, country: "GB"), token: token).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count == 48)
            #expect(statuses.allSatisfy { $0 == 201 })
            let target = inventory[60].number
            let race = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await postOrder(sandbox, body: orderBody(target, country: "GB"), token: token).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(race.filter { $0 == 201 }.count == 1)
            #expect(race.filter { $0 == 409 }.count == 11)
            let stats = await sandbox.stats()
            #expect(stats.orders == 49)
            #expect(stats.duplicateOrders == 0)
            #expect(stats.inProgressRefusals == 11)
            #expect(Set(await sandbox.orders().map(\.id)).count == 49)
        }
    }

    @Test("one log line per request with method, path, tracking id and status; never the secret or a token")
    func logging() async throws {
        let lines = LogCapture()
        var logger = Logger(label: "capture") { _ in CapturingLogHandler(capture: lines) }
        logger.logLevel = .info
        var configuration = SandboxConfiguration()
        configuration.clientSecret = "very-secret-value"
        let sandbox = try await ColtSandbox.start(configuration, logger: logger)
        let tokenResult = try await tokenRequest(sandbox, trackingID: "log-token-1", credentials: "sandbox-client:very-secret-value")
        let token = try #require(tokenResult.json?["access_token"] as? String)
        _ = try await postOrder(sandbox, body: orderBody("+442081324758", country: "GB"), token: token, trackingID: "log-order-1")
        await sandbox.shutdown()
        let all = lines.lines
        #expect(all.contains { $0.contains("POST /authentication/v1/oauth/token") && $0.contains("log-token-1") && $0.contains("status=200") })
        #expect(all.contains { $0.contains("POST /numberManagement/v1/return/order") && $0.contains("log-order-1") && $0.contains("status=201") })
        #expect(all.filter { $0.contains("log-order-1") }.count == 1)
        #expect(!all.contains { $0.contains("very-secret-value") || $0.contains(token) || $0.contains(String(token.prefix(20))) })
    }
}

final class LogCapture: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { self.storage.withLock { $0.append(line) } }
    var lines: [String] { self.storage.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        self.capture.append("\(event.level) \(event.message) \(event.metadata ?? [:]) \(self.metadata)")
    }
}
