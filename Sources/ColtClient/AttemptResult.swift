import ColtModel
import Foundation

/// How one order attempt ended, per docs/design.md "Outcomes".
public enum AttemptOutcome: Sendable, Equatable {
    /// A 2xx whose JSON carries `order.id`, a string that ``OrderIdentifier`` accepts.
    case accepted(orderID: String)
    /// A 4xx other than 401, 408 and 429: Colt refused the order for good.
    case rejected
    /// 401: the bearer token was refused.
    case unauthorized
    /// 429 or 408: not processed; retry after `Retry-After` or a backoff.
    case throttled
    /// 5xx: the outcome is unknown (an order may exist).
    case serverError
    /// Connection refused, DNS or TLS failure, connect timeout: certainly not processed.
    case notSent
    /// No complete answer in time after sending: the outcome is unknown.
    case timeout
    /// The connection broke after sending: the outcome is unknown.
    case connectionLost
    /// A 2xx without a usable order id, an unparseable or oversized answer, a 1xx or 3xx:
    /// the outcome is unknown.
    case badResponse
    /// The daemon stopped before the answer came (its shutdown grace ran out): the outcome is
    /// unknown. Never the classification of an exchange; the engine sets it.
    case interrupted

    /// Stable snake_case text for the journal: `accepted`, `rejected`, `unauthorized`, `throttled`,
    /// `server_error`, `not_sent`, `timeout`, `connection_lost`, `bad_response`, `interrupted`.
    public var name: String {
        switch self {
        case .accepted: "accepted"
        case .rejected: "rejected"
        case .unauthorized: "unauthorized"
        case .throttled: "throttled"
        case .serverError: "server_error"
        case .notSent: "not_sent"
        case .timeout: "timeout"
        case .connectionLost: "connection_lost"
        case .badResponse: "bad_response"
        case .interrupted: "interrupted"
        }
    }

    /// Whether Colt may have created an order although we do not know its id:
    /// true for `serverError`, `timeout`, `connectionLost`, `badResponse` and `interrupted`.
    public var mayHaveCreatedOrder: Bool {
        switch self {
        case .serverError, .timeout, .connectionLost, .badResponse, .interrupted: true
        case .accepted, .rejected, .unauthorized, .throttled, .notSent: false
        }
    }
}

/// Colt's error body: `code` (e.g. "005"), `reason`, `message`, sometimes `details`.
public struct ColtErrorBody: Sendable, Equatable {
    /// Colt's three-digit code, e.g. `005`.
    public var code: String?
    /// A short reason, e.g. `Invalid parameter`.
    public var reason: String?
    /// The human message.
    public var message: String?
    /// Extra details; a JSON object or array is kept as compact JSON text.
    public var details: String?

    /// An error body of the given parts.
    public init(code: String? = nil, reason: String? = nil, message: String? = nil, details: String? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// Finds Colt's error fields in a JSON body: at the top level, or in an `error` /
    /// `errors[0]` / `fault` member. `nil` when there are none.
    static func parse(_ json: JSONValue) -> ColtErrorBody? {
        var candidates = [json]
        for key in ["error", "fault"] { if let inner = json[key] { candidates.append(inner) } }
        if case let .array(items)? = json["errors"], let first = items.first { candidates.append(first) }
        if case let .array(items) = json, let first = items.first { candidates.append(first) }
        for candidate in candidates {
            guard case .object = candidate else { continue }
            let body = ColtErrorBody(
                code: field(candidate, "code"), reason: field(candidate, "reason"),
                message: field(candidate, "message"), details: field(candidate, "details"))
            if body != ColtErrorBody() { return body }
        }
        return nil
    }

    private static func field(_ json: JSONValue, _ key: String) -> String? {
        guard let value = json[key] else { return nil }
        let text: String
        switch value {
        case .null: return nil
        case let .string(s): text = s
        case let .number(n): text = n
        case let .bool(b): text = b ? "true" : "false"
        case .array, .object: text = value.compactText
        }
        return text.isEmpty ? nil : String(text.prefix(1000))
    }

    /// `005 Invalid parameter: numberRangeStart ...`, from what is present.
    var summary: String {
        let head = [code, reason].compactMap(\.self).joined(separator: " ")
        let tail = [message, details].compactMap(\.self).joined(separator: "; ")
        if head.isEmpty { return tail }
        return tail.isEmpty ? head : "\(head): \(tail)"
    }
}

/// What came back from one order attempt, already classified per docs/design.md "Outcomes".
public struct AttemptResult: Sendable {
    /// The class of the outcome.
    public var outcome: AttemptOutcome
    /// The HTTP status, when a status line arrived.
    public var httpStatus: Int?
    /// Colt's error fields, when the body carried them.
    public var coltError: ColtErrorBody?
    /// The wait `Retry-After` asked for, relative to the time of classification; `nil` when absent
    /// or invalid; `.zero` for a date in the past.
    public var retryAfter: Duration?
    /// For the journal: at most 4096 bytes of the body (invalid UTF-8 replaced), with a
    /// `…[truncated, N bytes]` marker when cut.
    public var responseBody: String
    /// One human line for logs and `last_error`; never contains a secret.
    public var detail: String
    /// How many times the request went out (see ``HTTPExchange/sends``); more than one means
    /// an earlier copy may have been processed, whatever this answer says.
    public var sends = 1
    /// How long the exchange took.
    public var duration: Duration

    /// Whether this attempt may have created an order although no order id came back: its
    /// outcome is unknown (``AttemptOutcome/mayHaveCreatedOrder``), or libcurl sent the request
    /// more than once (an earlier copy may have been processed, whatever this answer says).
    public var mayHaveCreatedOrder: Bool { outcome.mayHaveCreatedOrder || sends > 1 }

    /// A result of the given parts.
    public init(
        outcome: AttemptOutcome, httpStatus: Int? = nil, coltError: ColtErrorBody? = nil, retryAfter: Duration? = nil,
        responseBody: String = "", detail: String, duration: Duration = .zero
    ) {
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.coltError = coltError
        self.retryAfter = retryAfter
        self.responseBody = responseBody
        self.detail = detail
        self.duration = duration
    }

    /// The most bytes of a body kept in ``responseBody``.
    public static let journalBodyLimit = 4096

    /// Pure classification of one exchange. Total: any bytes, status and headers give a result.
    public static func classify(_ exchange: HTTPExchange) -> AttemptResult {
        classify(exchange, now: Date().timeIntervalSince1970)
    }

    /// Classification with an explicit "now" (seconds since 1970) for `Retry-After` dates.
    static func classify(_ exchange: HTTPExchange, now: Double) -> AttemptResult {
        var result = classifyUnclipped(exchange, now: now)
        result.detail = clip(result.detail, 600)
        result.sends = exchange.sends
        if exchange.sends > 1 {
            result.detail += " (libcurl sent this request \(exchange.sends) times: a reused connection had closed before any answer)"
        }
        return result
    }

    private static func classifyUnclipped(_ exchange: HTTPExchange, now: Double) -> AttemptResult {
        let journal = journalText(exchange.body, truncated: exchange.bodyTruncated)
        let retryAfter = exchange.header("retry-after").flatMap { RetryAfter.parse($0, now: now) }
        var result = AttemptResult(
            outcome: .badResponse, httpStatus: exchange.status, retryAfter: retryAfter, responseBody: journal,
            detail: "", duration: exchange.duration)

        let json = exchange.bodyTruncated ? nil : JSONValue.parse(exchange.body)
        if let json { result.coltError = ColtErrorBody.parse(json) }

        // A transport failure decides the outcome, except that a status alone is enough for
        // answers that are not final anyway (401, 408, 429, 5xx).
        if let error = exchange.transportError {
            if let status = exchange.status, error.kind == .tooLarge || error.kind == .connectionLost {
                switch status {
                case 401:
                    result.outcome = .unauthorized
                case 408, 429:
                    result.outcome = .throttled
                case 500...599:
                    result.outcome = .serverError
                default:
                    result.outcome = error.kind == .tooLarge ? .badResponse : .connectionLost
                }
                result.detail = "HTTP \(status) from Colt, then \(error.message)"
                return result
            }
            switch error.kind {
            case .notSent, .tls: result.outcome = .notSent
            case .timeout: result.outcome = .timeout
            case .connectionLost: result.outcome = .connectionLost
            case .tooLarge: result.outcome = .badResponse
            case .cancelled: result.outcome = error.requestMayHaveBeenSent ? .connectionLost : .notSent
            }
            result.detail = error.message
            return result
        }

        guard let status = exchange.status else {
            result.outcome = .badResponse
            result.detail = "no HTTP status in the answer"
            return result
        }
        let prefix = "HTTP \(status) from Colt"
        // Only for the answers that are not an order: the snippet reads every character.
        var words: String { result.coltError.map { ": " + $0.summary } ?? snippet(exchange.body) }
        switch status {
        case 200...299:
            guard let json else {
                result.outcome = .badResponse
                result.detail = "HTTP \(status) with a body that is not JSON" + snippet(exchange.body)
                return result
            }
            guard let orderID = orderID(in: json) else {
                result.outcome = .badResponse
                result.detail = json["order"]?["id"] == nil
                    ? "HTTP \(status) without an order id"
                    : "HTTP \(status) with an order id that is not 1 to \(OrderIdentifier.maxLength) printable characters in a string"
                return result
            }
            result.outcome = .accepted(orderID: orderID)
            result.detail = "HTTP \(status) from Colt: order \(orderID)"
        case 401:
            result.outcome = .unauthorized
            result.detail = prefix + words
        case 408, 429:
            result.outcome = .throttled
            result.detail = prefix + words + (retryAfter.map { " (retry after \($0.humanSeconds))" } ?? "")
        case 400...499:
            result.outcome = .rejected
            result.detail = prefix + words
        case 500...599:
            result.outcome = .serverError
            result.detail = prefix + words + (retryAfter.map { " (retry after \($0.humanSeconds))" } ?? "")
        case 300...399:
            result.outcome = .badResponse
            result.detail = "HTTP \(status) redirect from Colt (not followed)"
                + (exchange.header("location").map { " to \(clip($0, 200))" } ?? "")
        default:
            result.outcome = .badResponse
            result.detail = "unexpected HTTP status \(status) from Colt"
        }
        return result
    }

    /// `order.id`, when it is a string that ``OrderIdentifier`` accepts.
    static func orderID(in json: JSONValue) -> String? {
        guard case let .string(id)? = json["order"]?["id"] else { return nil }
        return OrderIdentifier.validated(id)
    }

    /// The body for the journal: at most 4096 bytes, invalid UTF-8 replaced, a marker when cut.
    static func journalText(_ body: [UInt8], truncated: Bool) -> String {
        if body.count <= journalBodyLimit && !truncated { return String(decoding: body, as: UTF8.self) }
        var end = min(body.count, journalBodyLimit)
        if end < body.count, end > 0 {
            // Do not cut a UTF-8 sequence in two: end before its lead byte.
            var i = end - 1
            var continuation = 0
            while i > 0, continuation < 3, body[i] & 0xC0 == 0x80 {
                i -= 1
                continuation += 1
            }
            let lead = body[i]
            let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
            if i + length > end { end = i }
        }
        let size = truncated ? "more than \(body.count)" : "\(body.count)"
        return String(decoding: body[..<end], as: UTF8.self) + "…[truncated, \(size) bytes]"
    }

    /// `: <first 200 characters of the body on one line>`, or "" for an empty body.
    private static func snippet(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(600), as: UTF8.self)
        let line = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return line.isEmpty ? "" : ": " + clip(line, 200)
    }

    private static func clip(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit)) + "…"
    }
}
