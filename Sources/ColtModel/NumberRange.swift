/// A phone number in the API's E.164 form: `+`, a digit 1 to 9, then digits; 6 to 16 characters.
public struct E164Number: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The number as Colt writes it, `+` included.
    public let text: String

    /// The API's limits on a number's length, the `+` included.
    public static let lengths = 6...16

    /// Returns `nil` unless `text` matches `^[+]{1}[1-9]{1}[0-9]*$` with a length of 6 to 16.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard Self.lengths.contains(bytes.count), bytes[0] == UInt8(ascii: "+"),
              (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[1]),
              bytes.dropFirst(2).allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        self.text = text
    }

    public var description: String { text }

    /// Numbers of one length order as their digits do; a shorter number sorts first.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.text.utf8.count != rhs.text.utf8.count
            ? lhs.text.utf8.count < rhs.text.utf8.count
            : lhs.text < rhs.text
    }
}

/// A contiguous range of numbers of one length, `start...end`.
public struct NumberRange: Sendable, Hashable, CustomStringConvertible {
    public let start: E164Number
    public let end: E164Number

    /// Validates a range; a missing `end` means the single number `start`.
    ///
    /// - Throws: ``ValidationError`` naming `range_start` or `range_end`.
    public init(start: String?, end: String?) throws(ValidationError) {
        guard let start, let first = E164Number(start) else {
            throw ValidationError(column: "range_start", problem: Self.e164Problem(start))
        }
        guard let end else {
            self.start = first
            self.end = first
            return
        }
        guard let last = E164Number(end) else {
            throw ValidationError(column: "range_end", problem: Self.e164Problem(end))
        }
        guard last.text.utf8.count == first.text.utf8.count else {
            throw ValidationError(
                column: "range_end",
                problem: "must have as many digits as range_start (\(first) has \(first.text.utf8.count - 1), \(last) has \(last.text.utf8.count - 1))")
        }
        guard first <= last else {
            throw ValidationError(column: "range_end", problem: "\(last) is before range_start \(first)")
        }
        self.start = first
        self.end = last
    }

    /// How many numbers the range holds.
    public var count: UInt64 {
        guard let first = UInt64(start.text.dropFirst()), let last = UInt64(end.text.dropFirst()) else { return 0 }
        return last - first + 1
    }

    /// Whether the two ranges share at least one number.
    public func overlaps(_ other: NumberRange) -> Bool {
        start.text.utf8.count == other.start.text.utf8.count && start <= other.end && other.start <= end
    }

    public var description: String { start == end ? start.text : "\(start)..\(end)" }

    private static func e164Problem(_ value: String?) -> String {
        "must be an E.164 number: '+', a digit 1-9, then digits, 6 to 16 characters in all (e.g. +442081324758), not \(OrderRequest.show(value))"
    }
}
