import Configuration
import Foundation
import Synchronization

/// The configuration's sources, layered by swift-configuration, highest priority first:
///
/// 1. command-line flags;
/// 2. `COLT_ORDERS_*` environment variables (`submit.max_in_flight` is
///    `COLT_ORDERS_SUBMIT_MAX_IN_FLIGHT`);
/// 3. the JSON configuration file;
/// 4. what systemd's `$CREDENTIALS_DIRECTORY` holds (`client-secret`, `status-users`), as
///    the paths of those files;
/// 5. the defaults of ``Settings/keys``.
///
/// Every value comes with the source it was taken from, as an operator would name it ("flag
/// --max-in-flight", "environment variable COLT_ORDERS_…", "FILE: key", "default"): an access
/// reporter records which provider answered each lookup.
///
/// The JSON file is read here rather than by the library's `FileProvider<JSONSnapshot>`,
/// which refuses a whole file for one `null` with a message that names no key, reads `true` as
/// 1 for a number, and cannot list the keys it holds: an unknown key must get "did you mean".
/// Its values are served to the reader by an `InMemoryProvider`.
struct ConfigurationLayers: Sendable {
    private let reader: ConfigReader
    private let recorder: AnsweringProvider
    /// How each layer, by position, names the source of a key's value.
    private let sourceNames: [@Sendable (String) -> String]
    /// The source named for a value no layer set: the key's default.
    static let defaultSource = "default"
    /// What is wrong with the file itself: unreadable, not JSON, unknown keys, bad values.
    let fileProblems: [String]

    init(file: String?, flags: [String: String], environment: [String: String]) {
        var providers: [any ConfigProvider] = []
        var names: [@Sendable (String) -> String] = []
        providers.append(InMemoryProvider(name: "flags", values: Self.values(flags)))
        names.append { "flag --\(Settings.flagName($0))" }
        providers.append(EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "colt_orders"))
        names.append { "environment variable \(Settings.Key.environmentVariable($0))" }
        var fileProblems: [String] = []
        if let file {
            let (found, problems) = Settings.readFile(file)
            fileProblems = problems
            providers.append(InMemoryProvider(name: file, values: Self.values(found)))
            names.append { "\(file): \($0)" }
        }
        var credentials: [String: String] = [:]
        if let directory = environment["CREDENTIALS_DIRECTORY"] {
            credentials["api.client_secret_file"] = "\(directory)/client-secret"
            if FileManager.default.fileExists(atPath: "\(directory)/status-users") {
                credentials["status.auth_file"] = "\(directory)/status-users"
            }
        }
        providers.append(InMemoryProvider(name: "systemd credentials", values: Self.values(credentials)))
        names.append { $0 == "status.auth_file" ? "systemd credential status-users" : "systemd credential client-secret" }
        let defaults = Dictionary(uniqueKeysWithValues: Settings.keys.compactMap { key in key.defaultValue.map { (key.name, $0) } })
        providers.append(InMemoryProvider(name: "defaults", values: Self.values(defaults)))
        names.append { _ in Self.defaultSource }

        recorder = AnsweringProvider()
        reader = ConfigReader(providers: providers, accessReporter: recorder)
        sourceNames = names
        self.fileProblems = fileProblems
    }

    /// The value of `key` (a name from ``Settings/keys``) and where it came from, or `nil` when
    /// no source sets it and it has no default.
    func value(_ key: String) -> (value: String, source: String)? {
        guard let value = reader.string(forKey: ConfigKey(key)), let layer = recorder.layer(answering: key) else { return nil }
        return (value, sourceNames[layer](key))
    }

    private static func values(_ strings: [String: String]) -> [AbsoluteConfigKey: ConfigValue] {
        Dictionary(uniqueKeysWithValues: strings.map { (AbsoluteConfigKey(ConfigKey($0.key)), ConfigValue(.string($0.value), isSecret: false)) })
    }
}

/// Records, for each key looked up, the position of the provider that answered: the reader
/// asks its providers in order and stops at the first with a value, so it is the last one asked.
private final class AnsweringProvider: AccessReporter {
    private let answers = Mutex<[String: Int]>([:])

    func report(_ event: AccessEvent) {
        guard case .success(.some) = event.result else { return }
        let position = event.providerResults.count - 1
        answers.withLock { $0[event.metadata.key.description] = position }
    }

    func layer(answering key: String) -> Int? {
        answers.withLock { $0[key] }
    }
}
