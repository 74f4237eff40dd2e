import ColtClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// Who may use the status endpoint: the users of a credentials file, one `name:password` per
/// line (`#` comments and blank lines ignored), read once at start-up. Under systemd the file is
/// a `LoadCredential=` credential, which only the service can read.
///
/// Clients authenticate with HTTP Basic (browsers ask for it; `curl -u`; Prometheus's
/// `basic_auth`). The endpoint speaks plain HTTP: off a trusted network, put it behind a TLS
/// proxy or an SSH tunnel.
public struct StatusCredentials: Sendable, Equatable {
    /// The shortest password accepted.
    public static let minimumPasswordLength = 12

    private let users: [(name: String, password: [UInt8])]

    public static func == (a: StatusCredentials, b: StatusCredentials) -> Bool {
        a.users.count == b.users.count && zip(a.users, b.users).allSatisfy { $0.name == $1.name && $0.password == $1.password }
    }

    /// The names of the users, for logs.
    public var userNames: [String] { users.map(\.name) }

    /// Reads and checks `path`.
    ///
    /// - Throws: ``StatusCredentialsError`` naming the file and the line that is wrong.
    public init(path: String) throws(StatusCredentialsError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw StatusCredentialsError("\(path): cannot be read (\(error.localizedDescription)); it must hold one name:password per line")
        }
        try self.init(text: text, origin: path)
    }

    /// Parses the credentials file's text; `origin` names it in errors.
    public init(text: String, origin: String) throws(StatusCredentialsError) {
        var users: [(String, [UInt8])] = []
        // Lines end with LF or CRLF (Swift reads CRLF as one character, which is a newline).
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.first == "#" { continue }
            let place = "\(origin) line \(index + 1)"
            guard let colon = line.firstIndex(of: ":") else {
                throw StatusCredentialsError("\(place): must be name:password (no colon found)")
            }
            let name = String(line[..<colon]), password = Array(line[line.index(after: colon)...].utf8)
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) }) else {
                throw StatusCredentialsError("\(place): the user name must be letters, digits, . _ - or @")
            }
            guard password.count >= Self.minimumPasswordLength else {
                throw StatusCredentialsError("\(place): the password of \(name) is shorter than \(Self.minimumPasswordLength) characters")
            }
            // A space or tab at either end is almost always a slip that no one would type at a prompt.
            guard let first = password.first, let last = password.last, ![UInt8(ascii: " "), UInt8(ascii: "\t")].contains(first),
                  ![UInt8(ascii: " "), UInt8(ascii: "\t")].contains(last)
            else {
                throw StatusCredentialsError("\(place): the password of \(name) begins or ends with a space or tab; remove it (or put it inside the password)")
            }
            guard !users.contains(where: { $0.0 == name }) else {
                throw StatusCredentialsError("\(place): user \(name) is listed twice")
            }
            users.append((name, password))
        }
        guard !users.isEmpty else { throw StatusCredentialsError("\(origin): holds no user; write one name:password per line") }
        self.users = users
    }

    /// The user an `Authorization: Basic ...` header names, when its password is right.
    /// Every user's password is compared in full, so the time taken does not say which was close.
    public func user(authorization: String?) -> String? {
        guard let authorization, authorization.count > 6, authorization.prefix(6).lowercased() == "basic ",
              let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
        else { return nil }
        // Names and passwords are compared as bytes, never as Unicode-equivalent strings.
        let name = Array(decoded[..<colon])
        let password = Array(decoded[decoded.index(after: colon)...])
        var found: String?
        for user in users {
            let same = constantTimeEqual(user.password, password)
            if same, Array(user.name.utf8) == name { found = user.name }
        }
        return found
    }
}

/// Counts failed sign-ins and says when one should be logged: the first, then at most one
/// every 10 s, carrying how many failed since the last line.
final class FailureLog: Sendable {
    private let state = Mutex<(unlogged: Int, lastLine: ContinuousClock.Instant?)>((0, nil))

    /// Records a failure; returns the count to log, or `nil` when this one is not logged.
    func record(now: ContinuousClock.Instant) -> Int? {
        state.withLock { state in
            state.unlogged += 1
            if let last = state.lastLine, now - last < .seconds(10) { return nil }
            defer { state = (0, now) }
            return state.unlogged
        }
    }
}

/// Why a credentials file was refused.
public struct StatusCredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
        difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
    }
    return difference == 0
}

/// Asks for HTTP Basic credentials on every request when a credentials file is configured.
///
/// A wrong name or password is answered after ``wrongPasswordDelay``, so that guessing goes at
/// most ``StatusServer/maxConnections`` tries a second, and logged at most once every 10 s with
/// the count since the last line, so that guessing cannot flood the journal either.
struct BasicAuthentication<Context: RequestContext>: RouterMiddleware {
    static var wrongPasswordDelay: Duration { .seconds(1) }

    let credentials: StatusCredentials
    let logger: Logger
    let failures: FailureLog

    init(credentials: StatusCredentials, logger: Logger) {
        self.credentials = credentials
        self.logger = logger
        failures = FailureLog()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if credentials.user(authorization: request.headers[.authorization]) != nil {
            return try await next(request, context)
        }
        if request.headers[.authorization] != nil {
            if let count = failures.record(now: .now) {
                logger.warning("status endpoint: wrong user name or password", metadata: [
                    "path": "\(request.uri.path)", "failures_since_last_line": "\(count)",
                ])
            }
            try await Task.sleep(for: Self.wrongPasswordDelay)
        }
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Basic realm="colt-orders", charset="UTF-8""#
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .unauthorized, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: "colt-orders: sign in with a user of the status credentials file (status.auth_file)\n")))
    }
}

/// Without authentication, answers only requests addressed to a loopback name (`Host:
/// 127.0.0.1:9464`, `localhost`, `[::1]`): a web page of another site that rebinds its own name
/// to 127.0.0.1 (DNS rebinding) sends its own name as the Host, and is refused.
struct LoopbackHostOnly<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, !Self.isLoopback(authority: authority) else {
            return try await next(request, context)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .misdirectedRequest, headers: headers, body: .init(byteBuffer: ByteBuffer(
            string: "colt-orders: this endpoint answers only requests to a loopback address (Host: 127.0.0.1, localhost or [::1]); to reach it by another name, set status.auth_file\n")))
    }

    /// Whether `host[:port]` names a loopback address.
    static func isLoopback(authority: String) -> Bool {
        var host = Substring(authority)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = host[...close]
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            host = host[..<colon]
        }
        return LoopbackHost.isLoopback(String(host))
    }
}

/// The headers every answer carries: no caching, no sniffing, no framing, and a
/// Content-Security-Policy that lets a page load only its own stylesheet (no script at all).
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.frameOptions] = "DENY"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// The token every action form carries: random, made at start-up, never in a cookie, so a page
/// of another site (which cannot read ours) cannot forge an action even when the browser sends
/// our credentials along with its request.
struct CSRFToken: Sendable {
    let value: String

    init() {
        var generator = SystemRandomNumberGenerator()
        value = (0..<4).map { _ in
            let word = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - word.count) + word
        }.joined()
    }

    /// Whether a form's `csrf` field is this token.
    func matches(_ candidate: String?) -> Bool {
        guard let candidate else { return false }
        return constantTimeEqual(Array(candidate.utf8), Array(value.utf8))
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let frameOptions = HTTPField.Name("X-Frame-Options")!
    static let fetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
