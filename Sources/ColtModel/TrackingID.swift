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

    /// A new tracking id, unique in practice: `co-` and a time-ordered (version 7, RFC 9562)
    /// UUID in lower case: 48 bits of Unix time in milliseconds, then 74 random bits.
    ///
    /// Time-ordered so that the three indexes keyed by tracking id (`requests`, `attempts`,
    /// `sent_tracking_ids`) take new ids at their end, on pages a commit already writes, instead
    /// of on one random page each: a drain wrote about half the WAL frames per request that
    /// version 4 ids cost (BENCHMARKS.md). Colt sees an opaque string either way.
    ///
    /// The random bits come from `SystemRandomNumberGenerator` (`getrandom`), not from
    /// Foundation's `UUID()`, which on Linux opens, reads and closes `/dev/urandom` each time.
    public static func random(now: Date = Date()) -> TrackingID {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(min(max(0, now.timeIntervalSince1970 * 1000), Double(0xFFFF_FFFF_FFFF)))
        var words = ((milliseconds << 16).bigEndian, generator.next() as UInt64)
        let uuid = withUnsafeMutableBytes(of: &words) { bytes in
            // Bytes 0-5: the time, big-endian; 6-7: the version and 12 random bits; 8-15: random.
            let random = generator.next() as UInt64
            bytes[6] = 0x70 | UInt8(truncatingIfNeeded: random >> 8) & 0x0F  // version 7
            bytes[7] = UInt8(truncatingIfNeeded: random)
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
