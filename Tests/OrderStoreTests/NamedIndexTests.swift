import Foundation
@testable import OrderStore
import Testing
import TestSupport

/// The indexes the daemon's queries name with `INDEXED BY`: SQLite refuses such a query when the
/// index is missing, so the migrator makes them again when an operator dropped one.
@Suite struct NamedIndexTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory("named-indexes")
        path = directory.file("orders.db")
        let database = try Database(path: path)
        try database.useNow { _ = try Migrator.migrate($0) }
    }

    func definition(_ index: String) throws -> String {
        try sqliteValue(path, "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '\(index)'")
    }

    @Test(arguments: Migrator.namedIndexes)
    func aDroppedIndexIsMadeAgainAsItsMigrationDefinesIt(_ index: String) async throws {
        let original = try definition(index)
        #expect(original.hasPrefix("CREATE INDEX \(index) ON requests"))
        #expect(try sqlite3(path, "DROP INDEX \(index)").status == 0)
        let database = try Database(path: path)
        let report = try database.useNow { try Migrator.migrate($0) }
        #expect(report.restoredIndexes == [index])
        #expect(try definition(index) == original)
        // And the claim, which names four of them, runs.
        try sqlite3(path, "INSERT INTO requests (action, country, range_start) VALUES ('return', 'GB', '+442081324758')")
        #expect(try await RequestQueue(database: database).claimDue(now: Date(), limit: 1).claimed.count == 1)
        #expect(try database.useNow { try Migrator.migrate($0) }.restoredIndexes.isEmpty, "nothing to do the second time")
    }

    /// Every index a query of the package names is in the list the migrator keeps.
    @Test func everyIndexNamedInTheSourcesIsKept() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../Sources").standardizedFileURL
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)).compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" }
        var named: Set<String> = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            var rest = text[...]
            while let found = rest.range(of: "INDEXED BY ") {
                rest = rest[found.upperBound...]
                // A name written out; an interpolated one (`\(index)`) is checked below.
                let name = rest.prefix { $0.isLetter || $0 == "_" }
                if !name.isEmpty { named.insert(String(name)) }
            }
        }
        #expect(named.isSuperset(of: ["requests_due", "requests_tracking", "requests_created"]), "the scan finds the literal names: \(named)")
        #expect(named.isSubset(of: Set(Migrator.namedIndexes)), "named in queries but not kept: \(named.subtracting(Migrator.namedIndexes))")
        // The ones `free` builds by interpolation.
        #expect(RequestQueue.free.contains("INDEXED BY requests_state"))
        for state in ["submitting", "retrying", "reconciling"] {
            #expect(RequestQueue.free.contains("INDEXED BY requests_\(state)_ends"))
        }
    }
}
