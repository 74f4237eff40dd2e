import Foundation

/// The `x-tracking-id` that identifies one order request from its first attempt to its last.
public struct TrackingID: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    /// Returns `nil` unless `text` matches the API's pattern `^[a-zA-Z0-9_.~:@-]{1,255}$`.
    public init?(_ text: String) {
        guard (1...255).contains(text.utf8.count), text.utf8.allSatisfy(Self.isAllowed) else { return nil }
        self.text = text
    }

    /// Validates a tracking id typed by an operator.
    ///
    /// - Throws: ``ValidationError`` naming `tracking_id`.
    public init(validating text: String) throws(ValidationError) {
        guard let id = TrackingID(text) else {
            throw ValidationError(
                column: "tracking_id",
                problem: "must be 1 to 255 characters from a-z A-Z 0-9 _ . ~ : @ -, not \(OrderRequest.show(text))")
        }
        self = id
    }

    /// A new tracking id, unique in practice: `co-` and a random (version 4) UUID in lower case.
    ///
    /// The 122 random bits come from `SystemRandomNumberGenerator` (`getrandom`), not from
    /// Foundation's `UUID()`, which on Linux opens, reads and closes `/dev/urandom` each time:
    /// three system calls for every row the daemon claims.
    public static func random() -> TrackingID {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        bytes.0 = (bytes.0 & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000  // version 4
        bytes.1 = (bytes.1 & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // variant 10xx
        let hex = hexDigits(bytes.0, count: 16) + hexDigits(bytes.1, count: 16)
        var text = "co-"
        for (index, digit) in hex.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { text.append("-") }
            text.append(digit)
        }
        return TrackingID(text)!
    }

    /// `value` as `count` lower-case hexadecimal digits, zero-padded.
    private static func hexDigits(_ value: UInt64, count: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: count - digits.count) + digits
    }

    public var description: String { text }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "@"),
             UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
