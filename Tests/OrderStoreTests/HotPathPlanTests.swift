import Foundation
@testable import OrderStore
import Testing
import TestSupport

/// What SQLite makes of the statements every order goes through. `x IN ('a', 'b', 'c')` with
/// three constants or more is evaluated by building a temporary b-tree of them each time it
/// runs, in a statement, a trigger or a partial index's WHERE; before schema 8 a claim's UPDATE
/// built eleven. The programs (triggers included, which EXPLAIN lists after the statement) are
/// read for `OpenEphemeral`: a count, not a timing, so the test means the same on any machine.
@Suite struct HotPathPlanTests {
    let directory: TemporaryDirectory
    let database: Database

    init() throws {
        directory = try TemporaryDirectory("plans")
        database = try Database(path: directory.file("orders.db"))
        try database.useNow { _ = try Migrator.migrate($0) }
    }

    func temporaryTrees(_ sql: HotPathSQL) throws -> Int { try temporaryTrees(sql.text) }

    func temporaryTrees(_ sql: String) throws -> Int {
        try database.useNow { db in
            try db.query("EXPLAIN " + sql) { $0.text(1) }.filter { $0 == "OpenEphemeral" }.count
        }
    }

    @Test func aClaimAndARecordBuildOnlyTheStateCheck() throws {
        // The one left: requests' CHECK (state IN (... eleven states ...)), which only a rebuild
        // of the table could change. It runs once for each UPDATE that sets the state.
        #expect(try temporaryTrees(RequestQueue.claimSQL) == 1)
        #expect(try temporaryTrees(RequestQueue.acceptedSQL) == 1)
        #expect(try temporaryTrees(RequestQueue.openJournalSQL) == 0)
        #expect(try temporaryTrees(RequestQueue.closeJournalSQL) == 0)
        for transition in [RequestQueue.heldElsewhereSQL, RequestQueue.completedSQL, RequestQueue.reconcileSQL, RequestQueue.unresolvedSQL,
                           RequestQueue.retrySQL, RequestQueue.rejectedSQL, RequestQueue.failedSQL] {
            #expect(try temporaryTrees(transition) == 1, "\(transition)")
        }
        #expect(try temporaryTrees(RequestQueue.candidateSQL) == 0)
        #expect(try temporaryTrees(RequestQueue.queuedWalkSQL) == 0)
        #expect(try temporaryTrees(RequestQueue.dueSQL) == 0)
    }

    @Test func theOverlapCheckSeeksWithoutTemporaryTrees() throws {
        #expect(try temporaryTrees("SELECT id FROM requests r WHERE id = ?1 AND \(RequestQueue.free)") == 0)
        let plan = try database.useNow { db in
            try db.query("EXPLAIN QUERY PLAN SELECT id FROM requests r WHERE id = ?1 AND \(RequestQueue.free)") { $0.text(3) ?? "" }
        }
        #expect(plan.filter { $0.contains("USING INDEX requests_state (state=? AND rowid<?)") }.count == 1, "\(plan)")
        for state in ["submitting", "retrying", "reconciling"] {
            #expect(plan.filter { $0.contains("SEARCH o USING INDEX requests_\(state)_ends (<expr>>?)") }.count == (state == "retrying" ? 1 : 2),
                    "rows in flight are sought by where their range ends (schema 9): \(plan)")
        }
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
    }
}
