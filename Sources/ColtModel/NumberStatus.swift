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
