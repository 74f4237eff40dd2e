import Foundation
import Synchronization

/// Wakes the engine when another process writes the database, without polling: inotify on the
/// database's directory, filtered to the database and its WAL. The engine still checks
/// `PRAGMA data_version` (its own writes also touch the files) and falls back to a slow timer.
///
/// A commit makes no event of its own: its last write comes before its fsync, and the commit is
/// visible only after that. So the watcher cannot see the moment a row arrives, only the writes
/// before it, and it wakes the engine when the commit is likely there. An event that concerns
/// the database starts a burst, which the watcher then looks at every ``settle`` (reading what
/// came meanwhile) until the writes have been quiet for ``coalescing``. It passes on:
/// - the burst's first event, at once;
/// - a quiet spell each time it reaches ``settle``, twice that, four times... and ``coalescing``,
///   counted again from each later write: a small transaction has usually committed 2 ms after
///   its last write, and a slower fsync is met by the longer spells;
/// - once more ``lateLook`` after the burst, unless another began: for an fsync longer still.
///
/// The daemon's own commits write the WAL many times each (two writes per page), each write an
/// event; while they go on, the engine is woken at most once per look, and mostly not at all,
/// instead of once per page. Between looks the watcher sleeps, and the kernel merges identical
/// events (the same file modified again) that queue up unread.
final class DatabaseWatcher: Sendable {
    /// How long the writes must be quiet for a burst to end.
    static let coalescing: Duration = .milliseconds(20)
    /// How often the watcher looks at a burst, and its shortest quiet spell passed on.
    static let settle: Duration = .milliseconds(2)
    /// How long after a burst's end the engine is woken once more.
    static let lateLook: Duration = .milliseconds(100)

    private let stopped = Atomic<Bool>(false)
    private let names: Set<String>
    private let directory: String

    private let quietToEnd: Duration
    private let lookInterval: Duration
    private let lateLookDelay: Duration

    /// - Parameters:
    ///   - coalescing: the quiet spell that ends a burst (``coalescing`` by default).
    ///   - settle: how often a burst is looked at (``settle`` by default); more than zero.
    ///   - lateLook: the look after a burst (``lateLook`` by default).
    init(databasePath: String, coalescing: Duration = DatabaseWatcher.coalescing, settle: Duration = DatabaseWatcher.settle,
         lateLook: Duration = DatabaseWatcher.lateLook) {
        precondition(settle > .zero, "a watcher that looks without sleeping spins")
        quietToEnd = coalescing
        lookInterval = settle
        lateLookDelay = lateLook
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
            var lateLookAt: ContinuousClock.Instant?
            while !stopped.load(ordering: .relaxed) {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                // At most 500 ms, which bounds how long stop() takes to be noticed.
                let timeout = lateLookAt.map { Self.milliseconds(until: $0) } ?? 500
                if poll(&poller, 1, Int32(min(timeout, 500))) > 0, readEvents(fd, into: &buffer) {
                    pass(onChange)
                    burst(fd, buffer: &buffer, onChange: onChange)
                    lateLookAt = .now + lateLookDelay
                } else if let at = lateLookAt, ContinuousClock.now >= at {
                    lateLookAt = nil
                    pass(onChange)
                }
            }
        }
        thread.name = "colt-orders.watcher"
        thread.start()
        return true
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// The rest of a burst, after its first event was passed on: looks every ``settle`` and passes
    /// on quiet spells of ``settle``, twice that, and so on, up to ``coalescing``, which ends it.
    private func burst(_ fd: Int32, buffer: inout [UInt8], onChange: @Sendable () -> Void) {
        var lastWrite = ContinuousClock.now
        var nextSpell = lookInterval
        while !stopped.load(ordering: .relaxed) {
            usleep(UInt32(lookInterval / .microseconds(1)))
            let now = ContinuousClock.now
            if readEvents(fd, into: &buffer) {
                lastWrite = now
                nextSpell = lookInterval
            } else if now - lastWrite >= nextSpell {
                pass(onChange)
                if nextSpell >= quietToEnd { return }
                nextSpell = min(nextSpell * 2, quietToEnd)
            }
        }
    }

    private func pass(_ onChange: @Sendable () -> Void) {
        if !stopped.load(ordering: .relaxed) { onChange() }
    }

    /// Whole milliseconds from now until `instant`, rounded up; 0 once it has passed.
    private static func milliseconds(until instant: ContinuousClock.Instant) -> Int {
        max(0, Int(((instant - .now) / .milliseconds(1)).rounded(.up)))
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
