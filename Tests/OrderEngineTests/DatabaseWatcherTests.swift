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
        // At most three per window: its first event, a pause in the writes, its end.
        let most = 3 * (Int(span / DatabaseWatcher.coalescing) + 1)
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

    /// An operator's INSERT writes the WAL a few times, then commits after its fsync, with no
    /// event to say so. Its first write is passed on at once (the commit is not there yet), a
    /// pause in its writes as soon as it is seen (the commit usually is, by then), and the end
    /// of the window too, for a commit whose fsync outlasted the pause. A two-second window
    /// here, so that the pause's wake-up cannot be the window's end.
    @Test func aPauseInTheWritesIsPassedOnBeforeTheWindowEnds() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watcher-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("orders.db").path
        #expect(FileManager.default.createFile(atPath: database + "-wal", contents: nil))
        let wal = try #require(FileHandle(forWritingAtPath: database + "-wal"))
        defer { try? wal.close() }

        let changes = Counter()
        let window = Duration.seconds(2)
        let watcher = DatabaseWatcher(databasePath: database, coalescing: window, settle: .milliseconds(5))
        #expect(watcher.start { changes.add() })
        defer { watcher.stop() }

        func waitFor(_ count: Int, within limit: Duration) async throws -> Duration {
            let start = ContinuousClock.now
            while changes.value < count, ContinuousClock.now - start < limit { try await Task.sleep(for: .milliseconds(2)) }
            return ContinuousClock.now - start
        }

        let first = ContinuousClock.now
        try wal.write(contentsOf: Data(repeating: 0, count: 64))
        _ = try await waitFor(1, within: .seconds(1))
        #expect(changes.value == 1, "the first write is passed on at once")
        for _ in 0..<3 { try wal.write(contentsOf: Data(repeating: 1, count: 64)) }
        let pause = try await waitFor(2, within: .seconds(1))
        #expect(changes.value == 2, "the pause after the writes was not passed on")
        #expect(ContinuousClock.now - first < window, "the pause was passed on only at the window's end (after \(pause))")
        try await Task.sleep(until: first + window + .milliseconds(300))
        #expect(changes.value == 3, "the window's end, after writes in it, is passed on too")
    }
}
