import Foundation
import OrderStore
import Testing
import TestSupport

/// The web page's queries: search by a number inside a range, by order and tracking id; the
/// hourly plots and time to completion; and that each is answered from an index.
@Suite struct LedgerActivityTests {
    let directory: TemporaryDirectory
    let path: String
    let database: Database

    init() throws {
        directory = try TemporaryDirectory("activity")
        path = directory.file("orders.db")
        database = try Database(path: path)
        try database.useNow { _ = try Migrator.migrate($0) }
    }

    func sql(_ text: String) throws {
        let result = try sqlite3(path, text)
        #expect(result.status == 0, "\(result.stderr)")
    }

    func insert(_ start: String, _ end: String? = nil) throws {
        try sql("INSERT INTO requests (action, country, range_start, range_end) VALUES ('return', 'GB', '\(start)', \(end.map { "'\($0)'" } ?? "NULL"))")
    }

    func search(_ text: String) throws -> [Int64] {
        try database.useNow { try Ledger.search($0, text).entries.map(\.id) }
    }

    @Test func aNumberIsFoundInsideEveryRangeThatHoldsIt() throws {
        try insert("+442071230000", "+442071239999")   // 1: 10,000 numbers
        try insert("+442071234567")                    // 2: the number alone
        try insert("+442071234560", "+442071234569")   // 3: ten numbers
        try insert("+442070000000", "+442070999999")   // 4: a million, not holding it
        try insert("+442071000000", "+442071999999")   // 5: a million, holding it
        try insert("+4420712345670")                   // 6: a longer number with the same digits first
        try insert("+442071234568", "+442071234599")   // 7: starts just after it
        try insert("+44207123456", "+44207123457")      // 8: shorter numbers
        #expect(try search("+442071234567") == [5, 3, 2, 1])
        // The way people write numbers: spaces, dashes, a leading 00, no plus.
        #expect(try search("+44 20 7123 4567") == [5, 3, 2, 1])
        #expect(try search("0044-20-7123-4567") == [5, 3, 2, 1])
        #expect(try search("442071234567") == [5, 3, 2, 1])
        // The ends of a range are inside it.
        #expect(try search("+442071239999") == [5, 1])
        #expect(try search("+442071230000") == [5, 1])
        #expect(try search("+442071240000") == [5])
        #expect(try search("+442069999999").isEmpty)
    }

    @Test func idsOrderIdsAndEveryTrackingIdARowHadAreFound() throws {
        try insert("+442071234567")
        try insert("+442071234568")
        // Row 2: sent once under one tracking id, rejected, then sent again under another.
        try sql("""
            UPDATE requests SET state = 'submitting', tracking_id = 'first-tracking-id' WHERE id = 2;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome)
                VALUES (2, 1, 'first-tracking-id', '2026-12-01T10:00:00.000Z', '2026-12-01T10:00:01.000Z', 'rejected');
            UPDATE requests SET state = 'rejected' WHERE id = 2;
            UPDATE requests SET state = 'queued', tracking_id = 'second-tracking-id' WHERE id = 2;
            UPDATE requests SET state = 'submitting', tracking_id = 'one-tracking-id' WHERE id = 1;
            UPDATE requests SET state = 'in_progress', order_id = 'ORD-777', next_check_at = '2026-12-01T11:00:00.000Z' WHERE id = 1;
            """)
        #expect(try search("first-tracking-id") == [2])
        #expect(try search("second-tracking-id") == [2])
        #expect(try search("ORD-777") == [1])
        #expect(try search("#2") == [2])
        #expect(try search("2") == [2])
        #expect(try search("no-such-thing").isEmpty)
        #expect(try database.useNow { try Ledger.search($0, "+442071234567").understoodAs } == ["number", "order id or tracking id"])
    }

    @Test func hoursWithoutOrdersAreZerosAndTimesToCompletionAreBucketed() throws {
        let now = Timestamp.date("2026-12-02T12:30:00.000Z")!
        for (index, (sent, completed)) in [("2026-12-02T10:00:00.000Z", "2026-12-02T10:00:30.000Z"),   // 30 s
                                           ("2026-12-02T10:10:00.000Z", "2026-12-02T10:20:00.000Z"),   // 10 min
                                           ("2026-12-02T09:00:00.000Z", "2026-12-02T12:00:00.000Z")]   // 3 h
            .enumerated()
        {
            let id = index + 1
            try insert("+44207123456\(id)")
            try sql("""
                UPDATE requests SET state = 'submitting', tracking_id = 't-\(id)', first_attempt_at = '\(sent)' WHERE id = \(id);
                INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome)
                    VALUES (\(id), 1, 't-\(id)', '\(sent)', '\(sent)', 'accepted');
                UPDATE requests SET state = 'in_progress', order_id = 'ORD-\(id)', next_check_at = '\(sent)' WHERE id = \(id);
                UPDATE requests SET state = 'completed', completed_at = '\(completed)' WHERE id = \(id);
                """)
        }
        let hours = try database.useNow { try Ledger.hourlyActivity($0, since: now.addingTimeInterval(-4 * 3600), now: now) }
        #expect(hours.map(\.hour) == ["2026-12-02T08", "2026-12-02T09", "2026-12-02T10", "2026-12-02T11", "2026-12-02T12"])
        #expect(hours.map(\.accepted) == [0, 1, 2, 0, 0])
        #expect(hours.map(\.completed) == [0, 0, 2, 0, 1])
        let times = try database.useNow { try Ledger.completionTimes($0, since: now.addingTimeInterval(-86_400)) }
        #expect(times.counts == [1, 0, 1, 0, 1, 0, 0, 0, 0, 0])
        #expect(abs((times.medianSeconds ?? 0) - 600) <= 3, "the median, within 0.5 %")
        let none = try database.useNow { try Ledger.completionTimes($0, since: now) }
        #expect(none.counts.allSatisfy { $0 == 0 } && none.medianSeconds == nil)
    }

    @Test func theRejectionsOfTheLastDayAreCountedAndListedNewestFirst() throws {
        for id in 1...3 {
            try insert("+44207123456\(id)")
            try sql("""
                UPDATE requests SET state = 'submitting', tracking_id = 't-\(id)' WHERE id = \(id);
                UPDATE requests SET state = 'rejected', last_error = 'Colt said no \(id)', colt_code = '010',
                    updated_at = '2026-12-0\(id)T10:00:00.000Z' WHERE id = \(id);
                """)
        }
        let found = try database.useNow { try Ledger.rejections($0, since: Timestamp.date("2026-12-02T00:00:00.000Z")!) }
        #expect(found.count == 2)
        #expect(found.byCode.map(\.code) == ["010"] && found.byCode.map(\.count) == [2])
        #expect(found.latest.map(\.id) == [3, 2])
        #expect(found.latest.first?.message == "Colt said no 3")
    }

    /// Without migration 5's indexes each of these reads the whole table; on a ledger of a
    /// million rows that is the difference between a page in milliseconds and in seconds.
    @Test func everyPageQueryIsAnsweredFromAnIndex() throws {
        let plans: [(String, String)] = [
            ("requests_number_search", """
                SELECT id FROM requests
                WHERE length(CAST(CAST(substr(coalesce(range_end, range_start), 2) AS INTEGER) - CAST(substr(range_start, 2) AS INTEGER) AS TEXT)) = 1
                  AND range_start BETWEEN '+442071234558' AND '+442071234567' AND coalesce(range_end, range_start) >= '+442071234567'
                  AND length(range_start) = 13
                """),
            ("attempts_accepted", "SELECT substr(ended_at, 1, 13), count(*) FROM attempts WHERE outcome = 'accepted' AND ended_at >= '2026-12-01' GROUP BY 1"),
            ("requests_completed", "SELECT substr(completed_at, 1, 13), count(*) FROM requests WHERE completed_at >= '2026-12-01' GROUP BY 1"),
            ("requests_created", "SELECT id FROM requests WHERE created_at >= '2026-12-01' ORDER BY created_at"),
            ("requests_attention", "SELECT count(*) FROM requests WHERE state = 'completed' AND attention IS NOT NULL"),
            ("requests_attention", "SELECT id, reason FROM ledger_attention ORDER BY id DESC LIMIT 10"),
        ]
        for (index, query) in plans {
            let plan = try sqlite3(path, "EXPLAIN QUERY PLAN \(query)").stdout
            #expect(plan.contains(index), "\(index): \(plan)")
            // A whole-table read shows as a bare `SCAN requests`; `SCAN ... USING INDEX` of a partial index is not one.
            let lines = plan.split(separator: "\n")
            #expect(!lines.contains { $0.hasSuffix("SCAN requests") || $0.hasSuffix("SCAN attempts") }, "\(plan)")
        }
    }
}
