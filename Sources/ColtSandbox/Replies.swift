import Foundation
import NIOCore

/// The Colt-shaped error body every sandbox error carries:
/// `{"code":"005","reason":"Invalid parameter","message":"...","details":...}`.
///
/// Codes the sandbox uses (status / code: meaning):
///
/// | status | code | when |
/// |---|---|---|
/// | 400 | 001 | token: no `Authorization` header |
/// | 400 | 002 | token: no `grant_type` in the form body |
/// | 415 | 003 | wrong `Content-Type` (token: form-urlencoded; orders: `application/json`) |
/// | 400 | 004 | `x-tracking-id` missing or not matching `^[a-zA-Z0-9_.~:@-]{1,255}$` |
/// | 400 | 005 | invalid parameter: a body/query field missing, of the wrong type, or out of its pattern (`details` lists every problem) |
/// | 400 | 006 | token: `grant_type` other than `client_credentials` |
/// | 400 | 007 | body is not valid JSON (or not a JSON object) |
/// | 400 | 008 | `relatedParty.reseller.serviceProfile` absent but the customer has several profiles in that country |
/// | 401 | 001 | token: wrong client id or secret; orders/Number: no `Bearer` token |
/// | 401 | 002 | token: an authentication method other than HTTP Basic; orders/Number: unknown or expired token |
/// | 404 | 010 | a number (or an order id) not in the customer's inventory |
/// | 400 | 011 | a number owned under another country or service profile |
/// | 400 | 012 | a number whose status the action does not accept (`details` names number and status) |
/// | 409 | 013 | a number that already has an order `In progress` (`details` names the order) |
/// | 404 | 404 | unknown path |
/// | 405 | 405 | wrong method for the path |
/// | 413 | 005 | request body over 1 MiB |
/// | any | 001 | injected `status` fault (or the rule's `code`) |
struct ColtErrorBody: Codable, Sendable {
    var code: String
    var reason: String
    var message: String
    var details: JSONValue?
}

/// A fully formed answer, produced inside the state actor and written by the responder.
struct SandboxReply: Sendable {
    /// What to do with the connection.
    enum Disposition: Sendable { case respond, hang, drop }

    var status: Int
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var disposition: Disposition = .respond
    /// Fault that shaped the answer, for the log line.
    var fault: FaultRule.Kind?
    /// When to write the answer (the end of an injected latency); nil: at once.
    var answerAt: NIODeadline?

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func json(_ status: Int, _ value: some Encodable, headers: [String: String] = [:]) -> SandboxReply {
        let data = (try? Self.encoder.encode(value)) ?? Data("{}".utf8)
        var headers = headers
        headers["Content-Type"] = "application/json"
        return SandboxReply(status: status, headers: headers, body: Array(data))
    }

    static func error(
        _ status: Int, _ code: String, _ reason: String, _ message: String,
        details: JSONValue? = nil, headers: [String: String] = [:]
    ) -> SandboxReply {
        .json(status, ColtErrorBody(code: code, reason: reason, message: message, details: details), headers: headers)
    }

    static func html(_ status: Int, title: String) -> SandboxReply {
        let page = "<html>\r\n<head><title>\(status) \(title)</title></head>\r\n<body>\r\n<center><h1>\(status) \(title)</h1></center>\r\n<hr><center>colt-sandbox-gateway</center>\r\n</body>\r\n</html>\r\n"
        return SandboxReply(status: status, headers: ["Content-Type": "text/html"], body: Array(page.utf8))
    }

    /// The canned answer of a fault that does not process the request (`nil` for the others).
    static func fault(_ rule: FaultRule) -> SandboxReply? {
        var reply: SandboxReply
        switch rule.kind {
        case .latency, .hang, .createThen504, .createThenDrop:
            return nil
        case .status:
            let status = rule.status ?? 503
            reply = .error(status, rule.code ?? "001", reasonPhrase(status), "Injected fault: HTTP \(status) (colt sandbox)")
        case .html:
            let status = rule.status ?? 502
            reply = .html(status, title: reasonPhrase(status))
        case .invalidJSON:
            reply = SandboxReply(status: 200, headers: ["Content-Type": "application/json"], body: Array("{\"order\": {\"id\": \"ORD-1".utf8))
        case .noOrderID:
            reply = SandboxReply(status: 200, headers: ["Content-Type": "application/json"], body: Array("{}".utf8))
        case .hugeBody:
            reply = SandboxReply(status: 200, headers: ["Content-Type": "application/json"], body: Self.hugeBody)
        case .tokenExpired:
            reply = .error(401, rule.code ?? "002", "Unauthorized", "Access token expired",
                           headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\", error_description=\"The access token expired\""])
        }
        if let retryAfter = rule.retryAfter { reply.headers["Retry-After"] = retryAfter }
        reply.fault = rule.kind
        return reply
    }

    /// `{"padding":"xxx…"}`, exactly 10 MiB, built once.
    static let hugeBody: [UInt8] = {
        let prefix = Array("{\"padding\":\"".utf8)
        let suffix = Array("\"}".utf8)
        var body = [UInt8](repeating: UInt8(ascii: "x"), count: 10 * 1024 * 1024)
        body.replaceSubrange(0..<prefix.count, with: prefix)
        body.replaceSubrange((body.count - suffix.count)..<body.count, with: suffix)
        return body
    }()

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "HTTP \(status)"
        }
    }
}
