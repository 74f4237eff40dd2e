import ArgumentParser
import Foundation
import OrderStore

/// `colt-orders backup --to FILE`: an online, consistent copy of the database.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the database to a new file, consistently, while the daemon runs.",
        discussion: """
            The copy is the database as of one moment (SQLite's backup API, in one read transaction: \
            the daemon is never held up), checked with PRAGMA integrity_check before it is put in \
            place; it never overwrites a file. Put it back with colt-orders restore --from FILE, \
            never by copying it over the database by hand (README: Backups).
            """)

    @OptionGroup var options: DatabaseOptions

    @Option(name: .long, help: "The new file to write; it must not exist.")
    var to: String

    func run() throws {
        let db = try options.openForReading()
        let started = Date()
        let report = try ledgerAction { try Backup.copy(db, to: to) }
        let elapsed = Date().timeIntervalSince(started)
        print("backed up \(db.path) to \(report.path): \(report.requests) requests (highest id \(report.highestRequestID.map(String.init) ?? "none")), schema version \(report.schemaVersion), \(report.bytes / 1024) KiB in \(String(format: "%.1f", elapsed)) s; integrity_check ok")
    }
}
