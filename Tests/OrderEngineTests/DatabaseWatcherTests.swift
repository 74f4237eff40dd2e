import Foundation
@testable import OrderEngine
import Synchronization
import Testing

@Suite struct DatabaseWatcherTests {
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)
        func add() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    /// The daemon's own commits write the WAL once or twice per page, each write an inotify
    /// event: a run of writes must wake the engine a few times, not once per write. A write after
    /// a quiet spell is passed on, and files beside the database are not the database.
    @Test func aRunOfWritesWakesTheEngineAFewTimesNotOncePerWrite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watcher-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("orders.db").path
        let otherPath = directory.appendingPathComponent("orders.log").path
        #expect(FileManager.default.createFile(atPath: database + "-wal", contents: nil))
        #expect(FileManager.default.createFile(atPath: otherPath, contents: nil))
        let wal = try #require(FileHandle(forWritingAtPath: database + "-wal"))
        let other = try #require(FileHandle(forWritingAtPath: otherPath))
        defer { try? wal.close(); try? other.close() }

        let changes = Counter()
        let watcher = DatabaseWatcher(databasePath: database)
        #expect(watcher.start { changes.add() })
        defer { watcher.stop() }

        for _ in 0..<20 { try other.write(contentsOf: Data("log line\n".utf8)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(changes.value == 0, "a file beside the database is not the database")

        // 200 writes about a millisecond apart: time enough for an uncoalesced watcher to wake
        // for nearly each one.
        let start = ContinuousClock.now
        for _ in 0..<200 {
            try wal.write(contentsOf: Data(repeating: 0, count: 64))
            try await Task.sleep(for: .milliseconds(1))
        }
        let span = ContinuousClock.now - start
        try await Task.sleep(for: DatabaseWatcher.coalescing * 5)
        let woken = changes.value
        let most = Int(span / DatabaseWatcher.coalescing) + 3
        #expect(woken >= 1)
        #expect(woken <= most, "200 writes over \(span) woke the engine \(woken) times; at most \(most) with \(DatabaseWatcher.coalescing) of coalescing")

        // Quiet now: the next write is passed on by itself.
        try await Task.sleep(for: DatabaseWatcher.coalescing * 2)
        let before = changes.value
        try wal.write(contentsOf: Data(repeating: 1, count: 64))
        let deadline = ContinuousClock.now + .seconds(2)
        while changes.value == before, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(changes.value == before + 1)
    }
}
