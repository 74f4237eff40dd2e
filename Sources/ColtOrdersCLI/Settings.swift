import ColtClient
import Configuration
import Foundation
import Logging
import OrderEngine
import StatusServer

/// Everything the daemon needs, read from (highest priority first) command-line flags,
/// `COLT_ORDERS_*` environment variables, a JSON configuration file, systemd's credentials,
/// then defaults (see ``ConfigurationLayers``).
///
/// Every problem names the setting and where its value came from, so an operator can fix it.
struct Settings: Sendable {
    /// What `submit.max_in_flight` may be; the transport keeps as many connections.
    static let maxInFlight = 1...1024

    var databasePath: String
    var client: ColtClientConfiguration
    var engine: EngineConfiguration
    var logLevel: Logger.Level
    /// Each setting's value as given, and where it came from (a flag, a variable, the file, or
    /// the default), for `check-config`. Settings that are not set are absent.
    var resolved: [String: (value: String, source: String)]
    /// Settled rows older than this many days are pruned by the daemon; `nil`: never.
    var retentionDays: Int? = nil
    /// Where the HTTP status endpoint listens; `nil`: it is off.
    var statusListen: StatusListenAddress? = nil
    /// Who may use the status endpoint (`status.auth_file`); `nil`: no authentication, loopback only.
    var statusCredentials: StatusCredentials? = nil
    /// Whether the web page may cancel and retry (`status.allow_actions`).
    var statusAllowActions = false
    /// Things that work but should be fixed (a secret file others can read), in words.
    var warnings: [String] = []

    /// One setting: its key in the file, its environment variable, and how to check its value.
    struct Key: Sendable {
        let name: String
        let help: String
        let defaultValue: String?

        var environmentVariable: String { Self.environmentVariable(name) }

        /// `COLT_ORDERS_` and the key in capitals, `_` for `.`, as swift-configuration's
        /// `EnvironmentVariablesProvider` names it under the `colt_orders` prefix.
        static func environmentVariable(_ name: String) -> String {
            "COLT_ORDERS_" + name.uppercased().replacingOccurrences(of: ".", with: "_")
        }
    }

    /// Every setting there is; the README's configuration reference lists the same.
    static let keys: [Key] = [
        Key(name: "database.path", help: "the SQLite database file", defaultValue: "colt-orders.db"),
        Key(name: "api.base_url", help: "'production', 'sandbox', or a URL (http:// only to loopback)", defaultValue: "sandbox"),
        Key(name: "api.client_id", help: "the OAuth client id", defaultValue: nil),
        Key(name: "api.client_secret_file", help: "a file holding the client secret (default: $CREDENTIALS_DIRECTORY/client-secret under systemd)", defaultValue: nil),
        Key(name: "api.ca_file", help: "PEM file of CAs to trust instead of the system's (private CAs)", defaultValue: nil),
        Key(name: "api.request_timeout", help: "seconds an order request may take", defaultValue: "30"),
        Key(name: "api.connect_timeout", help: "seconds to connect", defaultValue: "10"),
        Key(name: "submit.max_in_flight", help: "requests in flight at once", defaultValue: "4"),
        Key(name: "submit.rate_per_second", help: "requests started per second", defaultValue: "10"),
        Key(name: "submit.max_range_size", help: "the most numbers one request's range may hold; a larger one is refused as invalid", defaultValue: "10000"),
        Key(name: "retry.initial_delay", help: "seconds before the first retry (then doubling, jittered)", defaultValue: "2"),
        Key(name: "retry.max_delay", help: "longest wait between two attempts, in seconds", defaultValue: "600"),
        Key(name: "retry.max_attempts", help: "attempts before a row is 'failed'", defaultValue: "12"),
        Key(name: "retry.max_age", help: "seconds after the first attempt before a row is 'failed'", defaultValue: "86400"),
        Key(name: "backoff.failure_threshold", help: "consecutive transient failures that pause every submission", defaultValue: "5"),
        Key(name: "backoff.initial_pause", help: "the first global pause, in seconds (then doubling)", defaultValue: "5"),
        Key(name: "backoff.max_pause", help: "the longest global pause, in seconds", defaultValue: "300"),
        Key(name: "credentials.retry_interval", help: "seconds before asking for a token again after Colt refused the credentials", defaultValue: "300"),
        Key(name: "shutdown.grace", help: "seconds requests in flight may take to finish on SIGTERM", defaultValue: "20"),
        Key(name: "database.poll_interval", help: "seconds between checks for new rows when no file event comes (inotify wakes the daemon at once)", defaultValue: "1"),
        Key(name: "tracking.check_interval", help: "seconds between inventory checks of an order in progress (older orders: up to 8 times longer, jittered)", defaultValue: "900"),
        Key(name: "tracking.stall_after", help: "seconds after which an order still in progress is flagged as stalled", defaultValue: "432000"),
        Key(name: "log.level", help: "trace, debug, info, notice, warning, error or critical", defaultValue: "info"),
        Key(name: "retention.days", help: "prune settled rows (and their attempts) older than this many days, hourly; unset: never", defaultValue: nil),
        Key(name: "status.listen", help: "HOST:PORT for the HTTP status endpoint and the operator's web page (/ /ledger /healthz /readyz /orders /metrics); unset: off", defaultValue: nil),
        Key(name: "status.auth_file", help: "a file of name:password lines: every status endpoint then asks for HTTP Basic authentication; needed off loopback (default: $CREDENTIALS_DIRECTORY/status-users under systemd, when present)", defaultValue: nil),
        Key(name: "status.allow_actions", help: "let the web page cancel and retry requests (needs status.auth_file)", defaultValue: "false"),
    ]

    /// A configuration that cannot work, with every problem found.
    struct Problems: Error, CustomStringConvertible {
        var list: [String]
        var description: String {
            "the configuration is not valid:\n" + list.map { "  - \($0)" }.joined(separator: "\n")
        }
    }

    /// Loads and checks the settings.
    ///
    /// - Parameters:
    ///   - file: the JSON configuration file, if any.
    ///   - flags: values given on the command line, by key name.
    ///   - environment: the process environment.
    static func load(file: String?, flags: [String: String], environment: [String: String]) throws(Problems) -> Settings {
        let layers = ConfigurationLayers(file: file, flags: flags, environment: environment)
        var problems = layers.fileProblems
        if let retired = environment["COLT_ORDERS_STATUS_ALLOW_NON_LOOPBACK"], !["false", "0", "no"].contains(retired.lowercased()) {
            problems.append("COLT_ORDERS_STATUS_ALLOW_NON_LOOPBACK: " + Self.retiredAllowNonLoopback)
        }

        var reader = Reader(layers: layers)
        let databasePath = reader.string("database.path")
        let baseURL = reader.baseURL()
        let clientID = reader.string("api.client_id")
        let secret = reader.secret()
        let caFile = reader.readableFile("api.ca_file")
        var client = ColtClientConfiguration(baseURL: baseURL ?? "", clientID: clientID ?? "", clientSecret: secret ?? Secret(""))
        client.caFile = caFile
        client.requestTimeout = reader.seconds("api.request_timeout", 0.1...600) ?? client.requestTimeout
        client.connectTimeout = reader.seconds("api.connect_timeout", 0.1...120) ?? client.connectTimeout

        var engine = EngineConfiguration()
        engine.maxInFlight = reader.integer("submit.max_in_flight", Self.maxInFlight) ?? engine.maxInFlight
        engine.ratePerSecond = reader.number("submit.rate_per_second", 0.01...100_000) ?? engine.ratePerSecond
        engine.maxRangeSize = reader.integer("submit.max_range_size", 1...1_000_000) ?? engine.maxRangeSize
        engine.retry.initialDelay = reader.seconds("retry.initial_delay", 0.001...86_400) ?? engine.retry.initialDelay
        engine.retry.maxDelay = reader.seconds("retry.max_delay", 0.001...604_800) ?? engine.retry.maxDelay
        engine.retry.maxAttempts = reader.integer("retry.max_attempts", 1...1000) ?? engine.retry.maxAttempts
        engine.retry.maxAge = reader.seconds("retry.max_age", 1...31_536_000) ?? engine.retry.maxAge
        engine.globalBackoff.failureThreshold = reader.integer("backoff.failure_threshold", 1...10_000) ?? engine.globalBackoff.failureThreshold
        engine.globalBackoff.initialPause = reader.seconds("backoff.initial_pause", 0.001...86_400) ?? engine.globalBackoff.initialPause
        engine.globalBackoff.maxPause = reader.seconds("backoff.max_pause", 0.001...86_400) ?? engine.globalBackoff.maxPause
        engine.credentialsRetryInterval = reader.seconds("credentials.retry_interval", 0.001...86_400) ?? engine.credentialsRetryInterval
        engine.shutdownGrace = reader.seconds("shutdown.grace", 0...3600) ?? engine.shutdownGrace
        engine.pollInterval = reader.seconds("database.poll_interval", 0.01...3600) ?? engine.pollInterval
        engine.tracking.checkInterval = reader.seconds("tracking.check_interval", 1...86_400) ?? engine.tracking.checkInterval
        engine.tracking.stallAfter = reader.seconds("tracking.stall_after", 1...31_536_000) ?? engine.tracking.stallAfter
        let level = reader.logLevel()
        let retentionDays = reader.integer("retention.days", 1...36_500)
        let (statusListen, statusCredentials, statusAllowActions) = reader.status()

        problems += reader.problems
        if clientID == nil || clientID == "" { problems.append("api.client_id: missing; set it in the file, COLT_ORDERS_API_CLIENT_ID or --client-id") }
        if engine.retry.maxDelay < engine.retry.initialDelay { problems.append("retry.max_delay: must not be shorter than retry.initial_delay") }
        if engine.globalBackoff.maxPause < engine.globalBackoff.initialPause { problems.append("backoff.max_pause: must not be shorter than backoff.initial_pause") }
        guard problems.isEmpty, let databasePath, let level else { throw Problems(list: problems) }
        return Settings(databasePath: databasePath, client: client, engine: engine, logLevel: level,
                        resolved: reader.resolved, retentionDays: retentionDays, statusListen: statusListen,
                        statusCredentials: statusCredentials, statusAllowActions: statusAllowActions, warnings: reader.warnings)
    }

    static func flagName(_ key: String) -> String {
        switch key {
        case "database.path": "database"
        case "api.base_url": "base-url"
        case "log.level": "log-level"
        default: String(key.split(separator: ".").last ?? "").replacingOccurrences(of: "_", with: "-")
        }
    }

    /// Reads the JSON file into dotted keys; unknown keys and non-scalar values are problems.
    static func readFile(_ path: String) -> (values: [String: String], problems: [String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            return ([:], ["\(path): cannot read the configuration file (missing, or not readable by this user)"])
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) else {
            return ([:], ["\(path): not valid JSON; see the example in the README"])
        }
        guard let root = object as? [String: Any] else { return ([:], ["\(path): must hold a JSON object"]) }
        var result: [String: String] = [:]
        var problems: [String] = []
        let known = keys.map(\.name)
        func walk(_ object: [String: Any], prefix: String) {
            for (name, value) in object.sorted(by: { $0.key < $1.key }) {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if let nested = value as? [String: Any] {
                    walk(nested, prefix: key)
                } else if key == "status.allow_non_loopback" {
                    // `false` asked for what is now the only way without credentials: no harm in it.
                    if (value as? NSNumber)?.boolValue != false { problems.append("\(path): \(retiredAllowNonLoopback)") }
                } else if !known.contains(key) {
                    let suggestion = known.min { distance($0, key) < distance($1, key) }.flatMap { distance($0, key) <= 4 ? $0 : nil }
                    problems.append("\(path): unknown setting '\(key)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? ""))
                } else if value is NSNull {
                    problems.append("\(path): \(key) is null; give it a value, or leave the key out for the default")
                } else if let text = value as? String {
                    result[key] = text
                } else if let number = value as? NSNumber, String(cString: number.objCType) == "c" {
                    // A JSON true or false: only a yes-or-no setting takes one (never read as 1 or 0).
                    if key == "status.allow_actions" {
                        result[key] = number.boolValue ? "true" : "false"
                    } else {
                        problems.append("\(path): \(key) must be a number or a string, not \(number.boolValue ? "true" : "false")")
                    }
                } else if let number = value as? NSNumber {
                    result[key] = number.stringValue
                } else {
                    problems.append("\(path): \(key) must be a string or a number")
                }
            }
        }
        walk(root, prefix: "")
        return (result, problems)
    }

    static let retiredAllowNonLoopback = "status.allow_non_loopback is no longer a setting: off loopback the status endpoint needs authentication, so set status.auth_file to a file of name:password lines instead"

    /// Levenshtein distance, for "did you mean".
    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}

/// Parses values, collecting one problem per bad setting.
private struct Reader {
    let layers: ConfigurationLayers
    var problems: [String] = []
    var warnings: [String] = []
    var resolved: [String: (value: String, source: String)] = [:]

    mutating func raw(_ key: String) -> (value: String, source: String)? {
        guard let found = layers.value(key) else { return nil }
        resolved[key] = found
        return found
    }

    mutating func string(_ key: String) -> String? {
        guard let (value, source) = raw(key) else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { problems.append("\(key) (from \(source)): must not be empty") }
        return trimmed
    }

    mutating func integer(_ key: String, _ range: ClosedRange<Int>) -> Int? {
        guard let (value, source) = raw(key) else { return nil }
        guard let number = Int(value.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            problems.append("\(key) (from \(source)): must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(value)'")
            return nil
        }
        return number
    }

    mutating func number(_ key: String, _ range: ClosedRange<Double>) -> Double? {
        guard let (value, source) = raw(key) else { return nil }
        guard let number = Double(value.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            problems.append("\(key) (from \(source)): must be a number from \(range.lowerBound) to \(range.upperBound), not '\(value)'")
            return nil
        }
        return number
    }

    mutating func seconds(_ key: String, _ range: ClosedRange<Double>) -> Duration? {
        number(key, range).map { .milliseconds(Int64(($0 * 1000).rounded())) }
    }

    mutating func baseURL() -> String? {
        guard let (value, source) = raw("api.base_url") else { return nil }
        switch value {
        case "production": return "https://apis.colt.net"
        case "sandbox": return "https://sandbox.apis.colt.net"
        default: break
        }
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              ["http", "https"].contains(scheme), url.query == nil, url.fragment == nil, url.user == nil
        else {
            problems.append("api.base_url (from \(source)): must be 'production', 'sandbox' or an http(s) URL such as https://apis.colt.net, not '\(value)'")
            return nil
        }
        if let port = url.port, !(1...65535).contains(port) {
            problems.append("api.base_url (from \(source)): the port \(port) is not a TCP port (1 to 65535)")
            return nil
        }
        if scheme == "http", !LoopbackHost.isLoopback(host) {
            problems.append("api.base_url (from \(source)): plain http:// is refused except to loopback (127.0.0.1, ::1, localhost); use https:// for \(host)")
            return nil
        }
        return value.hasSuffix("/") ? String(value.dropLast()) : value
    }

    mutating func readableFile(_ key: String) -> String? {
        guard let (value, source) = raw(key) else { return nil }
        guard FileManager.default.isReadableFile(atPath: value) else {
            problems.append("\(key) (from \(source)): cannot read '\(value)' (missing, or not readable by this user)")
            return nil
        }
        return value
    }

    mutating func secret() -> Secret? {
        guard let (path, source) = raw("api.client_secret_file") else {
            problems.append("api.client_secret_file: missing; put the client secret in a file readable only by the daemon's user and name it here (never on the command line)")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            problems.append("api.client_secret_file (from \(source)): cannot read '\(path)' (missing, or not readable by this user)")
            return nil
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, !text.contains("\n") else {
            problems.append("api.client_secret_file (from \(source)): '\(path)' must hold the secret alone on one line")
            return nil
        }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            warnings.append("api.client_secret_file (from \(source)): '\(path)' can be read by its group or by others (mode \(String(info.st_mode & 0o777, radix: 8))); make it readable by the daemon's user alone: chmod 600 \(path)")
        }
        return Secret(text)
    }

    /// `status.listen`, `status.auth_file` and `status.allow_actions`, checked together: off
    /// loopback, and for actions, the endpoint needs its credentials file.
    mutating func status() -> (StatusListenAddress?, StatusCredentials?, Bool) {
        var credentials: StatusCredentials?
        if let (path, source) = raw("status.auth_file") {
            do {
                credentials = try StatusCredentials(path: path)
                var info = stat()
                if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                    warnings.append("status.auth_file (from \(source)): '\(path)' can be read by its group or by others (mode \(String(info.st_mode & 0o777, radix: 8))); make it readable by the daemon's user alone: chmod 600 \(path)")
                }
            } catch {
                problems.append("status.auth_file (from \(source)): \(error)")
            }
        }
        var allowActions = false
        if let (value, source) = raw("status.allow_actions") {
            switch value.lowercased() {
            case "true", "1", "yes": allowActions = true
            case "false", "0", "no": allowActions = false
            default: problems.append("status.allow_actions (from \(source)): must be true or false, not '\(value)'")
            }
            if allowActions, raw("status.auth_file") == nil {
                problems.append("status.allow_actions (from \(source)): actions need signing in; set status.auth_file as well")
            }
        }
        guard let (value, source) = raw("status.listen") else { return (nil, credentials, allowActions) }
        switch StatusListenAddress.parse(value, allowNonLoopback: raw("status.auth_file") != nil) {
        case .success(let address): return (address, credentials, allowActions)
        case .failure(let problem):
            problems.append("status.listen (from \(source)): \(problem)")
            return (nil, credentials, allowActions)
        }
    }

    mutating func logLevel() -> Logger.Level? {
        guard let (value, source) = raw("log.level") else { return nil }
        guard let level = Logger.Level(rawValue: value.lowercased()) else {
            problems.append("log.level (from \(source)): must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), not '\(value)'")
            return nil
        }
        return level
    }
}
