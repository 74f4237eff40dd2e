/// What the seed documents say each order does to a number's status, so that Colt's inventory
/// can be read for what happened: "the numbers are where they were" or "the work is done".
///
/// Colt's status words are compared by meaning: case, spaces, `_` and `-` do not matter
/// (`PortIn_Activated`, `portin activated` and `PORTIN-ACTIVATED` are one status).
public enum NumberStatusRules {
    /// The statuses from which `action` moves a number (the left column of the seeds' tables).
    public static func sources(of action: OrderAction) -> Set<String> {
        switch action {
        case .return: ["reserved", "activated", "portinactivated"]
        case .reactivate: ["quarantined", "portinquarantined"]
        }
    }

    /// The statuses `action` leaves a number of `country` in (the seeds' "becomes" column):
    /// - return: Reserved → Free; Activated → Quarantined, or Returned (back to the range holder,
    ///   and NL 088 numbers); PortIn_Activated → PortIn_Quarantined in FR NL PT CH SE ES IT
    ///   (and DE, which the reactivate prose names), else Returned;
    /// - reactivate: Quarantined → Activated; PortIn_Quarantined → PortIn_Activated.
    public static func targets(of action: OrderAction, country: Country) -> Set<String> {
        switch action {
        case .return:
            portInQuarantine.contains(country) ? ["free", "quarantined", "returned", "portinquarantined"] : ["free", "quarantined", "returned"]
        case .reactivate:
            ["activated", "portinactivated"]
        }
    }

    /// Countries where a returned ported-in number goes to PortIn_Quarantined.
    static let portInQuarantine: Set<Country> = [.FR, .NL, .PT, .CH, .SE, .ES, .IT, .DE]

    /// A status word reduced to its meaning: ASCII letters (lower-cased) and digits only.
    public static func normalized(_ word: String) -> String {
        var out = ""
        for byte in word.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.unicodeScalars.append(Unicode.Scalar(byte + 32))
            default: continue
            }
        }
        return out
    }

    /// Whether `status` is one that `action` leads to, for a number of `country`.
    public static func isTarget(_ status: String, of action: OrderAction, country: Country) -> Bool {
        targets(of: action, country: country).contains(normalized(status))
    }

    /// Every status the seeds name: Free, Reserved, Activated, Quarantined, PortIn_Activated,
    /// PortIn_Quarantined, Returned (normalized).
    public static let known: Set<String> = ["free", "reserved", "activated", "quarantined", "portinactivated", "portinquarantined", "returned"]

    /// Whether `status` is one the seeds name; another word (say, `Pending deactivation`) is a
    /// state in between that this daemon does not know.
    public static func isKnown(_ status: String) -> Bool {
        known.contains(normalized(status))
    }

    /// Whether `status` is one that `action` starts from (the number has not moved).
    public static func isSource(_ status: String, of action: OrderAction) -> Bool {
        sources(of: action).contains(normalized(status))
    }
}

/// How far along an order is, read from whatever word Colt used for its status.
public enum OrderProgress: Sendable, Equatable {
    /// Still running: `In progress`, `Pending`, `Acknowledged`, `Open`, ...
    case running
    /// Finished as asked: `Completed`, `Complete`, `Done`, `Closed`, `Success`.
    case completed
    /// Finished without doing the work: `Failed`, `Rejected`, `Cancelled`, ...
    case ended
    /// A word this daemon does not know; treated as still running.
    case unknown

    /// The progress a status word means.
    public init(_ word: String) {
        switch NumberStatusRules.normalized(word) {
        case "completed", "complete", "done", "closed", "success", "successful", "finished", "fulfilled":
            self = .completed
        case "failed", "failure", "rejected", "cancelled", "canceled", "aborted", "error":
            self = .ended
        case "inprogress", "pending", "acknowledged", "open", "processing", "submitted", "accepted", "new", "running", "held":
            self = .running
        default:
            self = .unknown
        }
    }

    /// Whether the order is over (for better or worse).
    public var isFinished: Bool { self == .completed || self == .ended }
}

/// What this daemon takes for an order id from Colt: 1 to 128 printable ASCII characters
/// without spaces (the published answer is `{"order":{"id":"<order id>"}}`, a string). Anything
/// else, a 100,000-digit JSON number, `-1.5e999`, control characters, is not one: the answer
/// carrying it is a bad answer, journaled as such.
public enum OrderIdentifier {
    /// The most characters an order id may have.
    public static let maxLength = 128

    /// `text` without surrounding whitespace when it is a valid order id, else `nil`.
    public static func validated(_ text: String) -> String? {
        var bytes = Substring(text).utf8[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        guard (1...maxLength).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
