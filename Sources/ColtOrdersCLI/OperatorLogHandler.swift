import Foundation
import Logging
import Synchronization

/// One line per event on stderr: `LEVEL message key=value ...`, keys sorted, values quoted
/// when they hold spaces. Under systemd (stderr is the journal, per `$JOURNAL_STREAM`) each
/// line starts with its syslog priority (`<6>`) and no timestamp, since journald adds one.
struct OperatorLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String
    let journal: Bool

    private static let lock = Mutex(())

    init(label: String, level: Logger.Level, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.label = label
        logLevel = level
        journal = Self.stderrIsJournal(environment["JOURNAL_STREAM"])
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        fields.merge(event.metadata ?? [:]) { $1 }
        var line = journal ? "<\(Self.priority(event.level))>" : Self.timestamp() + " "
        line += "\(event.level.rawValue.uppercased()) \(Self.oneLine("\(event.message)"))"
        for key in fields.keys.sorted() {
            line += " \(key)=\(Self.quoted("\(fields[key]!)"))"
        }
        line += "\n"
        Self.lock.withLock { _ in
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// A message kept to one line: line breaks and other control characters escaped.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: TerminalText.needsEscape) else { return text }
        let quoted = quoted(text)
        return quoted.hasPrefix("\"") ? String(quoted.dropFirst().dropLast()) : quoted
    }

    /// syslog priorities, as journald reads them from a line's `<N>` prefix.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A value as one token of one line: quoted when it holds spaces, quotes or `=`, and with
    /// control characters escaped, so text from Colt can never start a forged log line.
    static func quoted(_ value: String) -> String {
        var escaped = ""
        var needsQuotes = value.isEmpty
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"; needsQuotes = true
            case "\r": escaped += "\\r"; needsQuotes = true
            case "\t": escaped += "\\t"; needsQuotes = true
            case "\"": escaped += "\\\""; needsQuotes = true
            case "\\": escaped += "\\\\"
            case " ", "=": escaped.unicodeScalars.append(scalar); needsQuotes = true
            case _ where TerminalText.needsEscape(scalar):
                escaped += "\\u{\(String(scalar.value, radix: 16))}"
                needsQuotes = true
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return needsQuotes ? "\"" + escaped + "\"" : escaped
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }

    /// `$JOURNAL_STREAM` is `DEVICE:INODE` of the journal's stream; stderr is the journal when they match.
    private static func stderrIsJournal(_ value: String?) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
