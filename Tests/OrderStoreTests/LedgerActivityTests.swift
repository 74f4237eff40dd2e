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
        // An order accepted at 08:10, before the window's start (08:30), is in the 08:00 bar: a bar is a whole hour.
        try insert("+442071234569")
        try sql("""
            UPDATE requests SET state = 'submitting', tracking_id = 't-4' WHERE id = 4;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome)
                VALUES (4, 1, 't-4', '2026-12-02T08:10:00.000Z', '2026-12-02T08:10:01.000Z', 'accepted');
            """)
        let hours = try database.useNow { try Ledger.hourlyActivity($0, since: now.addingTimeInterval(-4 * 3600), now: now) }
        #expect(hours.map(\.hour) == ["2026-12-02T08", "2026-12-02T09", "2026-12-02T10", "2026-12-02T11", "2026-12-02T12"])
        #expect(hours.map(\.accepted) == [1, 1, 2, 0, 0])
        #expect(hours.map(\.completed) == [0, 0, 2, 0, 1])
        let times = try database.useNow { try Ledger.completionTimes($0, since: now.addingTimeInterval(-86_400)) }
        #expect(times.counts == [1, 0, 1, 0, 1, 0, 0, 0, 0, 0])
        #expect(times.median?.lower == 600 && times.median?.upper == 900, "the median's bin: 10 to 15 minutes")
        let none = try database.useNow { try Ledger.completionTimes($0, since: now.addingTimeInterval(3600)) }
        #expect(none.counts.allSatisfy { $0 == 0 } && none.median == nil)
        // The totals were kept by the triggers as the rows were written, and a migration of an
        // existing ledger counts the same: drop them, migrate again from scratch, compare.
        let kept = try sqlite3(path, "SELECT * FROM hourly_orders ORDER BY hour; SELECT * FROM hourly_completion_times ORDER BY hour, bin").stdout
        #expect(kept.contains("2026-12-02T12|0|1"), "\(kept)")
    }

    @Test func aPageLooksThroughABoundedStretchOfIdsAndSaysWhereItStopped() throws {
        try sql("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
            INSERT INTO requests (action, country, range_start, created_at)
            SELECT 'return', CASE WHEN i IN (5, 90) THEN 'SK' ELSE 'GB' END, '+4420712' || printf('%05d', i),
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (100 - i) || ' hours') FROM n;
            """)
        // A rare country: the first page looks through ids 71 to 100, finds 90, and says where it stopped.
        let first = try database.useNow { try Ledger.list($0, filter: LedgerFilter(country: "SK", examineAtMost: 30)) }
        #expect(first.entries.map(\.id) == [90] && first.stoppedAt == 71 && first.nextBefore == 71)
        // Going on from there finds 5 in the end, and the last stretch reaches the first row.
        var before = first.nextBefore, found: [Int64] = []
        while let next = before {
            let page = try database.useNow { try Ledger.list($0, filter: LedgerFilter(country: "SK", before: next, examineAtMost: 30)) }
            found += page.entries.map(\.id)
            before = page.nextBefore
        }
        #expect(found == [5])
        // Without a bound (the CLI) one page holds both.
        #expect(try database.useNow { try Ledger.list($0, filter: LedgerFilter(country: "SK")) }.entries.map(\.id) == [90, 5])
        // "Newer than": no row below the oldest that is new enough is read, and none is missed.
        let recent = try database.useNow { try Ledger.list($0, filter: LedgerFilter(since: Date().addingTimeInterval(-3.5 * 3600), examineAtMost: 30)) }
        #expect(recent.entries.map(\.id) == [100, 99, 98, 97] && recent.stoppedAt == nil && recent.nextBefore == nil)
        #expect(try database.useNow { try Ledger.list($0, filter: LedgerFilter(since: Date().addingTimeInterval(3600))) }.entries.isEmpty)
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

    /// Without migration 5 each of these reads a whole table; on a ledger of a million rows that
    /// is the difference between a page in milliseconds and in seconds. SQLite counts the rows
    /// its statements step through in full scans: the page's real queries must step through none.
    @Test func everyPageQueryIsAnsweredFromAnIndex() throws {
        try sql("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
            INSERT INTO requests (action, country, range_start, range_end) SELECT 'return', 'GB', '+4420712' || printf('%05d', i * 10),
                '+4420712' || printf('%05d', i * 10 + 9) FROM n;
            UPDATE requests SET state = 'submitting', tracking_id = 't-' || id, first_attempt_at = created_at;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, outcome)
                SELECT id, 1, tracking_id, created_at, created_at, CASE WHEN id % 4 = 0 THEN 'rejected' ELSE 'accepted' END FROM requests;
            UPDATE requests SET state = 'rejected', last_error = 'no' WHERE id % 4 = 0;
            UPDATE requests SET state = 'in_progress', order_id = 'ORD-' || id, next_check_at = '2099-01-01T00:00:00.000Z' WHERE id % 4 <> 0;
            INSERT INTO order_numbers (request_id, first_number, last_number, numbers, status, order_id, expected, checked_at)
                SELECT id, range_start, range_end, 10, 'Activated', order_id, 1, created_at FROM requests WHERE state = 'in_progress';
            UPDATE requests SET state = 'completed', completed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id % 4 = 1;
            UPDATE requests SET attention = 'stalled: in progress for 6 days' WHERE id = 3;
            """)
        let connection = try Connection(path: path, mode: .readOnly)
        let now = Date()
        func fullScans(_ what: String, _ body: () throws -> Void) throws -> Int {
            _ = connection.fullScanSteps()
            try body()
            return connection.fullScanSteps()
        }
        let queries: [(String, () throws -> Void)] = [
            ("search by a number inside a range", { _ = try Ledger.search(connection, "+442071200015") }),
            ("search by an order id", { _ = try Ledger.search(connection, "ORD-7") }),
            ("search by a tracking id", { _ = try Ledger.search(connection, "t-8") }),
            ("search for nothing", { _ = try Ledger.search(connection, "nothing-here") }),
            ("search by id", { _ = try Ledger.search(connection, "#12") }),
            ("rejections of the day", { _ = try Ledger.rejections(connection, since: now.addingTimeInterval(-86_400)) }),
            ("orders per hour", { _ = try Ledger.hourlyActivity(connection, since: now.addingTimeInterval(-7 * 86_400), now: now) }),
            ("time to completion", { _ = try Ledger.completionTimes(connection, since: now.addingTimeInterval(-7 * 86_400)) }),
            ("a ledger page", { _ = try Ledger.list(connection, filter: LedgerFilter(before: 300)) }),
            ("a ledger page by state", { _ = try Ledger.list(connection, filter: LedgerFilter(state: "rejected")) }),
            ("a ledger page of the last hour", { _ = try Ledger.list(connection, filter: LedgerFilter(since: now.addingTimeInterval(-3600))) }),
            ("a rare filter", { _ = try Ledger.list(connection, filter: LedgerFilter(country: "SK", examineAtMost: 100)) }),
            ("one request", { _ = try Ledger.entry(connection, id: 9); _ = try Ledger.attempts(connection, requestID: 9); _ = try Ledger.numbers(connection, requestID: 9) }),
        ]
        for (what, body) in queries {
            #expect(try fullScans(what, body) == 0, "\(what) read a whole table")
        }
        // The overview's status reads one index whole (the counts by state), nothing else.
        let statusSteps = try fullScans("status") { _ = try Ledger.status(connection, now: now) }
        #expect(statusSteps <= 401, "status: \(statusSteps) full-scan steps, more than one pass over requests_state")
        // And the count is real: without the order id index, a search reads order_numbers whole.
        try sql("DROP INDEX order_numbers_order_id")
        let again = try Connection(path: path, mode: .readOnly)
        _ = try Ledger.search(again, "ORD-7")
        #expect(again.fullScanSteps() >= 200, "300 rows of order_numbers read one by one")
    }
}
