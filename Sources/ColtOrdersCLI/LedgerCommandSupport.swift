import ArgumentParser
import Foundation
import OrderStore

/// The options of the commands that only need the database (status, list, show, enqueue,
/// cancel, retry, prune): the path comes from `--database`, `COLT_ORDERS_DATABASE_PATH`, the
/// configuration file's `database.path` (`--config` or `COLT_ORDERS_CONFIG`), or the default,
/// in that order, as for the daemon. Nothing else in the configuration is needed or checked.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "JSON configuration file; only its database.path is read.")
    var config: String?

    @Option(name: .long, help: "The SQLite database file (database.path).")
    var database: String?

    /// The database file to use, resolved as the daemon resolves it (``ConfigurationLayers``).
    func path() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let file = config ?? environment["COLT_ORDERS_CONFIG"]
        let layers = ConfigurationLayers(file: file, flags: ["database.path": database].compactMapValues { $0 }, environment: environment)
        if let (path, source) = layers.value("database.path"), !path.isEmpty, source != ConfigurationLayers.defaultSource { return path }
        // Only a file that could not be read at all stops a command that needs just the path.
        if let file, let problem = layers.fileProblems.first(where: { $0.hasPrefix("\(file): cannot read") || $0.hasPrefix("\(file): not valid JSON") || $0.hasPrefix("\(file): must hold") }) {
            throw ExitCode.withMessage("colt-orders: \(problem)", code: 2)
        }
        return Settings.keys.first { $0.name == "database.path" }?.defaultValue ?? "colt-orders.db"
    }

    /// A read-only connection: reading never blocks the daemon, and never changes the file.
    func openForReading() throws -> Connection {
        let path = try path()
        do {
            return try Connection(path: path, mode: .readOnly, busyTimeout: .seconds(5))
        } catch {
            throw ExitCode.withMessage("colt-orders: \(error)", code: 1)
        }
    }

    /// A read-write connection for the short write transactions of operator actions; waits up
    /// to 5 s for the daemon's write lock (its writes take milliseconds).
    func openForWriting() throws -> Connection {
        let path = try path()
        do {
            return try Connection(path: path, mode: .readWrite, busyTimeout: .seconds(5))
        } catch {
            throw ExitCode.withMessage("colt-orders: \(error)", code: 1)
        }
    }
}

/// Runs `body`, turning refusals and database errors into a message on stderr and exit status 1.
func ledgerAction<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as LedgerError {
        throw ExitCode.withMessage("colt-orders: \(TerminalText.safe(error.description))", code: 1)
    } catch let error as DatabaseError {
        throw ExitCode.withMessage("colt-orders: \(TerminalText.safe(error.description))", code: 1)
    }
}

/// `95` -> `1m 35s`, `200000` -> `2d 7h`.
func formatAge(_ seconds: Int) -> String {
    let s = max(0, seconds)
    switch s {
    case ..<60: return "\(s)s"
    case ..<3600: return "\(s / 60)m \(s % 60)s"
    case ..<86400: return "\(s / 3600)h \(s % 3600 / 60)m"
    default: return "\(s / 86400)d \(s % 86400 / 3600)h"
    }
}

/// Seconds from a database timestamp to `now`.
func age(of timestamp: String, now: Date = Date()) -> Int {
    Timestamp.date(timestamp).map { Int(now.timeIntervalSince($0).rounded(.down)) } ?? 0
}

/// Parses `90d`, `12h`, `30m`, `45s`, `2w` (or a bare number of days) into seconds.
func parseAge(_ text: String) -> TimeInterval? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    guard let last = trimmed.last else { return nil }
    let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
    let (digits, unit) = last.isNumber ? (Substring(trimmed), 86400.0) : (trimmed.dropLast(), units[last] ?? -1)
    // At most 100 years: beyond that no timestamp is meaningful (and time_t would overflow).
    guard unit > 0, let value = Double(digits), value >= 0, value.isFinite, value * unit <= 36_500 * 86_400 else { return nil }
    return value * unit
}

/// Parses a `--since` value: an ISO-8601 time (`2026-11-24`, `2026-11-24T09:30:00Z`) or an age (`2h`, `7d`).
func parseSince(_ text: String, now: Date = Date()) -> Date? {
    if let seconds = parseAge(text), !text.contains("-") { return now.addingTimeInterval(-seconds) }
    if text.count == 10 { return Timestamp.date(text + "T00:00:00Z") }
    return Timestamp.date(text)
}

/// Prints a value as pretty, sorted JSON.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
