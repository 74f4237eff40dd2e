import ColtModel
import Foundation
import OrderStore
import Testing
import TestSupport

/// Claiming and recording, against a real database file.
@Suite struct QueueTests {
    let directory: TemporaryDirectory
    let path: String
    let queue: RequestQueue

    init() throws {
        directory = try TemporaryDirectory("queue")
        path = directory.file("orders.db")
        let database = try Database(path: path)
        try database.useNow { _ = try Migrator.migrate($0) }
        queue = RequestQueue(database: database)
    }

    func insert(_ start: String, _ end: String? = nil, tracking: String? = nil) throws {
        let endSQL = end.map { "'\($0)'" } ?? "NULL"
        let trackingSQL = tracking.map { "'\($0)'" } ?? "NULL"
        let result = try sqlite3(path, "INSERT INTO requests (action, country, range_start, range_end, tracking_id) VALUES ('return', 'GB', '\(start)', \(endSQL), \(trackingSQL))")
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func theTrackingIDIsCommittedBeforeTheClaimReturns() async throws {
        try insert("+442081324758")
        try insert("+442081324759", tracking: "operator-chosen-1")
        let batch = try await queue.claimDue(now: Date(), limit: 10)
        #expect(batch.claimed.count == 2)
        // Another connection (the sqlite3 CLI) already sees them: committed, not pending.
        let stored = try sqlite3(path, "SELECT id, state, tracking_id FROM requests ORDER BY id").stdout
        for claim in batch.claimed {
            #expect(stored.contains("\(claim.id)|submitting|\(claim.trackingID)"), "\(stored)")
        }
        #expect(batch.claimed[1].trackingID.text == "operator-chosen-1")
        #expect(try sqliteValue(path, "SELECT count(*) FROM attempts WHERE ended_at IS NULL") == "2")
    }

    @Test func overlappingRangesAreClaimedOneAtATimeInIDOrder() async throws {
        try insert("+442081324700", "+442081324799")   // 1
        try insert("+442081324750")                    // 2: inside 1
        try insert("+442081324800")                    // 3: disjoint
        try insert("+4420813247500")                   // 4: another length, so another number
        try insert("+442081324799", "+442081324805")   // 5: overlaps 1 and 3
        let first = try await queue.claimDue(now: Date(), limit: 10)
        #expect(first.claimed.map(\.id) == [1, 3, 4])
        // While 1 and 3 are in flight, nothing that overlaps them goes.
        #expect(try await queue.claimDue(now: Date(), limit: 10).claimed.isEmpty)
        for claim in first.claimed where claim.id == 1 {
            try await queue.record([AttemptRecord(
                claim: claim, endedAt: Date(), httpStatus: 201, outcome: "accepted", detail: "ok", responseBody: nil,
                durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: .accepted(orderID: "ORD-1", orderStatus: "In progress"))])
        }
        // 2 may go now; 5 still waits for 3.
        #expect(try await queue.claimDue(now: Date(), limit: 10).claimed.map(\.id) == [2])
    }

    /// Many overlapping ranges, claimed in batches of every size while earlier claims end one
    /// way or another (accepted, to be sent again, to be reconciled): rows in flight never
    /// overlap, no row goes before an earlier one it overlaps, and every row goes in the end. A claim
    /// checks its candidates once (the query that lists them), so this pins that no two
    /// candidates of one batch can overlap.
    @Test(arguments: [UInt64(1), 2, 3])
    func claimsNeverPutOverlappingRowsInFlight(seed: UInt64) async throws {
        var random = SplitMix(state: seed)
        let rows = 120
        let statements = (0..<rows).map { _ in
            let start = Int.random(in: 0..<200, using: &random)
            let end = start + Int.random(in: 0..<8, using: &random)
            return "INSERT INTO requests (action, country, range_start, range_end) VALUES ('return', 'GB', '+4420813\(String(format: "%05d", start))', '+4420813\(String(format: "%05d", end))');"
        }
        #expect(try sqlite3(path, "BEGIN; " + statements.joined(separator: " ") + " COMMIT;").status == 0)
        func range(_ claim: ClaimedRequest) -> (Int, Int) {
            (Int(claim.request.range.start.text.dropFirst(8))!, Int(claim.request.range.end.text.dropFirst(8))!)
        }
        var inFlight: [ClaimedRequest] = []
        var settled = 0
        for _ in 0..<10_000 where settled < rows {
            let batch = try await queue.claimDue(now: Date(), limit: Int.random(in: 1...12, using: &random))
            inFlight += batch.claimed
            // In id order too: no earlier overlapping row was still waiting to go.
            if !batch.claimed.isEmpty {
                let ids = batch.claimed.map { String($0.id) }.joined(separator: ",")
                let passed = try sqliteValue(path, """
                    SELECT count(*) FROM requests c JOIN requests o ON o.id < c.id
                    WHERE c.id IN (\(ids)) AND o.state IN ('queued', 'retrying', 'reconciling')
                      AND o.range_start <= c.range_end AND o.range_end >= c.range_start
                    """)
                #expect(passed == "0", "a claim in \(ids) went before an earlier row it overlaps")
            }
            for (i, a) in inFlight.enumerated() {
                for b in inFlight[(i + 1)...] where range(a).0 <= range(b).1 && range(b).0 <= range(a).1 {
                    Issue.record("rows \(a.id) \(range(a)) and \(b.id) \(range(b)) are in flight together")
                }
            }
            // End some of those in flight: accepted, refused, or sent again later.
            inFlight.shuffle(using: &random)
            let ending = inFlight.prefix(Int.random(in: 0...inFlight.count, using: &random))
            inFlight.removeFirst(ending.count)
            try await queue.record(ending.map { claim in
                let transition: AttemptRecord.Transition = switch Int.random(in: 0..<6, using: &random) {
                case 0: .retry(at: Date().addingTimeInterval(-1), countsAsAttempt: true)
                case 1: .reconcile(at: Date().addingTimeInterval(-1), countsAsAttempt: false)
                default: .accepted(orderID: "ORD-\(claim.id)-\(claim.attempt)", orderStatus: "In progress")
                }
                return AttemptRecord(
                    claim: claim, endedAt: Date(), httpStatus: 201, outcome: "accepted", detail: "", responseBody: nil,
                    durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: transition)
            })
            settled = try Int(sqliteValue(path, "SELECT count(*) FROM requests WHERE state = 'in_progress'")) ?? 0
        }
        #expect(settled == rows)
    }

    @Test func anOlderRowSentAgainNeverRacesANewerOneInFlight() async throws {
        try insert("+442081324758")   // 1: will fail, then be sent again by an operator
        try insert("+442081324758")   // 2: the same number, queued later
        let first = try #require(try await queue.claimDue(now: Date(), limit: 1).claimed.first)
        try await queue.record([AttemptRecord(
            claim: first, endedAt: Date(), httpStatus: 500, outcome: "server_error", detail: "HTTP 500", responseBody: nil,
            durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: .failed)])
        let second = try #require(try await queue.claimDue(now: Date(), limit: 1).claimed.first)
        #expect(second.id == 2)
        // `colt-orders retry 1` while row 2 is in flight: row 1 is older, yet it must wait.
        _ = try sqlite3(path, "UPDATE requests SET state = 'queued', tracking_id = 'again-1', attempts = 0 WHERE id = 1")
        #expect(try await queue.claimDue(now: Date(), limit: 10).claimed.isEmpty)
        try await queue.record([AttemptRecord(
            claim: second, endedAt: Date(), httpStatus: 201, outcome: "accepted", detail: "ok", responseBody: nil,
            durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: .accepted(orderID: "ORD-2", orderStatus: "In progress"))])
        #expect(try await queue.claimDue(now: Date(), limit: 10).claimed.map(\.id) == [1])
    }

    @Test func rowsBehindABlockedOneStillGo() async throws {
        try insert("+442081324700", "+442081324799")   // 1: a range, in flight
        for n in 0..<40 { try insert("+4420813247\(String(format: "%02d", n))") }   // 2-41: inside it
        try insert("+442081329999")                    // 42: elsewhere
        #expect(try await queue.claimDue(now: Date(), limit: 1).claimed.map(\.id) == [1])
        #expect(try await queue.claimDue(now: Date(), limit: 4).claimed.map(\.id) == [42], "40 blocked rows do not hide row 42")
    }

    @Test func aRetryingRowWaitsForItsTimeAndKeepsItsTrackingID() async throws {
        try insert("+442081324758")
        let claim = try #require(try await queue.claimDue(now: Date(), limit: 1).claimed.first)
        let later = Date().addingTimeInterval(60)
        try await queue.record([AttemptRecord(
            claim: claim, endedAt: Date(), httpStatus: 503, outcome: "server_error", detail: "HTTP 503", responseBody: "busy",
            durationMilliseconds: 5, mayHaveCreatedOrder: true, transition: .retry(at: later, countsAsAttempt: true))])
        #expect(try await queue.claimDue(now: Date(), limit: 1).claimed.isEmpty)
        let retried = try #require(try await queue.claimDue(now: later.addingTimeInterval(1), limit: 1).claimed.first)
        #expect(retried.trackingID == claim.trackingID)
        #expect(retried.attempt == 2)
        #expect(retried.outcomeUnknown)
        #expect(try sqliteValue(path, "SELECT attempts || ' ' || outcome_unknown FROM requests") == "1 1")
    }

    @Test func rowsLeftSubmittingAreResumedWithTheirOwnTrackingID() async throws {
        try insert("+442081324758")
        let claim = try #require(try await queue.claimDue(now: Date(), limit: 1).claimed.first)
        // The process dies here. The next one recovers the row:
        let recovered = try await queue.recoverInterrupted(now: Date())
        #expect(recovered.map(\.trackingID) == [claim.trackingID.text])
        #expect(try sqliteValue(path, "SELECT outcome FROM attempts") == "interrupted")
        let resumed = try #require(try await queue.claimDue(now: Date().addingTimeInterval(1), limit: 1).claimed.first)
        #expect(resumed.trackingID == claim.trackingID)
        #expect(resumed.outcomeUnknown)
    }

    /// Rows claimed ahead and never sent go back exactly as they were: state, schedule and
    /// first attempt time; the journal rows their claims opened are gone; the tracking id stays.
    @Test func rowsClaimedButNeverSentArePutBackAsTheyWere() async throws {
        try insert("+442081324701")                                   // 1: retrying after a 503
        try insert("+442081324702")                                   // 2: queued, never sent
        let first = try #require(try await queue.claimDue(now: Date(), limit: 1).claimed.first)
        let due = Date().addingTimeInterval(-5)
        try await queue.record([AttemptRecord(
            claim: first, endedAt: Date(), httpStatus: 503, outcome: "server_error", detail: "HTTP 503", responseBody: nil,
            durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: .retry(at: due, countsAsAttempt: true))])
        try insert("+442081324703")                                   // 3: queued
        let columns = "SELECT id, state, attempts, next_attempt_at, first_attempt_at, tracking_id FROM requests ORDER BY id"
        let was = try sqlite3(path, columns).stdout.split(separator: "\n")
        let claimed = try await queue.claimDue(now: Date(), limit: 10).claimed
        #expect(claimed.map(\.id) == [1, 2, 3])
        #expect(try sqliteValue(path, "SELECT count(*) FROM attempts WHERE ended_at IS NULL") == "3")
        // Row 3 is sent and answered meanwhile: it is no longer the claim's to put back.
        try await queue.record([AttemptRecord(
            claim: claimed[2], endedAt: Date(), httpStatus: 201, outcome: "accepted", detail: "ok", responseBody: nil,
            durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: .accepted(orderID: "ORD-3", orderStatus: "In progress"))])

        #expect(try await queue.release(claimed, now: Date()) == 2)
        let after = try sqlite3(path, columns).stdout.split(separator: "\n")
        #expect(after[0] == was[0], "row 1 is retrying, due, as it was")
        // Row 2 as it was, but for the tracking id its claim gave it (it had none).
        #expect(was[1] == "2|queued|0|||", "\(was[1])")
        #expect(after[1] == "2|queued|0|||\(claimed[1].trackingID)", "\(after[1])")
        #expect(after[2].hasPrefix("3|in_progress|1|"))
        #expect(try sqliteValue(path, "SELECT count(*) FROM attempts WHERE ended_at IS NULL") == "0")
        #expect(try sqlite3(path, "SELECT request_id, outcome FROM attempts ORDER BY id").stdout == "1|server_error\n3|accepted\n")
        // Claimed again, each row sends the tracking id it had.
        let again = try await queue.claimDue(now: Date(), limit: 10).claimed
        #expect(again.map(\.trackingID) == [claimed[0].trackingID, claimed[1].trackingID])
        #expect(again.map(\.attempt) == [2, 1])
    }

    /// The schema keeps operators from doing the same by hand while a request may be on the
    /// wire: a `submitting` row with an open journal row cannot go back to the queue.
    @Test func aRowInFlightCannotBePutBackByHand() async throws {
        try insert("+442081324701")
        _ = try await queue.claimDue(now: Date(), limit: 1)
        let refused = try sqlite3(path, "UPDATE requests SET state = 'queued' WHERE id = 1")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("requests.state"), "\(refused.stderr)")
        #expect(try sqliteValue(path, "SELECT state FROM requests") == "submitting")
    }

    /// After a 401 the refused attempt's journal row is closed before the resend's is opened: in
    /// that moment the row has no open journal row, yet it is on its way to Colt again. Only a
    /// claim whose tracking id no journal row carries may go back to the queue (schema 7).
    @Test func aRowBetweenARefusedTokenAndItsResendCannotBePutBackByHand() async throws {
        try insert("+442081324701")
        let claim = try #require(try await queue.claimDue(now: Date(), limit: 1).claimed.first)
        try await queue.record([AttemptRecord(
            claim: claim, endedAt: Date(), httpStatus: 401, outcome: "unauthorized", detail: "HTTP 401", responseBody: nil,
            durationMilliseconds: 5, mayHaveCreatedOrder: false, transition: .resendNow)])
        #expect(try sqliteValue(path, "SELECT state || '|' || (SELECT count(*) FROM attempts WHERE ended_at IS NULL) FROM requests") == "submitting|0")
        let refused = try sqlite3(path, "UPDATE requests SET state = 'queued' WHERE id = 1")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("requests.state"), "\(refused.stderr)")
        #expect(try await queue.release([claim], now: Date()) == 0, "its journal row is closed: not the claim's to take back")
        #expect(try sqliteValue(path, "SELECT state FROM requests") == "submitting")
        // The resend's journal row, as the engine opens it next.
        _ = try await queue.reopen(claim, now: Date())
        #expect(try sqliteValue(path, "SELECT count(*) FROM attempts WHERE ended_at IS NULL") == "1")
    }

    @Test func aNULByteThatBypassedTheChecksMakesTheRowInvalid() async throws {
        _ = try sqlite3(path, """
            PRAGMA ignore_check_constraints = ON;
            DROP TRIGGER requests_text_insert;
            DROP TRIGGER requests_text_update;
            INSERT INTO requests (action, country, range_start, tracking_id) VALUES ('return', 'GB', '+442081324758', 'ab' || char(0) || 'cd');
            """)
        let batch = try await queue.claimDue(now: Date(), limit: 10)
        #expect(batch.claimed.isEmpty, "the daemon reads every byte, so it never sends 'ab' in place of 'ab\\0cd'")
        #expect(batch.invalid.first?.error.column == "tracking_id")
    }

    @Test func aRowThatBypassedTheChecksBecomesInvalidAndIsNeverSent() async throws {
        _ = try sqlite3(path, """
            PRAGMA ignore_check_constraints = ON;
            INSERT INTO requests (action, country, range_start) VALUES ('return', 'XX', '+442081324758');
            """)
        try insert("+442081324759")
        let batch = try await queue.claimDue(now: Date(), limit: 10)
        #expect(batch.claimed.map(\.id) == [2])
        #expect(batch.invalid.map(\.id) == [1])
        let row = try sqliteValue(path, "SELECT state || '|' || last_error FROM requests WHERE id = 1")
        #expect(row.hasPrefix("invalid|"))
        #expect(row.contains("country"), "\(row)")
        #expect(try sqliteValue(path, "SELECT count(*) FROM attempts WHERE request_id = 1") == "0")
    }

    /// A BLOB range (the triggers dropped, the checks off) would escape the overlap rule: it is
    /// invalid, never sent, and an overlapping text row is not held up by it.
    @Test func aBlobRangeThatBypassedTheChecksIsInvalid() async throws {
        let result = try sqlite3(path, """
            PRAGMA ignore_check_constraints = ON;
            DROP TRIGGER requests_text_insert;
            INSERT INTO requests (action, country, range_start, range_end) VALUES ('return', 'GB', CAST('+442081324758' AS BLOB), CAST('+442081324758' AS BLOB));
            """)
        #expect(result.status == 0, "\(result.stderr)")
        let batch = try await queue.claimDue(now: Date(), limit: 10)
        #expect(batch.claimed.isEmpty)
        #expect(batch.invalid.first?.error.column == "range_start")
        #expect(try sqliteValue(path, "SELECT state FROM requests WHERE id = 1") == "invalid")
    }
}
