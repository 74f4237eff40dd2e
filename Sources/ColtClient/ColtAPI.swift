import ColtModel
import Foundation
import Logging

/// An OAuth bearer token for Colt's API. Its value never prints.
public struct BearerToken: Sendable, Equatable, CustomStringConvertible {
    /// The token itself; used only to build the `Authorization` header.
    let secret: Secret
    /// When the token was obtained.
    public var obtainedAt: ContinuousClock.Instant
    /// When Colt stops accepting it.
    public var expiresAt: ContinuousClock.Instant

    /// A token with the given value and lifetime (tests and tools; the client makes its own).
    public init(value: String, obtainedAt: ContinuousClock.Instant = .now, expiresAt: ContinuousClock.Instant) {
        self.secret = Secret(value)
        self.obtainedAt = obtainedAt
        self.expiresAt = expiresAt
    }

    /// When to fetch a new one: at 80 % of its life or 60 s before it expires, whichever is
    /// earlier, but never before half its life (so a very short-lived token is still reused).
    public var refreshAt: ContinuousClock.Instant {
        let life = expiresAt - obtainedAt
        let early = min(life * 0.8, life - .seconds(60))
        return obtainedAt + max(early, life / 2)
    }

    /// `BearerToken(<redacted>, expires at …)`: never the value.
    public var description: String { "BearerToken(<redacted>, \(expiresAt))" }
}

/// Why no token could be had.
public struct TokenError: Error, Sendable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: Sendable, Equatable {
        /// Colt refused our credentials or our token request (401, 403, other 4xx except 408 and
        /// 429): a configuration problem that retrying cannot fix.
        case credentialsRejected
        /// The token endpoint is unreachable, failing (5xx, 408, 429) or answered nonsense.
        case unavailable
    }

    /// The class of failure.
    public var kind: Kind
    /// One human line; never contains a secret.
    public var detail: String
    /// The wait `Retry-After` asked for, if any.
    public var retryAfter: Duration?

    /// A token error of the given parts.
    public init(kind: Kind, detail: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.detail = detail
        self.retryAfter = retryAfter
    }

    /// The detail.
    public var description: String { detail }
}

/// The Colt API: OAuth token, order submission, inventory reading.
public struct ColtAPI: Sendable {
    /// The configuration the API was made with.
    public let configuration: ColtClientConfiguration
    private let transport: CurlTransport
    private let logger: Logger

    /// An API client over `transport`.
    public init(configuration: ColtClientConfiguration, transport: CurlTransport, logger: Logger) {
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
    }

    /// The token endpoint's path.
    public static let tokenPath = "/authentication/v1/oauth/token"
    /// The inventory search endpoint's path.
    public static let numberPath = "/numberManagement/v1/Number"
    /// Token lifetimes outside this range are clamped into it.
    public static let tokenLifetimeRange = 30...86_400
    /// The lifetime assumed when the answer gives none (Colt's documented 30 minutes).
    public static let defaultTokenLifetime = 1800

    // MARK: Token

    /// Fetches a new token: `POST {base}/authentication/v1/oauth/token` with Basic auth
    /// (base64 `id:secret`), form body `grant_type=client_credentials`, a fresh random
    /// `x-tracking-id` and `Accept: application/json`. Reads `access_token` (required),
    /// `token_type` and `expires_in` (1800 when absent or invalid, clamped to 30...86400).
    public func fetchToken() async throws(TokenError) -> BearerToken {
        let basic = Data("\(configuration.clientID):\(configuration.clientSecret.value)".utf8).base64EncodedString()
        let trackingID = TrackingID.random()
        let request = makeRequest(
            method: "POST", path: Self.tokenPath,
            headers: [
                ("x-tracking-id", trackingID.text),
                ("Authorization", "Basic \(basic)"),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ],
            body: Array("grant_type=client_credentials".utf8))
        let started = ContinuousClock.now
        let exchange = await transport.perform(request)
        let secrets = [configuration.clientSecret.value, basic]
        do {
            let token = try Self.token(from: exchange, obtainedAt: started)
            logger.debug(
                "Colt token obtained",
                metadata: [
                    "tracking_id": "\(trackingID)", "expires_in_s": "\((token.expiresAt - token.obtainedAt).components.seconds)",
                ])
            return token
        } catch {
            let safe = TokenError(kind: error.kind, detail: Self.redact(error.detail, secrets), retryAfter: error.retryAfter)
            logger.debug(
                "Colt token request failed",
                metadata: ["tracking_id": "\(trackingID)", "error": "\(safe.detail)", "kind": "\(safe.kind)"])
            throw safe
        }
    }

    /// Reads a token answer (pure, for tests).
    static func token(from exchange: HTTPExchange, obtainedAt: ContinuousClock.Instant) throws(TokenError) -> BearerToken {
        let result = AttemptResult.classify(exchange)
        if let error = exchange.transportError, exchange.status == nil || error.kind != .tooLarge {
            throw TokenError(kind: .unavailable, detail: "token request failed: \(error.message)", retryAfter: nil)
        }
        guard let status = exchange.status else {
            throw TokenError(kind: .unavailable, detail: "token request: no HTTP status in the answer")
        }
        let words = result.coltError.map { ": " + $0.summary } ?? ""
        switch status {
        case 200...299:
            guard !exchange.bodyTruncated, let json = JSONValue.parse(exchange.body) else {
                throw TokenError(kind: .unavailable, detail: "token answer HTTP \(status) is not JSON")
            }
            guard case let .string(value)? = json["access_token"], !value.isEmpty,
                  value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                throw TokenError(kind: .unavailable, detail: "token answer HTTP \(status) without a usable access_token")
            }
            var lifetime = defaultTokenLifetime
            if let text = json["expires_in"]?.text, let seconds = Double(text), seconds.isFinite {
                lifetime = Int(min(max(seconds, Double(tokenLifetimeRange.lowerBound)), Double(tokenLifetimeRange.upperBound)))
            }
            return BearerToken(value: value, obtainedAt: obtainedAt, expiresAt: obtainedAt + .seconds(lifetime))
        case 408, 429:
            throw TokenError(kind: .unavailable, detail: "token request throttled: HTTP \(status)\(words)", retryAfter: result.retryAfter)
        case 400...499:
            throw TokenError(
                kind: .credentialsRejected, detail: "Colt refused the client credentials: HTTP \(status)\(words)",
                retryAfter: nil)
        default:
            throw TokenError(kind: .unavailable, detail: "token request failed: \(result.detail)", retryAfter: result.retryAfter)
        }
    }

    // MARK: Orders

    /// Submits one order: `POST {base}{action.path}` with `x-tracking-id`, `Authorization: Bearer`,
    /// `Content-Type: application/json`, `Accept: application/json`; the body is
    /// `request.jsonBody()`. Never throws: every failure is a classified ``AttemptResult``.
    public func submit(_ request: OrderRequest, trackingID: TrackingID, token: BearerToken) async -> AttemptResult {
        let http = makeRequest(
            method: "POST", path: request.action.path,
            headers: [
                ("x-tracking-id", trackingID.text),
                ("Authorization", "Bearer \(token.secret.value)"),
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body: Array(request.jsonBody()))
        let exchange = await transport.perform(http)
        var result = AttemptResult.classify(exchange)
        redact(&result, token: token)
        logger.debug(
            "Colt order attempt",
            metadata: [
                "tracking_id": "\(trackingID)", "outcome": "\(result.outcome.name)",
                "http_status": "\(result.httpStatus.map(String.init) ?? "-")", "detail": "\(result.detail)",
                "duration_ms": "\(result.duration.milliseconds)",
            ])
        return result
    }

    // MARK: Inventory

    /// Numbers asked for per page (TMF `limit`).
    public static let inventoryPageSize = 1000

    /// Reads what Colt's inventory shows for `range`: `GET {base}/numberManagement/v1/Number`
    /// with `numberRangeStart`/`numberRangeEnd` (or `orderID`, when given, to list the numbers
    /// of one order), `offset` and `limit`, following pages while the answer says there are more
    /// (`X-Total-Count`, a total in the body, or a full page), within a bound. Numbers outside
    /// `range` are ignored. Never throws: an answer that cannot be read is ``InventoryAnswer/couldNotTell(_:)``.
    public func readInventory(range: NumberRange, orderID: String? = nil, token: BearerToken) async -> InventoryAnswer {
        guard var inventory = RangeInventory(range: range) else {
            return .couldNotTell("the range holds more than \(RangeInventory.maxNumbers) numbers: too large to read number by number")
        }
        let selector = orderID.map { "orderID=\(Self.queryEncoded($0))" }
            ?? "numberRangeStart=\(Self.queryEncoded(range.start.text))&numberRangeEnd=\(Self.queryEncoded(range.end.text))"
        let limit = Self.inventoryPageSize
        // Every page must bring a new number (or the reading ends), and a server may page in
        // smaller steps than asked: at most one page per number, and never more than 2,000.
        let maxPages = min(inventory.count, 2000) + 2
        var offset = 0
        while true {
            let http = makeRequest(
                method: "GET", path: Self.numberPath + "?" + selector + "&offset=\(offset)&limit=\(limit)",
                headers: [
                    ("x-tracking-id", TrackingID.random().text),
                    ("Authorization", "Bearer \(token.secret.value)"),
                    ("Accept", "application/json"),
                ],
                body: nil)
            let exchange = await transport.perform(http)
            let page = inventory.pages + 1
            if let error = exchange.transportError {
                return .couldNotTell("inventory page \(page): " + Self.redact(error.message, [token.secret.value]))
            }
            if exchange.status == 401 { return .unauthorized }
            guard let status = exchange.status, (200...299).contains(status) else {
                let words = JSONValue.parse(exchange.body).flatMap(ColtErrorBody.parse).map { ": " + $0.summary } ?? ""
                return .couldNotTell("inventory page \(page): HTTP \(exchange.status.map(String.init) ?? "-")\(Self.redact(String(words.prefix(300)), [token.secret.value]))")
            }
            guard !exchange.bodyTruncated, let json = JSONValue.parse(exchange.body) else {
                return .couldNotTell("inventory page \(page): HTTP \(status) with a body that is not JSON\(exchange.bodyTruncated ? " (too large)" : "")")
            }
            guard let (items, listed, bodyTotal) = InventoryAnswerReader.page(json) else {
                return .couldNotTell("inventory page \(page): HTTP \(status), but no list of numbers could be read from the answer")
            }
            inventory.pages = page
            var added = 0
            for item in items where inventory.absorb(item) { added += 1 }
            offset += listed
            let total = exchange.header("x-total-count").flatMap { Int($0.trimmingASCIIWhitespace()) } ?? bodyTotal
            // With a total, read up to it; without one, while pages bring new numbers (a server
            // may page in smaller steps than asked). A page with nothing new ends the reading:
            // the answer ignores paging, or has run out.
            let more = total.map { offset < $0 } ?? true
            if !more || listed == 0 || added == 0 || inventory.answered == inventory.count { break }
            if page >= maxPages {
                return .couldNotTell("the inventory answer had more than \(maxPages) pages for \(inventory.count) numbers")
            }
        }
        if let contradiction = inventory.contradiction {
            return .couldNotTell("the inventory answer contradicts itself: \(contradiction)")
        }
        logger.debug("inventory read", metadata: ["range": "\(range)", "summary": "\(inventory.summary)"])
        return .read(inventory)
    }

    // MARK: Helpers

    private func makeRequest(method: String, path: String, headers: [(String, String)], body: [UInt8]?) -> HTTPRequest {
        HTTPRequest(
            method: method, url: configuration.baseURL + path,
            headers: headers.map { (name: $0.0, value: $0.1) } + [(name: "User-Agent", value: configuration.userAgent)],
            body: body, timeout: configuration.requestTimeout, connectTimeout: configuration.connectTimeout,
            caFile: configuration.caFile, maxResponseBytes: configuration.maxResponseBytes)
    }

    /// Percent-encodes everything but unreserved characters (so `+` becomes `%2B`).
    static func queryEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// Removes every secret the client holds from a result (a misbehaving server may echo them).
    private func redact(_ result: inout AttemptResult, token: BearerToken) {
        let secrets = [token.secret.value, configuration.clientSecret.value]
        result.detail = Self.redact(result.detail, secrets)
        result.responseBody = Self.redact(result.responseBody, secrets)
        if var error = result.coltError {
            error.code = error.code.map { Self.redact($0, secrets) }
            error.reason = error.reason.map { Self.redact($0, secrets) }
            error.message = error.message.map { Self.redact($0, secrets) }
            error.details = error.details.map { Self.redact($0, secrets) }
            result.coltError = error
        }
    }

    /// `text` with every occurrence of each (non-trivial) secret replaced by `<redacted>`.
    /// Compares bytes, not Foundation's CFString search (`CFStringFindWithOptionsAndLocale`): it
    /// runs on every answer's body and detail, and that search was a measured 2-3% of the
    /// daemon's CPU.
    static func redact(_ text: String, _ secrets: [String]) -> String {
        var bytes = Array(text.utf8)
        var changed = false
        for secret in secrets where secret.utf8.count >= 4 {
            let needle = Array(secret.utf8)
            guard bytes.count >= needle.count else { continue }
            var output: [UInt8] = []
            var index = 0
            var found = false
            while index < bytes.count {
                if bytes[index] == needle[0], index + needle.count <= bytes.count,
                   bytes[index..<(index + needle.count)].elementsEqual(needle) {
                    if !found { output.reserveCapacity(bytes.count); output.append(contentsOf: bytes[..<index]); found = true }
                    output.append(contentsOf: "<redacted>".utf8)
                    index += needle.count
                } else {
                    if found { output.append(bytes[index]) }
                    index += 1
                }
            }
            if found { bytes = output; changed = true }
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : text
    }
}
