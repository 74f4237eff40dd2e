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

    /// A new tracking id, unique in practice: `co-` and a random UUID.
    public static func random() -> TrackingID {
        TrackingID("co-" + UUID().uuidString.lowercased())!
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
