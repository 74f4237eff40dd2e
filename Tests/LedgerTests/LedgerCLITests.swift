import ColtSandbox
import Foundation
import Testing
import TestSupport

/// A fresh database made by `colt-orders migrate`, driven through the real binary.
struct Ledger {
    let directory: TemporaryDirectory
    let database: String

    init() throws {
        directory = try TemporaryDirectory("ledger")
        database = directory.file("orders.db")
        let result = try run(builtBinary(), ["migrate", "--database", database])
        guard result.status == 0 else { throw TestFailure("migrate failed: \(result.stderr)") }
    }

    /// Runs `colt-orders ARGS --database DB`.
    func cli(_ arguments: String..., input: String? = nil) throws -> ProcessResult {
        try run(builtBinary(), arguments + ["--database", database], input: input)
    }

    func sql(_ statements: String) throws {
        let result = try run("/usr/bin/sqlite3", ["-bail", "-cmd", ".timeout 5000", database, statements])
        guard result.status == 0 else { throw TestFailure("sqlite3 failed: \(result.stderr)") }
    }

    func value(_ query: String) throws -> String { try sqliteValue(database, query) }

    /// Every column of every row, to show that a refused action changed nothing.
    func snapshot() throws -> String {
        try sqlite3(database, "SELECT * FROM requests ORDER BY id; SELECT * FROM attempts ORDER BY id;").stdout
    }

    func remove() { directory.remove() }
}

@Suite struct LedgerCLITests {
    @Test func enqueueValidatesFlagsAndCSVAllOrNothing() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }

        var result = try ledger.cli("enqueue", "--action", "return", "--country", "GB", "--range-start", "+442081324758", "--service-profile", "ANH")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "queued request 1\n")
        #expect(try ledger.value("SELECT action||country||range_start||range_end||service_profile||state FROM requests WHERE id = 1")
                == "returnGB+442081324758+442081324758ANHqueued")

        // A bad flag: named, nothing written.
        result = try ledger.cli("enqueue", "--action", "return", "--country", "UK", "--range-start", "+442081324758")
        #expect(result.status == 1)
        #expect(result.stderr.contains("--country: must be one of GB DE"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was queued"))

        // A good CSV: every line queued in one go.
        let good = try ledger.directory.write("good.csv", """
            action,country,range_start,range_end,service_profile,tracking_id
            return,GB,+442081324760,+442081324762,ANH,
            "reactivate",DE,+496930000001,,,my-own-id-1

            """)
        result = try ledger.cli("enqueue", "--csv", good)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "queued 2 requests: ids 2 to 3\n")
        #expect(try ledger.value("SELECT tracking_id FROM requests WHERE id = 3") == "my-own-id-1")

        let before = try ledger.snapshot()
        // A malformed line among good ones: every problem with its line number, nothing queued.
        let bad = try ledger.directory.write("bad.csv", """
            action,country,range_start,range_end
            return,GB,+442081324770,
            return,GB,+442081324771,+44208132477
            return,GB,"+442081324772
            reactivate,XX,+442081324773,
            return,GB,+442081324774,

            """)
        result = try ledger.cli("enqueue", "--csv", bad)
        #expect(result.status == 1)
        #expect(result.stderr.contains("bad.csv line 3: range_end:"), "\(result.stderr)")
        #expect(result.stderr.contains("bad.csv line 4: a quoted field is not closed"), "\(result.stderr)")
        #expect(!result.stderr.contains("line 2"), "line 2 is fine")
        #expect(try ledger.snapshot() == before, "nothing was queued")

        // A line that only the database can refuse (a tracking id already used): rolled back, with its line.
        let reused = try ledger.directory.write("reused.csv", """
            action,country,range_start,tracking_id
            return,GB,+442081324780,fresh-id
            return,GB,+442081324781,my-own-id-1

            """)
        result = try ledger.cli("enqueue", "--csv", reused)
        #expect(result.status == 1)
        #expect(result.stderr.contains("reused.csv line 3: requests.tracking_id: already used"), "\(result.stderr)")
        #expect(try ledger.snapshot() == before, "line 2 was rolled back with line 3")

        // A header that is not ours.
        let header = try ledger.directory.write("header.csv", "action,country,number\nreturn,GB,+442081324790\n")
        result = try ledger.cli("enqueue", "--csv", header)
        #expect(result.status == 1)
        #expect(result.stderr.contains("line 1: unknown column 'number'"), "\(result.stderr)")
        #expect(result.stderr.contains("lacks the column 'range_start'"), "\(result.stderr)")

        // CSV from standard input.
        result = try ledger.cli("enqueue", "--csv", "-", input: "action,country,range_start\nreturn,FR,+33140000001\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try ledger.value("SELECT count(*) FROM requests") == "4")
    }

    /// What a spreadsheet writes: a byte-order mark, CRLF line ends, quoted fields.
    @Test func csvFromASpreadsheetIsRead() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        let sheet = try ledger.directory.write("sheet.csv",
            "\u{FEFF}action,country,\"range_start\",range_end,service_profile\r\nreturn,GB,\"+442081324780\",,\"ANH\"\r\nreturn,GB,+442081324781,+442081324782,ANH\r\n")
        let result = try ledger.cli("enqueue", "--csv", sheet)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try ledger.value("SELECT group_concat(range_start || '-' || range_end || '-' || service_profile, ' ') FROM requests")
                == "+442081324780-+442081324780-ANH +442081324781-+442081324782-ANH")
    }

    @Test func statusListAndShowReadTheLedger() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        let csv = "action,country,range_start\n" + (0..<7).map { "return,\($0 < 5 ? "GB" : "DE"),+4420813247\(60 + $0)" }.joined(separator: "\n")
        #expect(try ledger.cli("enqueue", "--csv", "-", input: csv).status == 0)
        try ledger.sql("""
            UPDATE requests SET created_at = '2026-01-01T00:00:00.000Z' WHERE id = 1;
            UPDATE requests SET state = 'submitting' WHERE id IN (2, 4);
            UPDATE requests SET state = 'retrying', attempts = 2, next_attempt_at = '2030-01-01T00:00:00.000Z', created_at = '2026-01-02T00:00:00.000Z' WHERE id = 2;
            UPDATE requests SET state = 'submitting' WHERE id = 3;
            UPDATE requests SET state = 'in_progress', order_id = 'ORD-1', order_status = 'In progress', attempts = 1, next_check_at = '2030-01-01T00:00:00.000Z' WHERE id = 3;
            UPDATE requests SET state = 'rejected', colt_code = 'NUMBER_NOT_FOUND', last_error = 'HTTP 404 from Colt: number not in your inventory', attempts = 1, tracking_id = 't-4' WHERE id = 4;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, http_status, outcome, colt_code, colt_message, detail, duration_ms)
            VALUES (4, 1, 't-4', '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.120Z', 404, 'rejected', 'NUMBER_NOT_FOUND', 'number not in your inventory', 'HTTP 404 from Colt', 120);
            """)

        var result = try ledger.cli("status")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("daemon    not running"))
        for (state, count) in [("queued", 4), ("retrying", 1), ("in_progress", 1), ("rejected", 1), ("cancelled", 0), ("total", 7)] {
            #expect(result.stdout.contains(where: { _ in true }) && result.stdout.split(separator: "\n").contains { $0.split(separator: " ").map(String.init) == [state, String(count)] },
                    "\(state) \(count) in:\n\(result.stdout)")
        }
        #expect(result.stdout.contains("oldest queued       #1,"), "\(result.stdout)")
        #expect(result.stdout.contains("oldest retrying     #2,"), "\(result.stdout)")
        #expect(result.stdout.contains("oldest reconciling  none"), "\(result.stdout)")
        #expect(result.stdout.contains("number not in your inventory"))

        result = try ledger.cli("status", "--json")
        let status = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((status?["counts"] as? [String: Int])?["queued"] == 4)
        #expect((status?["daemon"] as? [String: Any])?["running"] as? Bool == false)
        #expect((status?["oldest_queued"] as? [String: Any])?["id"] as? Int == 1)
        #expect(((status?["oldest_queued"] as? [String: Any])?["age_seconds"] as? Int ?? 0) > 86400)
        #expect((status?["recent_rejections"] as? [[String: Any]])?.first?["colt_code"] as? String == "NUMBER_NOT_FOUND")

        // list: newest first, filters, pages.
        result = try ledger.cli("list", "--state", "queued")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(ids(result.stdout) == [7, 6, 5, 1])
        #expect(ids(try ledger.cli("list", "--country", "DE").stdout) == [7, 6])
        #expect(ids(try ledger.cli("list", "--action", "reactivate").stdout) == [])
        #expect(ids(try ledger.cli("list", "--since", "2026-06-01").stdout) == [7, 6, 5, 4, 3])
        result = try ledger.cli("list", "--limit", "3")
        #expect(ids(result.stdout) == [7, 6, 5])
        #expect(result.stdout.contains("more: add --before 5"))
        result = try ledger.cli("list", "--limit", "3", "--before", "5")
        #expect(ids(result.stdout) == [4, 3, 2])
        result = try ledger.cli("list", "--limit", "3", "--before", "2")
        #expect(ids(result.stdout) == [1])
        #expect(!result.stdout.contains("more:"))
        result = try ledger.cli("list", "--json", "--limit", "2")
        let page = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((page?["orders"] as? [[String: Any]])?.map { $0["id"] as? Int } == [7, 6])
        #expect(page?["next_before"] as? Int == 6)
        result = try ledger.cli("list", "--state", "waiting")
        #expect(result.status != 0)
        #expect(result.stderr.contains("--state must be one of queued"), "\(result.stderr)")

        // show: the row and its attempts.
        result = try ledger.cli("show", "4")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("state             rejected"), "\(result.stdout)")
        #expect(result.stdout.contains("t-4") && result.stdout.contains("404") && result.stdout.contains("NUMBER_NOT_FOUND"))
        result = try ledger.cli("show", "4", "--json")
        let shown = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((shown?["attempts"] as? [[String: Any]])?.first?["http_status"] as? Int == 404)
        result = try ledger.cli("show", "99")
        #expect(result.status == 1)
        #expect(result.stderr == "colt-orders: request 99: no such request (see `colt-orders list`)\n")

        // The views, for the sqlite3 CLI.
        #expect(try ledger.value("SELECT range || ' ' || state || ' ' || age FROM ledger WHERE id = 1").hasPrefix("+442081324760 queued "))
        #expect(try ledger.value("SELECT rows || ' ' || oldest_id FROM ledger_summary WHERE state = 'queued'") == "4 1")
        #expect(try ledger.value("SELECT request_id || ' ' || http_status || ' ' || colt_message FROM ledger_latest_attempt") == "4 404 number not in your inventory")
    }

    @Test func databaseOnlyCommandsFindTheDatabaseLikeTheDaemon() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        #expect(try ledger.cli("enqueue", "--action", "return", "--country", "GB", "--range-start", "+442081324758").status == 0)
        let config = try ledger.directory.write("config.json", #"{"database": {"path": "\#(ledger.database)"}, "api": {"client_id": "x"}}"#)
        var result = try run(builtBinary(), ["status", "--json", "--config", config])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\"queued\" : 1"), "\(result.stdout)")
        var environment = ProcessInfo.processInfo.environment
        environment["COLT_ORDERS_DATABASE_PATH"] = ledger.database
        result = try run(builtBinary(), ["list"], environment: environment)
        #expect(ids(result.stdout) == [1], "\(result.stderr)")
        result = try run(builtBinary(), ["status", "--database", ledger.directory.file("missing.db")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("no database file here"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ledger.directory.file("missing.db")), "reading never creates a database")
    }

    @Test func cancelOnlyBeforeColtAccepted() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        let csv = "action,country,range_start\n" + (0..<6).map { "return,GB,+4420813247\(60 + $0)" }.joined(separator: "\n")
        #expect(try ledger.cli("enqueue", "--csv", "-", input: csv).status == 0)
        try ledger.sql("""
            UPDATE requests SET state = 'submitting' WHERE id = 2;
            UPDATE requests SET state = 'retrying', last_error = 'HTTP 503', outcome_unknown = 1, tracking_id = 't-2', next_attempt_at = '2030-01-01T00:00:00.000Z' WHERE id = 2;
            UPDATE requests SET state = 'submitting', tracking_id = 't-3' WHERE id = 3;
            UPDATE requests SET state = 'submitting', tracking_id = 't-4' WHERE id = 4;
            UPDATE requests SET state = 'in_progress', order_id = 'ORD-4', next_check_at = '2030-01-01T00:00:00.000Z' WHERE id = 4;
            UPDATE requests SET state = 'submitting', tracking_id = 't-5' WHERE id = 5;
            UPDATE requests SET state = 'completed', order_id = 'ORD-5' WHERE id = 5;
            UPDATE requests SET state = 'submitting' WHERE id = 6;
            UPDATE requests SET state = 'failed' WHERE id = 6;
            """)

        var result = try ledger.cli("cancel", "1")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("request 1 cancelled"))
        #expect(try ledger.value("SELECT state FROM requests WHERE id = 1") == "cancelled")
        result = try ledger.cli("cancel", "2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Colt may have created an order under tracking id t-2"), "outcome unknown: warned")
        #expect(try ledger.value("SELECT state || ' ' || coalesce(next_attempt_at, '-') FROM requests WHERE id = 2") == "cancelled -")

        let before = try ledger.snapshot()
        for (id, message) in [
            ("3", "request 3 is being submitted to Colt right now, or is about to be (state submitting); nothing was changed. Try again in a moment"),
            ("4", "request 4 cannot be cancelled: Colt already accepted it (order ORD-4, state in_progress); nothing was changed"),
            ("5", "request 5 cannot be cancelled: Colt already accepted it (order ORD-5, state completed)"),
            ("6", "request 6 cannot be cancelled: it is failed, already settled"),
            ("1", "request 1 is already cancelled; nothing was changed"),
            ("42", "request 42: no such request"),
        ] {
            result = try ledger.cli("cancel", id)
            #expect(result.status == 1, "cancel \(id)")
            #expect(result.stderr.contains(message), "cancel \(id): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        #expect(try ledger.snapshot() == before, "refused cancellations changed nothing")
    }

    @Test func retrySendsRejectedOrFailedAgainUnderANewTrackingID() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        let csv = "action,country,range_start\n" + (0..<4).map { "return,GB,+4420813247\(60 + $0)" }.joined(separator: "\n")
        #expect(try ledger.cli("enqueue", "--csv", "-", input: csv).status == 0)
        try ledger.sql("""
            UPDATE requests SET state = 'submitting' WHERE id IN (1, 2);
            UPDATE requests SET state = 'rejected', tracking_id = 'old-1', attempts = 1, colt_code = 'BAD', last_error = 'HTTP 400 from Colt: bad profile', first_attempt_at = '2026-11-01T00:00:00.000Z' WHERE id = 1;
            INSERT INTO attempts (request_id, attempt, tracking_id, started_at, ended_at, http_status, outcome) VALUES (1, 1, 'old-1', '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:01.000Z', 400, 'rejected');
            UPDATE requests SET state = 'failed', tracking_id = 'old-2', attempts = 12, outcome_unknown = 1, first_attempt_at = '2026-11-01T00:00:00.000Z' WHERE id = 2;
            UPDATE requests SET state = 'submitting', tracking_id = 'old-3' WHERE id = 3;
            UPDATE requests SET state = 'in_progress', order_id = 'ORD-3', next_check_at = '2030-01-01T00:00:00.000Z' WHERE id = 3;
            """)
        var result = try ledger.cli("retry", "1")
        #expect(result.status == 0, "\(result.stderr)")
        let row = try ledger.value("SELECT state, tracking_id, attempts, outcome_unknown, coalesce(first_attempt_at, '-'), coalesce(colt_code, '-') FROM requests WHERE id = 1")
            .split(separator: "|").map(String.init)
        #expect(row[0] == "queued")
        #expect(row[1] != "old-1" && row[1].hasPrefix("co-"), "a new tracking id")
        #expect(result.stdout.contains(row[1]))
        #expect(Array(row[2...]) == ["0", "0", "-", "-"], "budget reset")
        #expect(try ledger.value("SELECT count(*) || ' ' || tracking_id FROM attempts WHERE request_id = 1") == "1 old-1", "history kept")

        // Row 2's outcome was unknown: only with --force (see RetryOfUnknownOutcomeTests).
        result = try ledger.cli("retry", "--force", "2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try ledger.value("SELECT state || ' ' || attempts || ' ' || outcome_unknown || ' ' || (tracking_id <> 'old-2') FROM requests WHERE id = 2") == "queued 0 0 1")

        let before = try ledger.snapshot()
        for (id, message) in [
            ("1", "request 1 cannot be retried: it is queued, still being worked on by the daemon. Only rejected, failed or unresolved requests can be sent again; nothing was changed"),
            ("3", "request 3 cannot be retried: Colt accepted it (order ORD-3, state in_progress)"),
            ("4", "request 4 cannot be retried: it is queued"),
            ("77", "request 77: no such request"),
        ] {
            result = try ledger.cli("retry", id)
            #expect(result.status == 1, "retry \(id)")
            #expect(result.stderr.contains(message), "retry \(id): \(result.stderr)")
        }
        #expect(try ledger.snapshot() == before)
        // An old tracking id can never be given to a new row: it is in the journal.
        result = try ledger.cli("enqueue", "--action", "return", "--country", "GB", "--range-start", "+442081324790", "--tracking-id", "old-1")
        #expect(result.status == 1)
        #expect(result.stderr.contains("already used by an earlier attempt"), "\(result.stderr)")
    }

    @Test func pruneRemovesOnlyOldSettledRows() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        let states = ["completed", "rejected", "invalid", "failed", "cancelled", "queued", "retrying", "in_progress", "submitting"]
        let csv = "action,country,range_start\n" + (0..<(states.count * 2)).map { "return,GB,+442081324\(700 + $0)" }.joined(separator: "\n")
        #expect(try ledger.cli("enqueue", "--csv", "-", input: csv).status == 0)
        var updates = ""
        for (index, state) in states.enumerated() {
            // id index+1: old; id index+1+count: recent.
            // The way the daemon goes: through submitting; with the times a waiting row needs.
            let times = ", next_attempt_at = '2030-01-01T00:00:00.000Z', next_check_at = '2030-01-01T00:00:00.000Z', order_id = 'ORD-P'"
            for id in [index + 1, index + 1 + states.count] {
                if !["queued", "invalid", "cancelled", "submitting"].contains(state) { updates += "UPDATE requests SET state = 'submitting' WHERE id = \(id);\n" }
                updates += "UPDATE requests SET state = '\(state)'\(times) WHERE id = \(id);\n"
            }
            updates += "UPDATE requests SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = \(index + 1);\n"
            updates += "INSERT INTO attempts (request_id, attempt, tracking_id, started_at) VALUES (\(index + 1), 1, 'p-\(index)', '2020-01-01T00:00:00.000Z');\n"
        }
        try ledger.sql(updates)

        var result = try ledger.cli("prune", "--older-than", "90d", "--dry-run")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("would remove 5 settled requests and 5 attempts"), "\(result.stdout)")
        #expect(try ledger.value("SELECT count(*) FROM requests") == "18", "a dry run removes nothing")

        result = try ledger.cli("prune", "--older-than", "90d", "--batch-size", "2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("removed 5 settled requests and 5 attempts"), "\(result.stdout)")
        #expect(try ledger.value("SELECT group_concat(id) FROM (SELECT id FROM requests ORDER BY id)") == "6,7,8,9,10,11,12,13,14,15,16,17,18")
        #expect(try ledger.value("SELECT group_concat(request_id) FROM (SELECT request_id FROM attempts ORDER BY request_id)") == "6,7,8,9")

        result = try ledger.cli("prune", "--older-than", "ninety days")
        #expect(result.status != 0)
        #expect(result.stderr.contains("--older-than must be an age such as 90d"), "\(result.stderr)")
        // ids are never reused after a prune (AUTOINCREMENT).
        #expect(try ledger.cli("enqueue", "--action", "return", "--country", "GB", "--range-start", "+442081324799").stdout == "queued request 19\n")
    }
}

/// The ids in the first column of a `list` table.
func ids(_ table: String) -> [Int] {
    table.split(separator: "\n").dropFirst(2).compactMap { line in Int(line.split(separator: " ").first ?? "") }
}

@Suite struct RetryOfUnknownOutcomeTests {
    /// A failed row whose outcome was unknown may already be an order at Colt: a new tracking
    /// id could make a second one, so `retry` asks for `--force` and changes nothing without it.
    @Test func retryOfARowWhoseOutcomeIsUnknownNeedsForce() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        try ledger.sql("""
            INSERT INTO requests (action, country, range_start, tracking_id) VALUES ('return', 'GB', '+442081324758', 'first-id');
            UPDATE requests SET state = 'submitting' WHERE id = 1;
            UPDATE requests SET state = 'failed', attempts = 12, outcome_unknown = 1, last_error = 'gave up after 12 attempts: HTTP 503' WHERE id = 1;
            """)
        let before = try ledger.snapshot()
        var result = try ledger.cli("retry", "1")
        #expect(result.status == 1)
        #expect(result.stderr.contains("outcome is unknown"), "\(result.stderr)")
        #expect(result.stderr.contains("first-id"))
        #expect(result.stderr.contains("retry --force 1"))
        #expect(try ledger.snapshot() == before, "nothing changed")
        result = try ledger.cli("retry", "--force", "1")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try ledger.value("SELECT state || ' ' || (tracking_id <> 'first-id') || ' ' || outcome_unknown FROM requests") == "queued 1 0")
    }
}

@Suite struct LedgerDatabasePathTests {
    /// The ledger commands find the database as the daemon does: flag, variable, then file.
    @Test func theDatabaseComesFromTheConfigurationLikeTheDaemons() throws {
        let ledger = try Ledger()
        defer { ledger.remove() }
        let config = try ledger.directory.write("config.json", #"{"database": {"path": "\#(ledger.database)"}, "api": {"client_id": "c"}}"#)
        var result = try run(builtBinary(), ["enqueue", "--action", "return", "--country", "GB", "--range-start", "+442081324758", "--config", config])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try ledger.value("SELECT count(*) FROM requests") == "1")
        result = try run(builtBinary(), ["status", "--config", ledger.directory.file("missing.json")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("missing.json: cannot read the configuration file"), "\(result.stderr)")
    }
}
