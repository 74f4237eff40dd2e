import ArgumentParser

/// `colt-orders`: submits queued Colt number return and reactivate orders from a SQLite table.
@main
struct ColtOrders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colt-orders",
        abstract: "Submits Colt number return and reactivate orders queued in a SQLite database.",
        discussion: """
            Operators queue requests with the sqlite3 CLI, for example:
              INSERT INTO requests (action, country, range_start, service_profile)
              VALUES ('return', 'GB', '+442081324758', 'ANH');
            The daemon (`colt-orders run`) submits each one with its own tracking id, retries what
            fails transiently, and records Colt's order id in the same row.
            """,
        subcommands: [RunCommand.self, DrainCommand.self, MigrateCommand.self, CheckConfigCommand.self, SandboxCommand.self, DemoCommand.self,
                      StatusCommand.self, ListCommand.self, ShowCommand.self, EnqueueCommand.self, CancelCommand.self,
                      RetryCommand.self, PruneCommand.self, BackupCommand.self, RestoreCommand.self])
}
