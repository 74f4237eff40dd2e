import Foundation
import HTTPTypes
import Hummingbird
import Logging

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
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
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
        let name = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = Array(decoded[decoded.index(after: colon)...])
        var found: String?
        for user in users {
            let same = constantTimeEqual(user.password, password)
            if same, user.name == name { found = user.name }
        }
        return found
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
struct BasicAuthentication<Context: RequestContext>: RouterMiddleware {
    let credentials: StatusCredentials
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if credentials.user(authorization: request.headers[.authorization]) != nil {
            return try await next(request, context)
        }
        if request.headers[.authorization] != nil {
            logger.warning("status endpoint: wrong user name or password", metadata: ["path": "\(request.uri.path)"])
        }
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = #"Basic realm="colt-orders", charset="UTF-8""#
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .unauthorized, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: "colt-orders: sign in with a user of the status credentials file (status.auth_file)\n")))
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
