import Foundation

/// One daemon per database (invariant 5), held for the process's life and released by the
/// kernel however the process ends, `kill -9` included:
/// - an exclusive POSIX lock on `DATABASE.lock`, which also says who holds it and since when,
///   for `colt-orders status`;
/// - an exclusive open-file-description lock on one byte of the database file itself, that
///   SQLite never locks: it follows the file, not its name, so two daemons given two names of
///   one file (a hard link, a bind mount) still meet.
public final class DaemonLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32
    /// The database file, opened for its lock.
    private let databaseDescriptor: Int32

    /// The byte of the database file that is locked: just below SQLite's own lock bytes, which
    /// start at 1 GiB (`PENDING_BYTE`), so neither SQLite nor the sqlite3 CLI ever meets it.
    static let databaseLockOffset: Int = 0x4000_0000 - 16
    /// Linux's `F_OFD_SETLK` (not exported to Swift).
    static let ofdSetLock: Int32 = 37

    /// Who holds a database's lock.
    public struct Holder: Sendable, Equatable {
        public var pid: Int32
        /// When that daemon started, as it wrote it (ISO-8601 UTC).
        public var since: String?
    }

    /// Why the lock could not be taken.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The lock file for a database, beside its real path: two daemons given different paths
    /// to one file (a symlink, `..`) still meet at the same lock.
    public static func path(forDatabase database: String) -> String {
        let url = URL(fileURLWithPath: database)
        let directory = url.deletingLastPathComponent().resolvingSymlinksInPath()
        var real = directory.appendingPathComponent(url.lastPathComponent)
        real = real.resolvingSymlinksInPath()
        return real.path + ".lock"
    }

    /// Takes the lock, or fails at once when another process holds it.
    public init(database: String, startedAt: String) throws(Failure) {
        path = Self.path(forDatabase: database)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(description: "cannot open the lock file \(path): \(String(cString: strerror(errno))); check that the database's directory exists and is writable by this user")
        }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        if fcntl(fd, F_SETLK, &lock) != 0 {
            let holder = Self.holder(of: fd)
            close(fd)
            let who = holder.map { "pid \($0.pid)" + ($0.since.map { ", running since \($0)" } ?? "") } ?? "another process"
            throw Failure(description: "another colt-orders daemon (\(who)) is already using \(database); only one may run per database. Stop it first (systemctl stop colt-orders), or point this one at another database")
        }
        // Created as SQLite creates it (0644 less the umask). A file this user cannot write is
        // not locked here: the daemon then stops at its first write, saying the file is read-only.
        let databaseFD = open(database, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        var own = Self.databaseLock(Int16(F_WRLCK))
        if databaseFD >= 0, fcntl(databaseFD, Self.ofdSetLock, &own) != 0 {
            close(databaseFD)
            close(fd)
            throw Failure(description: "another colt-orders daemon is already using the database file \(database) through another name (a hard link or a bind mount of the same file); only one may run per database file. Stop it first, or point this one at another database")
        }
        descriptor = fd
        databaseDescriptor = databaseFD
        let text = "\(getpid()) \(startedAt)\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        if databaseDescriptor >= 0 { close(databaseDescriptor) }
        close(descriptor)
    }

    private static func databaseLock(_ type: Int16) -> flock {
        var lock = flock()
        lock.l_type = type
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(databaseLockOffset)
        lock.l_len = 1
        lock.l_pid = 0
        return lock
    }

    /// Who holds the lock of `database`, or `nil` when no daemon runs on it. Never takes the lock.
    public static func holder(ofDatabase database: String) -> Holder? {
        let fd = open(path(forDatabase: database), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return holder(of: fd)
    }

    private static func holder(of fd: Int32) -> Holder? {
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_GETLK, &probe) == 0, probe.l_type != Int16(F_UNLCK) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = pread(fd, &buffer, buffer.count, 0)
        let fields = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        return Holder(pid: probe.l_pid, since: fields.count > 1 ? String(fields[1]) : nil)
    }
}
