import ColtSandbox
import Foundation
import Logging
import Synchronization
import Testing

@Suite("Start, stop, HTTPS, concurrency, logging")
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

    @Test("HTTPS with a throwaway CA: verified with --cacert, refused without")
    func https() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
            set -e
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=colt-sandbox test CA"
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        #expect(try await run(process) == 0)

        try await withSandbox({
            $0.tls = TLSFiles(certificateChain: dir.appendingPathComponent("server.pem").path,
                              privateKey: dir.appendingPathComponent("server.key").path)
        }) { sandbox in
            #expect(sandbox.baseURL.hasPrefix("https://127.0.0.1:"))
            let verified = try await tokenRequest(sandbox, extra: ["--cacert", dir.appendingPathComponent("ca.pem").path])
            #expect(verified.status == 200, "\(verified.exitCode) \(verified.stderr)")
            let token = try #require(verified.json?["access_token"] as? String)
            let order = try await postOrder(sandbox, body: orderBody("+442081324758", country: "GB"), token: token,
                                            extra: ["--cacert", dir.appendingPathComponent("ca.pem").path])
            #expect(order.status == 201)
            let unverified = try await tokenRequest(sandbox)
            #expect(unverified.exitCode == 60, "curl exit \(unverified.exitCode)")   // peer certificate cannot be authenticated
            #expect(unverified.status == 0)
            // Plain HTTP to the TLS port gets no HTTP answer.
            let plain = try await curl([sandbox.baseURL.replacingOccurrences(of: "https:", with: "http:") + "/_sandbox/stats"], maxTime: 3)
            #expect(plain.status != 200)
        }
        // Missing files fail the start.
        var broken = SandboxConfiguration()
        broken.tls = TLSFiles(certificateChain: dir.appendingPathComponent("nope.pem").path, privateKey: "/nonexistent")
        await #expect(throws: (any Error).self) { _ = try await ColtSandbox.start(broken, logger: quietLogger) }
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
