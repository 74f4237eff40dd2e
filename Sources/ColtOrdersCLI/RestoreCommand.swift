import ArgumentParser
import Foundation
import OrderEngine
import OrderStore

/// `colt-orders restore --from FILE`: put a backup in place of the database.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup (colt-orders backup) in place of the database; the daemon must be stopped.",
        discussion: """
            The backup is checked first (integrity_check). The database it replaces is checkpointed \
            and moved aside, never deleted. Rows that may have been sent after the backup was taken \
            (queued, retrying, rejected, failed, unresolved in it) are marked: the daemon reads Colt's \
            inventory before sending any of them, and takes an order it finds instead of making a \
            second one. Rows the replaced database had cancelled are cancelled again, and its ids are \
            never reused. README: Backups.
            """)

    @OptionGroup var options: DatabaseOptions

    @Option(name: .long, help: "The backup file to restore.")
    var from: String

    func run() throws {
        let path = try options.path()
        guard FileManager.default.isReadableFile(atPath: from) else {
            throw ExitCode.withMessage("colt-orders: \(from): no such backup, or not readable by this user; nothing was restored", code: 1)
        }
        let existed = FileManager.default.fileExists(atPath: path)
        let stamp = Timestamp.string(Date())
        // Held while the files change hands: no daemon can start on a half-restored database.
        let lock: DaemonLock
        do {
            lock = try DaemonLock(database: path, startedAt: stamp)
        } catch {
            throw ExitCode.withMessage("colt-orders: \(error.description) (for an instance of the template: systemctl stop colt-orders@ACCOUNT); nothing was restored", code: 1)
        }
        let report = try withExtendedLifetime(lock) {
            do {
                return try ledgerAction { try Backup.restore(from: from, to: path, stamp: stamp) }
            } catch {
                // The lock's open made an empty database file where there was none: take it away again.
                if !existed, (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) == 0 {
                    try? FileManager.default.removeItem(atPath: path)
                }
                throw error
            }
        }
        print("restored \(from) to \(path): \(report.requests) requests")
        if let replaced = report.replacedDatabase { print("the database it replaced is kept as \(replaced)") }
        if report.marked > 0 {
            print("\(report.marked) requests will have Colt's inventory read before they are sent again: the daemon may have sent them after the backup was taken")
        }
        if report.cancelledAgain > 0 { print("\(report.cancelledAgain) requests the replaced database had cancelled are cancelled again") }
        if report.missing > 0 {
            print("warning: the replaced database has \(report.missing) requests added after the backup; they are not in the restored one (see \(report.replacedDatabase ?? "the replaced database")), and their ids are not reused")
        }
    }
}
