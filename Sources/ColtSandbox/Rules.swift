import Foundation

/// The Colt endpoints the sandbox simulates.
enum ColtEndpoint: String, Sendable, Hashable {
    case token = "/authentication/v1/oauth/token"
    case returnOrder = "/numberManagement/v1/return/order"
    case reactivateOrder = "/numberManagement/v1/reactivate/order"
    case number = "/numberManagement/v1/Number"

    /// The HTTP method the endpoint answers.
    var method: String { self == .number ? "GET" : "POST" }

    /// The order action of an order endpoint.
    var action: OrderAction? {
        switch self {
        case .returnOrder: return .return
        case .reactivateOrder: return .reactivate
        case .token, .number: return nil
        }
    }
}

/// The two order types.
enum OrderAction: String, Sendable {
    case `return`
    case reactivate
}

/// Colt's countries and the number state machine of the seed documents.
enum ColtRules {
    /// The 20 countries `relatedParty.reseller.country` accepts.
    static let countries: [String] = [
        "GB", "DE", "ES", "FR", "AT", "BE", "NL", "IE", "IT", "SE",
        "DK", "PT", "CH", "CZ", "NO", "RO", "PL", "FI", "LU", "SK",
    ]
    static let countrySet = Set(countries)
    /// Zone B (the others are Zone A).
    static let zoneB: Set<String> = ["CZ", "NO", "RO", "PL", "FI", "LU", "SK"]
    /// Where a returned PortIn_Activated number goes to PortIn_Quarantined.
    /// FR NL PT CH SE ES IT per the table; DE is in neither return row, and the reactivate
    /// prose lets DE reactivate port-ins, so the sandbox quarantines DE port-ins too.
    static let portInQuarantineCountries: Set<String> = ["FR", "NL", "PT", "CH", "SE", "ES", "IT", "DE"]
    /// Where a PortIn_Quarantined number can be reactivated (table plus the prose's DE).
    static let portInReactivationCountries: Set<String> = ["FR", "NL", "PT", "ES", "SE", "CH", "IT", "DE"]

    /// Whether a number is an NL `088` number (immediate, irreversible deactivation).
    static func isNL088(_ number: String, country: String) -> Bool {
        country == "NL" && number.hasPrefix("+3188")
    }

    /// The status a number ends in after `action`, or `nil` when the action refuses it.
    static func target(of action: OrderAction, from status: NumberStatus, country: String, number: String) -> NumberStatus? {
        switch action {
        case .return:
            switch status {
            case .reserved:
                return .free
            case .activated:
                return self.isNL088(number, country: country) ? .returned : .quarantined
            case .portInActivated:
                if self.isNL088(number, country: country) { return .returned }
                return self.portInQuarantineCountries.contains(country) ? .portInQuarantined : .returned
            case .free, .quarantined, .portInQuarantined, .returned:
                return nil
            }
        case .reactivate:
            switch status {
            case .quarantined:
                return .activated
            case .portInQuarantined:
                return self.portInReactivationCountries.contains(country) ? .portInActivated : nil
            case .free, .reserved, .activated, .portInActivated, .returned:
                return nil
            }
        }
    }

    /// `^[+]{1}[1-9]{1}[0-9]*$`, 6 to 16 characters.
    static func isE164(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (6...16).contains(bytes.count), bytes[0] == UInt8(ascii: "+") else { return false }
        guard (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[1]) else { return false }
        return bytes.dropFirst(2).allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// `^[a-zA-Z0-9_.~:@-]{1,255}$`.
    static func isValidTrackingID(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...255).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                || "_.~:@-".utf8.contains(b)
        }
    }

    /// The numbers of an E.164 range, both ends included (`nil` if larger than `limit`).
    static func expand(start: String, end: String, limit: Int) -> [String]? {
        guard let a = UInt64(start.dropFirst()), let b = UInt64(end.dropFirst()), b >= a else { return nil }
        guard b - a < UInt64(limit) else { return nil }
        let width = start.count - 1
        return (a...b).map { value in
            let digits = String(value)
            return "+" + String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
    }

    /// Whether a `Content-Type` value names `mediaType` (parameters such as charset ignored).
    static func contentType(_ value: String?, is mediaType: String) -> Bool {
        guard let value else { return false }
        let base = value.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        return base.trimmingCharacters(in: .whitespaces).lowercased() == mediaType
    }
}

/// Any JSON value, to validate request bodies field by field (null vs absent, wrong types).
enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// A one-word name of the value's JSON type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
