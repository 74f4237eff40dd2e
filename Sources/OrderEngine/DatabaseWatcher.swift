import Foundation
import Synchronization

/// Wakes the engine when another process writes the database, without polling: inotify on the
/// database's directory, filtered to the database and its WAL. The engine still checks
/// `PRAGMA data_version` (its own writes also touch the files) and falls back to a slow timer.
///
/// The daemon's own commits write the WAL many times each (two writes per page), and each write
/// is an inotify event. So after an event that concerns the database the watcher waits
/// ``coalescing`` before it reads again: meanwhile the kernel merges identical events (the same
/// file modified again), and a burst of writes wakes the engine once, not once per page. The
/// first event of a burst is passed on at once, so an operator's INSERT into an idle daemon is
/// seen without delay.
final class DatabaseWatcher: Sendable {
    /// How long the watcher lets events gather after passing one on.
    static let coalescing: Duration = .milliseconds(20)

    private let stopped = Atomic<Bool>(false)
    private let names: Set<String>
    private let directory: String

    init(databasePath: String) {
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
                guard poll(&poller, 1, 500) > 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { continue }
                if touchesDatabase(buffer[..<count]) {
                    onChange()
                    usleep(UInt32(Self.coalescing / .microseconds(1)))
                }
            }
        }
        thread.name = "colt-orders.watcher"
        thread.start()
        return true
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

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
