import Foundation

/// A fault-injection rule: on matching requests, misbehave in one chosen way.
///
/// Rules are evaluated in order for every request (the `/_sandbox/` endpoints are never
/// faulted). Every `latency` rule that fires adds its delay; the first other rule that fires
/// decides the fault, and later non-latency rules are not consulted for that request.
///
/// Whether a rule fires on a matching request:
/// 1. the first `after` matching requests are skipped (default 0);
/// 2. once it has fired `times` times it never fires again (default: unlimited);
/// 3. with `probability` set it fires when a draw from the sandbox's fault generator is
///    below it (the generator is seeded with ``SandboxConfiguration/seed`` and reset by
///    ``ColtSandbox/setFaults(_:)``, so a sequential run is reproducible); without it, it fires.
///
/// JSON form (the `PUT /_sandbox/faults` body is an array of these):
/// ```json
/// {"kind":"status","status":503,"retryAfter":"2","path":"order","probability":0.3}
/// {"kind":"status","status":429,"retryAfter":"Wed, 21 Oct 2026 07:28:00 GMT","times":2}
/// {"kind":"latency","ms":250,"path":"any"}
/// {"kind":"createThenDrop","times":1,"after":2}
/// ```
/// Keys: `kind` (required), `path` (`token`, `order` = both order endpoints, `return`,
/// `reactivate`, `number` = `GET /numberManagement/v1/Number`, `any`; default `order`),
/// `status` (for `status`, default 503; for `html`, default 502), `code` (Colt error code
/// in the body, default `"001"`), `retryAfter` (sent verbatim as `Retry-After`), `ms`
/// (for `latency`), `probability` (0...1), `times`, `after`.
public struct FaultRule: Sendable, Codable, Equatable {
    /// What the rule does when it fires.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Wait `ms` milliseconds before processing (combines with other rules).
        case latency
        /// Answer `status` with a Colt-shaped error body (and `Retry-After` if set); nothing processed.
        case status
        /// Never answer: hold the connection until the client gives up (or the sandbox stops).
        case hang
        /// Process the request for real (the order is created), then answer 504 with an HTML gateway page.
        case createThen504
        /// Process the request for real, then close the connection without any HTTP response.
        case createThenDrop
        /// Answer 502 (or `status`) with an HTML gateway page; nothing processed.
        case html
        /// Answer 200 with a truncated JSON body; nothing processed.
        case invalidJSON
        /// Answer 200 with `{}`; nothing processed.
        case noOrderID
        /// Answer 200 with a 10 MB body; nothing processed.
        case hugeBody
        /// Answer 401 as if the access token had expired (issued tokens stay valid); nothing processed.
        case tokenExpired
    }

    /// Which endpoints a rule applies to.
    public enum Target: String, Sendable, Codable, CaseIterable {
        /// `POST /authentication/v1/oauth/token`.
        case token
        /// Both order endpoints.
        case order
        /// `POST /numberManagement/v1/return/order` only.
        case `return`
        /// `POST /numberManagement/v1/reactivate/order` only.
        case reactivate
        /// `GET /numberManagement/v1/Number`.
        case number
        /// Every Colt endpoint (not `/_sandbox/`).
        case any
    }

    /// What happens when the rule fires.
    public var kind: Kind
    /// Which endpoints it watches.
    public var path: Target
    /// HTTP status for `status` (default 503) and `html` (default 502).
    public var status: Int?
    /// Colt error code in a `status`/`tokenExpired` body (default `"001"` / `"002"`).
    public var code: String?
    /// `Retry-After` header value, sent verbatim (seconds or an HTTP date).
    public var retryAfter: String?
    /// Delay of a `latency` rule, in milliseconds.
    public var ms: Int?
    /// Chance of firing on each eligible request, 0...1 (`nil`: always).
    public var probability: Double?
    /// Maximum number of times the rule fires (`nil`: unlimited).
    public var times: Int?
    /// Number of matching requests to let through before the rule becomes eligible.
    public var after: Int?

    /// Creates a rule; see the type's documentation for the meaning of each field.
    public init(
        kind: Kind,
        path: Target = .order,
        status: Int? = nil,
        code: String? = nil,
        retryAfter: String? = nil,
        ms: Int? = nil,
        probability: Double? = nil,
        times: Int? = nil,
        after: Int? = nil
    ) {
        self.kind = kind
        self.path = path
        self.status = status
        self.code = code
        self.retryAfter = retryAfter
        self.ms = ms
        self.probability = probability
        self.times = times
        self.after = after
    }

    /// A `status` rule: answer `status` (with `Retry-After: retryAfter` if given) without processing.
    public static func status(
        _ status: Int, retryAfter: String? = nil, path: Target = .order,
        probability: Double? = nil, times: Int? = nil, after: Int? = nil
    ) -> FaultRule {
        FaultRule(kind: .status, path: path, status: status, retryAfter: retryAfter,
                  probability: probability, times: times, after: after)
    }

    /// A `latency` rule: wait `milliseconds` before processing.
    public static func latency(
        milliseconds: Int, path: Target = .order,
        probability: Double? = nil, times: Int? = nil, after: Int? = nil
    ) -> FaultRule {
        FaultRule(kind: .latency, path: path, ms: milliseconds, probability: probability, times: times, after: after)
    }

    /// A rule of any `kind` without parameters of its own.
    public static func fault(
        _ kind: Kind, path: Target = .order,
        probability: Double? = nil, times: Int? = nil, after: Int? = nil
    ) -> FaultRule {
        FaultRule(kind: kind, path: path, probability: probability, times: times, after: after)
    }

    /// Why a rule could not be read.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        /// Human-readable explanation.
        public var description: String
    }

    private enum CodingKeys: String, CodingKey {
        case kind, path, status, code, retryAfter, ms, probability, times, after
    }

    /// Decodes and validates a rule (unknown `kind`/`path`, out-of-range values are errors).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.kind = try c.decode(Kind.self, forKey: .kind)
        self.path = try c.decodeIfPresent(Target.self, forKey: .path) ?? .order
        self.status = try c.decodeIfPresent(Int.self, forKey: .status)
        self.code = try c.decodeIfPresent(String.self, forKey: .code)
        self.retryAfter = try c.decodeIfPresent(String.self, forKey: .retryAfter)
        self.ms = try c.decodeIfPresent(Int.self, forKey: .ms)
        self.probability = try c.decodeIfPresent(Double.self, forKey: .probability)
        self.times = try c.decodeIfPresent(Int.self, forKey: .times)
        self.after = try c.decodeIfPresent(Int.self, forKey: .after)
        if let problem = self.validationProblem {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: problem))
        }
    }

    /// Encodes the rule, leaving out unset fields.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(self.kind, forKey: .kind)
        try c.encode(self.path, forKey: .path)
        try c.encodeIfPresent(self.status, forKey: .status)
        try c.encodeIfPresent(self.code, forKey: .code)
        try c.encodeIfPresent(self.retryAfter, forKey: .retryAfter)
        try c.encodeIfPresent(self.ms, forKey: .ms)
        try c.encodeIfPresent(self.probability, forKey: .probability)
        try c.encodeIfPresent(self.times, forKey: .times)
        try c.encodeIfPresent(self.after, forKey: .after)
    }

    /// `nil` when the rule is usable, else what is wrong with it.
    var validationProblem: String? {
        if let status, !(100...599).contains(status) { return "status \(status) is not an HTTP status" }
        if let probability, !(0...1).contains(probability) { return "probability \(probability) is not within 0...1" }
        if let times, times < 0 { return "times must not be negative" }
        if let after, after < 0 { return "after must not be negative" }
        if let ms, ms < 0 { return "ms must not be negative" }
        if self.kind == .latency, self.ms == nil { return "a latency rule needs ms" }
        return nil
    }

    /// Reads a rule from its JSON form or from the short command-line form.
    ///
    /// Short form: colon-separated fields. The first names the fault:
    /// - `NNN` (an HTTP status, e.g. `503`) or `status=NNN`: a `status` rule;
    /// - `latency=MS`: a `latency` rule;
    /// - a kind name: `hang`, `createThen504`, `createThenDrop`, `html`, `invalidJSON`,
    ///   `noOrderID`, `hugeBody`, `tokenExpired` (case-insensitive; `latency`/`status`
    ///   need their value).
    ///
    /// The rest, in any order: a bare number in 0...1 or `p=X` (probability), `times=N`,
    /// `after=N`, `retry-after=VALUE`, `path=token|order|return|reactivate|number|any`,
    /// `code=NNN`, `ms=MS`, `status=NNN`.
    /// Examples: `503:0.2`, `429:retry-after=2:times=3`, `latency=100`, `hang:0.01`,
    /// `createThenDrop:times=1:path=order`. A `Retry-After` HTTP date contains colons: use
    /// the JSON form for it.
    public init(spec: String) throws {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("{") {
            do {
                self = try JSONDecoder().decode(FaultRule.self, from: Data(trimmed.utf8))
            } catch {
                throw ParseError(description: "fault \(spec): invalid JSON rule (\(error))")
            }
            return
        }
        let fields = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let head = fields.first, !head.isEmpty else {
            throw ParseError(description: "fault \(spec): empty")
        }
        var rule: FaultRule
        let (headKey, headValue) = Self.keyValue(head)
        if let status = Int(head) {
            rule = .status(status)
        } else if let headValue {
            switch headKey.lowercased() {
            case "status":
                guard let status = Int(headValue) else { throw ParseError(description: "fault \(spec): status needs a number") }
                rule = .status(status)
            case "latency":
                guard let ms = Int(headValue) else { throw ParseError(description: "fault \(spec): latency needs milliseconds") }
                rule = .latency(milliseconds: ms)
            default:
                throw ParseError(description: "fault \(spec): unknown fault \(headKey)")
            }
        } else if let kind = Kind.allCases.first(where: { $0.rawValue.lowercased() == head.lowercased() }),
                  kind != .latency, kind != .status {
            rule = .fault(kind)
        } else {
            throw ParseError(description: "fault \(spec): unknown fault \(head) (expected an HTTP status, latency=MS or one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        for field in fields.dropFirst() {
            let (key, value) = Self.keyValue(field)
            guard let value else {
                guard let p = Double(field) else { throw ParseError(description: "fault \(spec): cannot read \(field)") }
                rule.probability = p
                continue
            }
            switch key.lowercased() {
            case "p", "probability":
                guard let p = Double(value) else { throw ParseError(description: "fault \(spec): bad probability \(value)") }
                rule.probability = p
            case "times":
                guard let n = Int(value) else { throw ParseError(description: "fault \(spec): bad times \(value)") }
                rule.times = n
            case "after":
                guard let n = Int(value) else { throw ParseError(description: "fault \(spec): bad after \(value)") }
                rule.after = n
            case "retry-after", "retryafter":
                rule.retryAfter = value
            case "path":
                guard let target = Target(rawValue: value.lowercased()) else {
                    throw ParseError(description: "fault \(spec): bad path \(value)")
                }
                rule.path = target
            case "code":
                rule.code = value
            case "ms":
                guard let n = Int(value) else { throw ParseError(description: "fault \(spec): bad ms \(value)") }
                rule.ms = n
            case "status":
                guard let n = Int(value) else { throw ParseError(description: "fault \(spec): bad status \(value)") }
                rule.status = n
            default:
                throw ParseError(description: "fault \(spec): unknown option \(key)")
            }
        }
        if let problem = rule.validationProblem {
            throw ParseError(description: "fault \(spec): \(problem)")
        }
        self = rule
    }

    private static func keyValue(_ field: String) -> (String, String?) {
        guard let eq = field.firstIndex(of: "=") else { return (field, nil) }
        return (String(field[..<eq]), String(field[field.index(after: eq)...]))
    }

    /// Whether the rule watches an endpoint.
    func applies(to endpoint: ColtEndpoint) -> Bool {
        switch self.path {
        case .any: return true
        case .token: return endpoint == .token
        case .order: return endpoint == .returnOrder || endpoint == .reactivateOrder
        case .return: return endpoint == .returnOrder
        case .reactivate: return endpoint == .reactivateOrder
        case .number: return endpoint == .number
        }
    }
}
