import Foundation

/// Orders Colt accepted and orders completed in one hour (UTC).
public struct HourlyActivity: Sendable, Equatable {
    /// The hour's start, `2026-12-01T13`.
    public var hour: String
    public var accepted: Int
    public var completed: Int

    public init(hour: String, accepted: Int, completed: Int) {
        self.hour = hour
        self.accepted = accepted
        self.completed = completed
    }
}

/// How many completed orders took how long from their first send to completion.
public struct CompletionTimes: Sendable, Equatable {
    /// The upper bounds, in seconds, of the bins `hourly_completion_times` counts in (migration 5
    /// writes the same list into its triggers); the last bin has none.
    public static let bins: [Int] = [10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600,
                                     5400, 7200, 10800, 14400, 21600, 28800, 43200, 64800, 86400, 129600, 172800, 259200,
                                     345600, 432000, 604800, 1209600, 2592000]
    /// The upper bounds, in seconds, of the buckets the page draws (each a run of ``bins``).
    public static let bounds: [Int] = [60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400]
    /// One count per bucket: `bounds.count + 1` of them.
    public var counts: [Int]
    /// The bin holding the median, as its lower and upper bound in seconds (`nil` upper: the
    /// last, open bin), when any order completed.
    public var median: (lower: Int, upper: Int?)?

    public init(counts: [Int], median: (lower: Int, upper: Int?)?) {
        self.counts = counts
        self.median = median
    }

    public static func == (a: CompletionTimes, b: CompletionTimes) -> Bool {
        a.counts == b.counts && a.median?.lower == b.median?.lower && a.median?.upper == b.median?.upper
    }

    /// Buckets and median from counts per bin (index = bin).
    init(bins counted: [Int]) {
        var counts = Array(repeating: 0, count: Self.bounds.count + 1)
        for (bin, orders) in counted.enumerated() where orders > 0 {
            let lower = bin == 0 ? 0 : Self.bins[bin - 1]
            counts[Self.bounds.firstIndex { lower < $0 } ?? Self.bounds.count] += orders
        }
        let total = counted.reduce(0, +)
        var seen = 0
        let middle = total == 0 ? nil : counted.firstIndex { seen += $0; return seen * 2 >= total }
        self.init(counts: counts, median: middle.map { ($0 == 0 ? 0 : Self.bins[$0 - 1], $0 < Self.bins.count ? Self.bins[$0] : nil) })
    }
}

/// The rejections of a recent window (``Ledger/rejections(_:since:limit:)``).
public struct RecentRejections: Sendable, Equatable {
    public var count: Int
    /// Colt's error codes (`nil`: none given) and how many rejections carried each, most first.
    public var byCode: [(code: String?, count: Int)]
    /// The latest rejections, newest first.
    public var latest: [LedgerStatus.Rejection]

    public init(count: Int, byCode: [(code: String?, count: Int)], latest: [LedgerStatus.Rejection]) {
        self.count = count
        self.byCode = byCode
        self.latest = latest
    }

    public static func == (a: RecentRejections, b: RecentRejections) -> Bool {
        a.count == b.count && a.latest == b.latest && a.byCode.elementsEqual(b.byCode) { $0.code == $1.code && $0.count == $1.count }
    }
}

/// What a search of the ledger found, and how the text was read.
public struct LedgerSearch: Sendable, Equatable {
    /// How the text was understood: `number`, `request id`, `order id or tracking id`.
    public var understoodAs: [String]
    public var entries: [LedgerEntry]
    /// More rows matched than were returned.
    public var truncated: Bool

    public init(understoodAs: [String], entries: [LedgerEntry], truncated: Bool) {
        self.understoodAs = understoodAs
        self.entries = entries
        self.truncated = truncated
    }
}

extension Ledger {
    /// Rejections since `since`: how many, how many per Colt error code (most first), and the
    /// latest `limit` in Colt's words, newest first. Answered from `requests_state_updated`.
    public static func rejections(_ db: Connection, since: Date, limit: Int = 10) throws -> RecentRejections {
        let stamp = SQLValue.text(Timestamp.string(since))
        let byCode = try db.query("""
            SELECT colt_code, count(*) FROM requests WHERE state = 'rejected' AND updated_at >= ?1
            GROUP BY colt_code ORDER BY 2 DESC, 1
            """, [stamp]) { (code: $0.text(0), count: $0.int(1)) }
        let latest = try db.query("""
            SELECT id, range_start, range_end, colt_code, last_error, updated_at FROM requests
            WHERE state = 'rejected' AND updated_at >= ?1 ORDER BY updated_at DESC LIMIT ?2
            """, [stamp, .integer(Int64(limit))]) { row in
            let start = row.text(1) ?? "", end = row.text(2)
            return LedgerStatus.Rejection(id: row.integer(0), range: end == nil || end == start ? start : "\(start)..\(end!)",
                                          coltCode: row.text(3), message: row.text(4), rejectedAt: row.text(5) ?? "")
        }
        return RecentRejections(count: byCode.reduce(0) { $0 + $1.count }, byCode: byCode, latest: latest)
    }

    /// Orders accepted (an `accepted` attempt) and completed (`completed_at`) per hour, from the
    /// hour holding `since` to the one holding `now`, hours with neither included as zeros.
    /// Read from `hourly_orders` (kept by migration 5's triggers): one row per hour.
    public static func hourlyActivity(_ db: Connection, since: Date, now: Date = Date()) throws -> [HourlyActivity] {
        let first = hourKey(since), last = hourKey(now)
        var found: [String: (Int, Int)] = [:]
        try db.forEachRow("SELECT hour, accepted, completed FROM hourly_orders WHERE hour BETWEEN ?1 AND ?2", [.text(first), .text(last)]) { row in
            found[row.text(0) ?? ""] = (row.int(1), row.int(2))
        }
        var hours: [HourlyActivity] = []
        var hour = (since.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        while hour <= now.timeIntervalSince1970 {
            let key = hourKey(Date(timeIntervalSince1970: hour))
            hours.append(HourlyActivity(hour: key, accepted: found[key]?.0 ?? 0, completed: found[key]?.1 ?? 0))
            hour += 3600
        }
        return hours
    }

    /// Time from first send (`first_attempt_at`) to completion of the orders completed from the
    /// hour holding `since` on, in ``CompletionTimes/bounds`` buckets, with the median's bin.
    /// Read from `hourly_completion_times` (kept by migration 5's triggers): at most one row per
    /// hour and bin, however many orders completed.
    public static func completionTimes(_ db: Connection, since: Date) throws -> CompletionTimes {
        var counted = Array(repeating: 0, count: CompletionTimes.bins.count + 1)
        try db.forEachRow("SELECT bin, sum(orders) FROM hourly_completion_times WHERE hour >= ?1 GROUP BY bin", [.text(hourKey(since))]) { row in
            let bin = row.int(0)
            if counted.indices.contains(bin) { counted[bin] += row.int(1) }
        }
        return CompletionTimes(bins: counted)
    }

    /// `2026-12-01T13`: the hour holding `date`, as `hourly_orders` keys it.
    static func hourKey(_ date: Date) -> String { String(Timestamp.string(date).prefix(13)) }

    /// Rows matching `text`, newest first, at most `limit`:
    /// - a number (`+442071234567`, spaces and dashes allowed): every row whose range holds it;
    /// - a whole number below 10^9 (or `#123`): that request id;
    /// - anything else: a row whose order id is the text, or whose tracking id is or was it
    ///   (a retried row's earlier tracking ids are in its attempts).
    /// Every branch is an index seek: `requests_number_search`, the primary key,
    /// `requests_order_id`, `requests_tracking_id`, `attempts_tracking_id` and
    /// `order_numbers_order_id`. Run it in a read transaction to see one snapshot throughout.
    public static func search(_ db: Connection, _ text: String, limit: Int = 50) throws -> LedgerSearch {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var understood: [String] = []
        var ids: [Int64] = []
        func add(_ found: [Int64]) { for id in found where !ids.contains(id) { ids.append(id) } }
        let bare = trimmed.hasPrefix("#") ? String(trimmed.dropFirst()) : trimmed
        if let id = Int64(bare), id > 0, bare.count < 10 {
            understood.append("request id")
            add(try db.query("SELECT id FROM requests WHERE id = ?1", [.integer(id)]) { $0.integer(0) })
        }
        if let number = searchableNumber(trimmed) {
            understood.append("number")
            add(try rowsHolding(db, number: number, limit: limit + 1))
        }
        if !trimmed.isEmpty, trimmed.utf8.count <= 255 {
            understood.append("order id or tracking id")
            add(try db.query("""
                SELECT id FROM requests WHERE order_id = ?1
                UNION SELECT id FROM requests WHERE tracking_id = ?1
                UNION SELECT request_id FROM attempts WHERE tracking_id = ?1
                UNION SELECT request_id FROM order_numbers WHERE order_id = ?1 AND order_id IS NOT NULL
                LIMIT ?2
                """, [.text(trimmed), .integer(Int64(limit + 1))]) { $0.integer(0) })
        }
        ids.sort(by: >)
        let truncated = ids.count > limit
        var entries: [LedgerEntry] = []
        for id in ids.prefix(limit) {
            if let entry = try entry(db, id: id) { entries.append(entry) }
        }
        return LedgerSearch(understoodAs: understood, entries: entries, truncated: truncated)
    }

    /// `+` and 6 to 16 digits once spaces, dashes, dots and brackets are dropped; a leading `00`
    /// is read as `+`. `nil` when the text is not a number.
    static func searchableNumber(_ text: String) -> String? {
        var digits = text.filter { !" -.()".contains($0) }
        if digits.hasPrefix("00") { digits = "+" + digits.dropFirst(2) }
        if !digits.hasPrefix("+") {
            guard digits.count >= 9 else { return nil }  // a short bare figure is an id, not a number
            digits = "+" + digits
        }
        let body = digits.dropFirst()
        guard (5...15).contains(body.count), body.allSatisfy({ $0.isASCII && $0.isNumber }), body.first != "0" else { return nil }
        return digits
    }

    /// The ids of rows whose range holds `number` (see migration 5's `requests_number_search`):
    /// for each span length D, rows of that span class starting at most 10^D - 1 below it.
    static func rowsHolding(_ db: Connection, number: String, limit: Int) throws -> [Int64] {
        let digits = number.count - 1
        guard let value = UInt64(number.dropFirst()) else { return [] }
        var ids: [Int64] = []
        var reach: UInt64 = 9
        for spanDigits in 1...digits {
            let lowest = value >= reach ? value - reach : 0
            let low = "+" + String(repeating: "0", count: max(0, digits - String(lowest).count)) + String(lowest)
            ids += try db.query("""
                SELECT id FROM requests
                WHERE length(CAST(CAST(substr(coalesce(range_end, range_start), 2) AS INTEGER) - CAST(substr(range_start, 2) AS INTEGER) AS TEXT)) = ?1
                  AND range_start BETWEEN ?2 AND ?3 AND coalesce(range_end, range_start) >= ?3
                  AND length(range_start) = ?4
                LIMIT ?5
                """, [.integer(Int64(spanDigits)), .text(low), .text(number), .integer(Int64(number.count)), .integer(Int64(limit))]) { $0.integer(0) }
            if ids.count >= limit || reach > UInt64.max / 10 { break }
            reach = reach * 10 + 9
        }
        return ids
    }
}
