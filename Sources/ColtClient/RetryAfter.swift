/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.
enum RetryAfter {
    /// The longest wait accepted from a server (larger values are clamped): a year.
    static let maximumSeconds: Int64 = 86_400 * 365

    /// The wait a `Retry-After` value asks for, relative to `now` (seconds since 1970);
    /// `nil` when the value is neither form; `.zero` for a date in the past.
    static func parse(_ value: String, now: Double) -> Duration? {
        let text = value.trimmingASCIIWhitespace()
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // Avoid overflow on absurd lengths: anything longer than 12 digits is over the cap.
            guard text.utf8.count <= 12, let seconds = Int64(text) else { return .seconds(maximumSeconds) }
            return .seconds(min(seconds, maximumSeconds))
        }
        guard let date = HTTPDate.parse(text, now: now) else { return nil }
        let delta = Double(date) - now
        if delta <= 0 { return .zero }
        let ms = Int64(min(delta, Double(maximumSeconds)) * 1000)
        return .milliseconds(ms)
    }
}

/// HTTP-dates, RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let shortDays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    private static let longDays = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    /// Seconds since 1970 of an HTTP-date, or `nil`. `now` resolves RFC 850's two-digit year.
    static func parse(_ text: String, now: Double) -> Int64? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map { String($0) }
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        if words.count == 6, words[0].hasSuffix(","), shortDays.contains(words[0].dropLast().lowercased()),
           words[5] == "GMT", let day = number(words[1], digits: 2), let month = month(words[2]),
           let year = number(words[3], digits: 4), let time = clock(words[4])
        {
            return epoch(year: year, month: month, day: day, time: time)
        }
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        if words.count == 4, words[0].hasSuffix(","), longDays.contains(words[0].dropLast().lowercased()),
           words[3] == "GMT", let time = clock(words[2])
        {
            let parts = words[1].split(separator: "-", omittingEmptySubsequences: false).map { String($0) }
            guard parts.count == 3, let day = number(parts[0], digits: 2), let month = month(parts[1]),
                  let yy = number(parts[2], digits: 2)
            else { return nil }
            // A two-digit year more than 50 years in the future is in the past century.
            let currentYear = civilYear(secondsSince1970: Int64(now))
            var year = currentYear / 100 * 100 + yy
            if year > currentYear + 50 { year -= 100 }
            if year < currentYear - 50 { year += 100 }
            return epoch(year: year, month: month, day: day, time: time)
        }
        // asctime: Sun Nov  6 08:49:37 1994
        if words.count == 5, shortDays.contains(words[0].lowercased()), let month = month(words[1]),
           words[2].utf8.count <= 2, let day = number(words[2], digits: words[2].utf8.count),
           let time = clock(words[3]), let year = number(words[4], digits: 4)
        {
            return epoch(year: year, month: month, day: day, time: time)
        }
        return nil
    }

    private static func number(_ text: String, digits: Int) -> Int? {
        guard digits > 0, text.utf8.count == digits,
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int(text)
    }

    private static func month(_ text: String) -> Int? {
        guard text.utf8.count == 3, let index = months.firstIndex(of: text.lowercased()) else { return nil }
        return index + 1
    }

    private static func clock(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { String($0) }
        guard parts.count == 3, let h = number(parts[0], digits: 2), let m = number(parts[1], digits: 2),
              let s = number(parts[2], digits: 2), h < 24, m < 60, s <= 60
        else { return nil }
        return h * 3600 + m * 60 + s
    }

    private static func epoch(year: Int, month: Int, day: Int, time: Int) -> Int64? {
        guard (1...31).contains(day), (1...12).contains(month) else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        return Int64(daysFromCivil(year: year, month: month, day: day)) * 86_400 + Int64(time)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civilYear(secondsSince1970: Int64) -> Int {
        let z = Int(secondsSince1970 / 86_400) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        return yoe + era * 400 + (month <= 2 ? 1 : 0)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, CR and LF.
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
