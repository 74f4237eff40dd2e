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

        // 400 writes half a millisecond apart: time enough for an uncoalesced watcher to wake
        // for nearly each one. This one wakes the engine at most once per look (every settle),
        // besides a burst's first event, its end and the late look after it.
        let start = ContinuousClock.now
        for _ in 0..<400 {
            try wal.write(contentsOf: Data(repeating: 0, count: 64))
            usleep(500)
        }
        let span = ContinuousClock.now - start
        try await Task.sleep(for: DatabaseWatcher.coalescing * 2 + DatabaseWatcher.lateLook)
        let woken = changes.value
        let most = Int(span / DatabaseWatcher.settle) + 10
        #expect(woken >= 1)
        #expect(woken <= most, "400 writes over \(span) woke the engine \(woken) times; at most \(most), one per look")

        // Quiet now, the late look past too: the next write is passed on by itself.
        try await Task.sleep(for: DatabaseWatcher.lateLook + DatabaseWatcher.coalescing * 2)
        let before = changes.value
        try wal.write(contentsOf: Data(repeating: 1, count: 64))
        let deadline = ContinuousClock.now + .seconds(2)
        while changes.value == before, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        #expect(changes.value > before, "a write after a quiet spell was not passed on")
    }

    /// A writer that keeps its connection open (the sqlite3 shell, an application) writes the
    /// WAL, then commits after its fsync with no event to say so, and no close after it. One
    /// write, then nothing: it is passed on at once, again at the first quiet look (long before
    /// the burst ends), at longer quiet spells up to the burst's end, and once more a late look
    /// after it; then the watcher is quiet. A two-second burst and a one-second late look here,
    /// so that each wake-up is told apart from the others on a slow machine.
    @Test func aWriteWithNoEventAfterItIsLookedAtAgainUntilTheLateLook() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watcher-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("orders.db").path
        #expect(FileManager.default.createFile(atPath: database + "-wal", contents: nil))
        let wal = try #require(FileHandle(forWritingAtPath: database + "-wal"))
        defer { try? wal.close() }

        let changes = Counter()
        let quiet = Duration.seconds(2), late = Duration.seconds(1)
        let watcher = DatabaseWatcher(databasePath: database, coalescing: quiet, settle: .milliseconds(5), lateLook: late)
        #expect(watcher.start { changes.add() })
        defer { watcher.stop() }

        let written = ContinuousClock.now
        try wal.write(contentsOf: Data(repeating: 0, count: 64))
        while changes.value < 2, ContinuousClock.now - written < .seconds(1) { try await Task.sleep(for: .milliseconds(2)) }
        let pause = ContinuousClock.now - written
        #expect(changes.value >= 2, "the quiet after the write was not passed on")
        #expect(pause < quiet / 4, "the first quiet spell was passed on only after \(pause)")

        try await Task.sleep(until: written + quiet + .milliseconds(300))
        let atEnd = changes.value
        #expect(atEnd >= 3, "the burst's end was not passed on")
        try await Task.sleep(until: written + quiet + late / 2)
        #expect(changes.value == atEnd, "woken between the burst's end and the late look")
        while changes.value == atEnd, ContinuousClock.now - written < quiet + late + .seconds(2) {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(changes.value == atEnd + 1, "the late look was not passed on")
        #expect(ContinuousClock.now - written >= quiet + late, "the late look came early")
        try await Task.sleep(for: .milliseconds(300))
        #expect(changes.value == atEnd + 1, "the watcher woke the engine again with nothing written")
    }
}
