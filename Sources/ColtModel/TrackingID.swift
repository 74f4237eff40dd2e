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
    /// three system calls for every row the daemon claims. Foundation still writes it out.
    public static func random() -> TrackingID {
        var generator = SystemRandomNumberGenerator()
        var words = (generator.next() as UInt64, generator.next() as UInt64)
        let uuid = withUnsafeMutableBytes(of: &words) { bytes in
            bytes[6] = (bytes[6] & 0x0F) | 0x40  // version 4
            bytes[8] = (bytes[8] & 0x3F) | 0x80  // variant 10xx
            return UUID(uuid: bytes.loadUnaligned(as: uuid_t.self))
        }
        return TrackingID("co-" + uuid.uuidString.lowercased())!
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
