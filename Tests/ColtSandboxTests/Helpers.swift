import ColtSandbox
import Foundation
import Logging
import Testing

/// The answer curl got.
struct CurlResult: Sendable {
    /// curl's exit code (0 = a complete HTTP exchange; 28 = timeout; 52 = empty reply; 60 = TLS verification).
    var exitCode: Int32
    /// HTTP status (0 when there was no response).
    var status: Int
    /// Response headers of the last response, names lower-cased.
    var headers: [String: String]
    var body: Data
    var stderr: String

    var text: String { String(decoding: self.body, as: UTF8.self) }

    /// The body as a JSON object, if it is one.
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: self.body)) as? [String: Any]
    }

    /// The Colt error `code`, if the body is a Colt-shaped error.
    var coltCode: String? { self.json?["code"] as? String }

    /// Whether the body has the Colt error shape: string code (3 digits), reason, message.
    var isColtError: Bool {
        guard let json, let code = json["code"] as? String, code.count == 3, code.allSatisfy(\.isNumber),
              let reason = json["reason"] as? String, !reason.isEmpty,
              let message = json["message"] as? String, !message.isEmpty else { return false }
        return true
    }

    var message: String { self.json?["message"] as? String ?? "" }

    /// `order.id` of a success body.
    var orderID: String? { (self.json?["order"] as? [String: Any])?["id"] as? String }
}

/// Runs /usr/bin/curl without blocking a Swift concurrency thread.
func curl(_ arguments: [String], maxTime: Double = 10) async throws -> CurlResult {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-curl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let bodyFile = dir.appendingPathComponent("body")
    let headerFile = dir.appendingPathComponent("headers")
    let outFile = dir.appendingPathComponent("out")
    let errFile = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s", "-S", "--max-time", String(maxTime), "-o", bodyFile.path, "-D", headerFile.path,
                         "-w", "%{http_code}"] + arguments
    process.standardOutput = try FileHandle(forWritingTo: outFile)
    process.standardError = try FileHandle(forWritingTo: errFile)
    let exitCode = try await run(process)

    let statusText = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
    let headerText = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
    var headers: [String: String] = [:]
    for line in headerText.components(separatedBy: "\r\n") {
        if line.hasPrefix("HTTP/") { headers = [:]; continue }
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return CurlResult(
        exitCode: exitCode,
        status: Int(statusText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
        headers: headers,
        body: (try? Data(contentsOf: bodyFile)) ?? Data(),
        stderr: (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
    )
}

/// Runs a process to completion, waiting asynchronously; returns its exit status.
func run(_ process: Process) async throws -> Int32 {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
        process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

/// A logger that drops everything (tests stay quiet).
let quietLogger: Logger = {
    var logger = Logger(label: "colt-sandbox-tests", factory: { _ in SwiftLogNoOpLogHandler() })
    logger.logLevel = .critical
    return logger
}()

/// Starts a sandbox, runs `body`, and always shuts it down.
func withSandbox<T>(
    _ configure: (inout SandboxConfiguration) -> Void = { _ in },
    _ body: (ColtSandbox) async throws -> T
) async throws -> T {
    var configuration = SandboxConfiguration()
    configure(&configuration)
    let sandbox = try await ColtSandbox.start(configuration, logger: quietLogger)
    do {
        let result = try await body(sandbox)
        await sandbox.shutdown()
        return result
    } catch {
        await sandbox.shutdown()
        throw error
    }
}

let tokenPath = "/authentication/v1/oauth/token"
let returnPath = "/numberManagement/v1/return/order"
let reactivatePath = "/numberManagement/v1/reactivate/order"
let numberPath = "/numberManagement/v1/Number"

/// A fresh tracking id.
func newTrackingID() -> String { "test-" + UUID().uuidString.lowercased() }

/// Asks the token endpoint, with sensible defaults for every part.
func tokenRequest(
    _ sandbox: ColtSandbox,
    trackingID: String? = newTrackingID(),
    credentials: String? = "sandbox-client:sandbox-secret",
    authorization: String? = nil,
    contentType: String? = "application/x-www-form-urlencoded",
    body: String = "grant_type=client_credentials",
    extra: [String] = []
) async throws -> CurlResult {
    var args = ["-X", "POST", sandbox.baseURL + tokenPath, "--data-binary", body]
    if let trackingID { args += ["-H", "x-tracking-id: \(trackingID)"] }
    if let credentials { args += ["-u", credentials] }
    if let authorization { args += ["-H", "Authorization: \(authorization)"] }
    args += ["-H", contentType.map { "Content-Type: \($0)" } ?? "Content-Type:"]
    return try await curl(args + extra)
}

/// A valid access token.
func accessToken(_ sandbox: ColtSandbox, extra: [String] = []) async throws -> String {
    let result = try await tokenRequest(sandbox, extra: extra)
    #expect(result.status == 200, "token request failed: \(result.status) \(result.text)")
    return try #require(result.json?["access_token"] as? String)
}

/// An order body in the spec's shape.
func orderBody(_ ranges: [(String, String)], country: String, serviceProfile: String? = nil) -> String {
    let list = ranges.map { #"{"numberRangeStart":"\#($0.0)","numberRangeEnd":"\#($0.1)"}"# }.joined(separator: ",")
    let profile = serviceProfile.map { #""serviceProfile":"\#($0)","# } ?? ""
    return #"{"numberRangeList":[\#(list)],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{\#(profile)"country":"\#(country)"}}}"#
}

/// A one-number order body.
func orderBody(_ number: String, country: String, serviceProfile: String? = nil) -> String {
    orderBody([(number, number)], country: country, serviceProfile: serviceProfile)
}

/// POSTs an order body.
func postOrder(
    _ sandbox: ColtSandbox,
    path: String = returnPath,
    body: String,
    token: String?,
    trackingID: String? = newTrackingID(),
    contentType: String? = "application/json",
    extra: [String] = [],
    maxTime: Double = 10
) async throws -> CurlResult {
    var args = ["-X", "POST", sandbox.baseURL + path, "--data-binary", body]
    if let token { args += ["-H", "Authorization: Bearer \(token)"] }
    if let trackingID { args += ["-H", "x-tracking-id: \(trackingID)"] }
    args += ["-H", contentType.map { "Content-Type: \($0)" } ?? "Content-Type:"]
    return try await curl(args + extra, maxTime: maxTime)
}

/// GETs a sandbox path (no authentication).
func get(_ sandbox: ColtSandbox, _ pathAndQuery: String, token: String? = nil) async throws -> CurlResult {
    var args = [sandbox.baseURL + pathAndQuery]
    if let token { args += ["-H", "Authorization: Bearer \(token)"] }
    return try await curl(args)
}

/// Whether `id` looks like `ORD-` and eight digits.
func isOrderID(_ id: String?) -> Bool {
    guard let id, id.hasPrefix("ORD-") else { return false }
    let digits = id.dropFirst(4)
    return digits.count == 8 && digits.allSatisfy(\.isNumber)
}
