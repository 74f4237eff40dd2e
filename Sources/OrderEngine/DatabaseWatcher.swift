import Foundation
import Synchronization

/// Wakes the engine when another process writes the database, without polling: inotify on the
/// database's directory, filtered to the database and its WAL. The engine still checks
/// `PRAGMA data_version` (its own writes also touch the files) and falls back to a slow timer.
///
/// The daemon's own commits write the WAL many times each (two writes per page), and each write
/// is an inotify event. So a burst of writes is passed on at most three times per
/// ``coalescing`` window, not once per page:
/// - its first event, at once;
/// - once when the writes pause for ``settle`` (an operator's INSERT has usually committed by
///   then: the events are the writes before its fsync, and the sqlite3 CLI's close after it);
/// - once at the window's end, if anything came in it (a commit whose fsync outlasted the pause).
///
/// Between looks the watcher sleeps, and the kernel merges identical events (the same file
/// modified again) that queue up unread.
final class DatabaseWatcher: Sendable {
    /// How long a burst's window lasts, from its first event.
    static let coalescing: Duration = .milliseconds(20)
    /// How often the watcher looks within a window, and how long a pause in the writes must be
    /// to be passed on before the window ends.
    static let settle: Duration = .milliseconds(2)

    private let stopped = Atomic<Bool>(false)
    private let names: Set<String>
    private let directory: String

    private let window: Duration
    private let pause: Duration

    /// - Parameters:
    ///   - coalescing: a burst's window (``coalescing`` by default; tests make it longer).
    ///   - settle: the pause in the writes that is passed on early (``settle`` by default).
    init(databasePath: String, coalescing: Duration = DatabaseWatcher.coalescing, settle: Duration = DatabaseWatcher.settle) {
        window = coalescing
        pause = settle
        let url = URL(fileURLWithPath: databasePath)
        directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        names = [name, name + "-wal", name + "-journal"]
    }

    /// Starts watching on a thread of its own; returns `false` when inotify is unavailable.
    func start(onChange: @escaping @Sendable () -> Void) -> Bool {
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { return false }
        let mask = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            close(fd)
            return false
        }
        let thread = Thread { [self] in
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while !stopped.load(ordering: .relaxed) {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                // The timeout only bounds how long stop() takes to be noticed.
                guard poll(&poller, 1, 500) > 0, readEvents(fd, into: &buffer) else { continue }
                onChange()
                burst(fd, buffer: &buffer, onChange: onChange)
            }
        }
        thread.name = "colt-orders.watcher"
        thread.start()
        return true
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The rest of a burst's window, after its first event was passed on: looks every ``settle``,
    /// passes on the first pause in the writes, and the window's end if anything came in it.
    private func burst(_ fd: Int32, buffer: inout [UInt8], onChange: @Sendable () -> Void) {
        let end = ContinuousClock.now + window
        var unpassed = false, pausePassed = false, any = false
        while ContinuousClock.now < end, !stopped.load(ordering: .relaxed) {
            usleep(UInt32(pause / .microseconds(1)))
            if readEvents(fd, into: &buffer) {
                unpassed = true
                any = true
            } else if unpassed, !pausePassed {
                onChange()
                unpassed = false
                pausePassed = true
            }
        }
        if any { onChange() }
    }

    /// Reads every event queued (the descriptor does not block); whether one concerns the database.
    private func readEvents(_ fd: Int32, into buffer: inout [UInt8]) -> Bool {
        var touched = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return touched }
            if touchesDatabase(buffer[..<count]) { touched = true }
        }
    }

    private func touchesDatabase(_ events: ArraySlice<UInt8>) -> Bool {
        var offset = events.startIndex
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= events.endIndex {
            let (mask, length) = events.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: offset - events.startIndex + 4, as: UInt32.self),
                 Int(raw.loadUnaligned(fromByteOffset: offset - events.startIndex + 12, as: UInt32.self)))
            }
            // The kernel's queue overflowed and events were dropped: one of them may be ours.
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { return true }
            let nameStart = offset + header
            let nameEnd = min(nameStart + length, events.endIndex)
            let name = String(decoding: events[nameStart..<nameEnd].prefix { $0 != 0 }, as: UTF8.self)
            if names.contains(name) { return true }
            offset = nameEnd
        }
        return false
    }
}
