import ArgumentParser
import OrderStore

/// `colt-orders migrate`: create or upgrade a database's schema without starting the daemon.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create the database, or bring its schema up to date, and exit.",
        discussion: "The daemon does this itself at start-up; run it to prepare a database before queueing rows.")

    @Option(name: .long, help: "The SQLite database file.")
    var database: String

    func run() throws {
        do {
            let db = try Database(path: database)
            let report = try db.useNow { try Migrator.migrate($0) }
            print(report.applied.isEmpty
                  ? "\(database): schema is up to date (version \(report.version))"
                  : "\(database): applied migrations \(report.applied.map(String.init).joined(separator: ", ")); schema version \(report.version)")
            if !report.restoredIndexes.isEmpty {
                print("\(database): made again the missing indexes \(report.restoredIndexes.joined(separator: ", ")) (the daemon's queries need them)")
            }
        } catch {
            throw ExitCode.withMessage("colt-orders: \(error)", code: 1)
        }
    }
}
