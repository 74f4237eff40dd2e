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
            The backup is checked first (integrity_check). The database it replaces is moved aside \
            (with its -wal), never deleted. Rows the backup shows as not yet settled may have been sent \
            after it was taken, so each is marked: the daemon reads Colt's inventory before sending it, \
            and takes an order it finds instead of making a second one.
            """)

    @OptionGroup var options: DatabaseOptions

    @Option(name: .long, help: "The backup file to restore.")
    var from: String

    func run() throws {
        let path = try options.path()
        let stamp = Timestamp.string(Date())
        // Held while the files change hands: a daemon cannot start on a half-restored database.
        let lock: DaemonLock
        do {
            lock = try DaemonLock(database: path, startedAt: stamp)
        } catch {
            throw CleanExit.message("colt-orders: \(error); stop the service first (systemctl stop colt-orders), then restore", code: 1)
        }
        let report = try ledgerAction { try Backup.restore(from: from, to: path, stamp: stamp) }
        _ = lock
        print("restored \(from) to \(path): \(report.requests) requests")
        if let replaced = report.replacedDatabase { print("the database it replaced is kept as \(replaced)") }
        if report.unsettled > 0 {
            print("\(report.unsettled) requests not yet settled in the backup will have Colt's inventory read before they are sent (the daemon may have sent them after the backup was taken)")
        }
    }
}
