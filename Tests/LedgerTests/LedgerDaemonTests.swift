import ColtSandbox
import Foundation
import Testing
import TestSupport

/// The ledger commands and the status endpoint against a running daemon (the real binary, a
/// real database, the sandbox over loopback).
@Suite struct LedgerDaemonTests {
    @Test func commandsAndStatusEndpointWhileTheDaemonRuns() async throws {
        let numbers = (0..<4).map { "+44207" + String(2_000_000 + $0) }
        let harness = try await DaemonHarness.start { configuration in
            configuration.inventory = numbers.map { InventoryNumber(number: $0, country: "GB", serviceProfile: "ANH", status: .activated) }
        }
        try await harness.inScope {
            try harness.createSchema()
            func cli(_ arguments: String...) throws -> ProcessResult {
                try run(builtBinary(), arguments + ["--database", harness.database])
            }
            // An old settled row for the retention service, and a row Colt will refuse
            // (reactivating an activated number).
            try harness.insert([("return", "GB", "+442079999999", nil, nil), ("reactivate", "GB", numbers[0], nil, "ANH")])
            _ = try harness.sqlite("UPDATE requests SET state = 'cancelled', updated_at = '2020-01-01T00:00:00.000Z' WHERE id = 1")

            let daemon = try harness.launch("run", environment: [
                "COLT_ORDERS_STATUS_LISTEN": "127.0.0.1:0",
                "COLT_ORDERS_RETENTION_DAYS": "30",
            ])
            defer { daemon.signal(SIGKILL) }
            let port = try await statusPort(of: daemon)
            func get(_ path: String) throws -> (status: Int, body: String) {
                let result = try run("/usr/bin/curl", ["-s", "-m", "5", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"])
                let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
            }

            // Retention ran at start-up: the old completed row is gone, nothing else.
            try await eventually("the retention service pruned the old settled row") { try harness.value("SELECT count(*) FROM requests WHERE id = 1") == "0" }
            #expect(daemon.stderr.contains("retention: pruned settled requests"), "\(daemon.stderr)")
            try await eventually("Colt refused request 2") { try harness.value("SELECT state FROM requests WHERE id = 2") == "rejected" }

            // Enqueue while the daemon runs: submitted at once.
            var result = try cli("enqueue", "--action", "return", "--country", "GB", "--range-start", numbers[1], "--service-profile", "ANH")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "queued request 3\n")
            try await eventually("request 3 accepted") { try harness.value("SELECT state FROM requests WHERE id = 3") == "in_progress" }

            // status knows the daemon, and shows the rejection in Colt's words.
            result = try cli("status")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("daemon    running, pid \(daemon.pid) since "), "\(result.stdout)")
            let coltWords = try harness.value("SELECT last_error FROM requests WHERE id = 2")
            #expect(!coltWords.isEmpty && result.stdout.contains(String(coltWords.prefix(40))), "\(result.stdout)")
            result = try cli("status", "--json")
            #expect(result.stdout.contains("\"pid\" : \(daemon.pid)"))

            // Cancel of an accepted order: refused, nothing changed.
            let before = try harness.rows("SELECT * FROM requests ORDER BY id")
            result = try cli("cancel", "3")
            #expect(result.status == 1)
            #expect(result.stderr.contains("Colt already accepted it"), "\(result.stderr)")
            #expect(try harness.rows("SELECT * FROM requests ORDER BY id") == before)

            // Retry the rejected row: a new tracking id, sent again by the running daemon, its history kept.
            let firstTracking = try harness.value("SELECT tracking_id FROM requests WHERE id = 2")
            result = try cli("retry", "2")
            #expect(result.status == 0, "\(result.stderr)")
            try await eventually("request 2 refused again") {
                try harness.value("SELECT count(DISTINCT tracking_id) FROM attempts WHERE request_id = 2") == "2"
                    && harness.value("SELECT state FROM requests WHERE id = 2") == "rejected"
            }
            #expect(try harness.value("SELECT tracking_id FROM requests WHERE id = 2") != firstTracking)

            // Cancel a queued row before the daemon can take it? It may win the race; either
            // outcome is clean: cancelled, or refused with the row untouched by us.
            result = try cli("enqueue", "--action", "return", "--country", "GB", "--range-start", numbers[2], "--service-profile", "ANH")
            #expect(result.status == 0)
            result = try cli("cancel", "4")
            let state = try harness.value("SELECT state FROM requests WHERE id = 4")
            if result.status == 0 {
                #expect(state == "cancelled")
            } else {
                #expect(result.stderr.contains("submitted to Colt right now") || result.stderr.contains("Colt already accepted it"), "\(result.stderr)")
                #expect(state != "cancelled")
            }

            // The HTTP endpoints, over loopback.
            var response = try get("/healthz")
            #expect(response.status == 200)
            response = try get("/readyz")
            #expect(response.status == 200, "\(response.body)")
            #expect(response.body.contains("\"database\":\"ok\"") && response.body.contains("\"lock\":\"ok\"") && response.body.contains("\"token\":\"ok\""))
            response = try get("/orders?state=rejected")
            #expect(response.status == 200)
            let page = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
            #expect((page?["orders"] as? [[String: Any]])?.map { $0["id"] as? Int } == [2])
            response = try get("/orders?limit=1")
            #expect((try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["next_before"] as? Int == 4)
            response = try get("/orders?state=nonsense")
            #expect(response.status == 400)
            response = try get("/orders/2")
            #expect(response.status == 200)
            let detail = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
            #expect((detail?["attempts"] as? [[String: Any]])?.count == 2)
            #expect((detail?["request"] as? [String: Any])?["state"] as? String == "rejected")
            response = try get("/orders/999")
            #expect(response.status == 404)
            #expect(response.body.contains("no such request"))
            response = try get("/metrics")
            #expect(response.status == 200)
            for expected in ["colt_orders_requests{state=\"rejected\"} 1", "colt_orders_requests{state=\"in_progress\"}",
                             "colt_orders_attempts_total{outcome=\"accepted\"}", "colt_orders_transitions_total{state=\"rejected\"} 2",
                             "colt_orders_submission_duration_seconds_bucket", "colt_orders_oldest_queued_age_seconds",
                             "colt_orders_token_refreshes_total 1", "colt_orders_in_flight"] {
                #expect(response.body.contains(expected), "\(expected) in /metrics")
            }

            // Graceful stop with the endpoint on.
            daemon.signal(SIGTERM)
            #expect(try await daemon.wait(timeout: .seconds(15)) == 0, "\(daemon.stderr.suffix(2000))")
        }
    }

    @Test func readinessSaysWhatIsNotReadyAndSparesTheTokenEndpoint() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_STATUS_LISTEN": "127.0.0.1:0"], clientID: "not-our-client")
            defer { daemon.signal(SIGKILL) }
            let port = try await statusPort(of: daemon)
            let tokenPath = "/authentication/v1/oauth/token"
            func readyz() throws -> ProcessResult {
                try run("/usr/bin/curl", ["-s", "-m", "5", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/readyz"])
            }
            let first = try readyz()
            #expect(first.stdout.hasSuffix("\n503"), "\(first.stdout)")
            #expect(first.stdout.contains("\"database\":\"ok\"") && first.stdout.contains("\"lock\":\"ok\""))
            #expect(first.stdout.contains("\"token\":\"no Colt token:"), "\(first.stdout)")
            #expect(!first.stdout.contains(harness.sandboxConfiguration.clientSecret), "never the secret")
            let asked = await harness.sandbox.requestCount(path: tokenPath)
            for _ in 0..<5 { #expect(try readyz().stdout.hasSuffix("\n503")) }
            #expect(await harness.sandbox.requestCount(path: tokenPath) == asked, "failed checks are remembered for 30 s")
            let health = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/healthz"])
            #expect(health.stdout == "200", "alive, though not ready")
        }
    }

    @Test func theStatusEndpointRefusesANonLoopbackAddress() async throws {
        let harness = try await DaemonHarness.start()
        try await harness.inScope {
            let daemon = try harness.launch("run", environment: ["COLT_ORDERS_STATUS_LISTEN": "0.0.0.0:9464"])
            #expect(try await daemon.wait(timeout: .seconds(10)) == 2)
            #expect(daemon.stderr.contains("status.listen (from environment variable COLT_ORDERS_STATUS_LISTEN): '0.0.0.0:9464' is not a loopback address"), "\(daemon.stderr)")
            #expect(!FileManager.default.fileExists(atPath: harness.database), "refused before touching the database")
        }
    }
}

/// The port the daemon's status endpoint took (`status.listen` = 127.0.0.1:0), from its log.
func statusPort(of daemon: DaemonProcess) async throws -> Int {
    var port = 0
    try await eventually("the status endpoint listens") {
        guard let line = daemon.stderr.split(separator: "\n").first(where: { $0.contains("status endpoint listening") }),
              let range = line.range(of: "address=127.0.0.1:") else { return false }
        port = Int(line[range.upperBound...].prefix { $0.isNumber }) ?? 0
        return port > 0
    }
    return port
}
