import Foundation

/// The database's timestamps: ISO-8601 UTC text with milliseconds, `2026-11-24T09:30:00.000Z`,
/// which sorts as text in time order and reads well in the sqlite3 CLI.
public enum Timestamp {
    /// `date` as database text.
    public static func string(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        let milliseconds = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(min(milliseconds, 999)), 3))Z"
    }

    /// Parses database text (`YYYY-MM-DDTHH:MM:SS[.fff]Z`, or with a space instead of `T`).
    public static func date(_ text: String) -> Date? {
        let digits = text.utf8.map { Int($0) - 48 }
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= digits.count else { return nil }
            var value = 0
            for digit in digits[from..<from + count] {
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2)
        else { return nil }
        let fraction = number(20, 3) ?? 0
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds) + Double(fraction) / 1000)
    }
}

extension Timestamp {
    /// An age in words, as the `ledger` view writes it: `42s`, `3m 5s`, `4h 12m`, `3d 4h`.
    public static func age(_ duration: Duration) -> String {
        let s = max(0, Int(duration.components.seconds))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(s % 60)s" }
        if s < 86_400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        return "\(s / 86_400)d \(s % 86_400 / 3600)h"
    }
}
