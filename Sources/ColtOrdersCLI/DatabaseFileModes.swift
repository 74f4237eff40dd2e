import Foundation
import Logging

/// Makes the database files group-writable when the process's umask allows it.
///
/// SQLite creates a database with mode 0644 whatever the umask, and its `-wal` and `-shm`
/// files with the database's mode. Under systemd (`UMask=0007`, `StateDirectoryMode=2770`)
/// operators in the service's group insert rows with sqlite3, which in WAL mode needs the
/// database, `-wal` and `-shm` all group-writable. So the group gets the write access the
/// umask grants: with the usual 0022 nothing changes.
enum DatabaseFileModes {
    /// Adds group read/write, as far as the umask allows, to `database` and its `-wal` and
    /// `-shm` files that this user owns. Returns the files changed.
    @discardableResult
    static func applyUmask(to database: String, logger: Logger) -> [String] {
        let mask = currentUmask()
        let groupBits = mode_t(0o060) & ~mask
        guard groupBits & 0o020 != 0 else { return [] }
        var changed: [String] = []
        for path in [database, database + "-wal", database + "-shm"] {
            var info = stat()
            guard stat(path, &info) == 0, info.st_uid == geteuid(), info.st_mode & groupBits != groupBits else { continue }
            let mode = (info.st_mode & 0o7777) | groupBits
            if chmod(path, mode) == 0 {
                changed.append(path)
            } else {
                logger.warning("cannot make a database file group-writable; operators in the group may not insert rows",
                               metadata: ["file": "\(path)", "error": "\(String(cString: strerror(errno)))"])
            }
        }
        if !changed.isEmpty {
            logger.info("database files made group-writable (the umask allows it)", metadata: ["files": "\(changed)"])
        }
        return changed
    }

    /// The umask, from /proc/self/status (reading it with umask(2) would change it for a moment).
    static func currentUmask() -> mode_t {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
           let value = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) {
            return value
        }
        let mask = umask(0o022)
        umask(mask)
        return mask
    }
}
