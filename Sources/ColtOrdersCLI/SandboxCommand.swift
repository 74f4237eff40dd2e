import ArgumentParser
import ColtSandbox
import Foundation
import Logging
import UnixSignals

/// `colt-orders sandbox`: runs the embedded Colt API simulator until SIGINT or SIGTERM.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run the embedded Colt API simulator (token, return/reactivate orders, Number search).",
        discussion: """
            Prints one line to stdout once listening (read the port from it with
            --port 0), then logs one line per request to stderr; stops on SIGINT
            or SIGTERM:
              colt sandbox listening on http://127.0.0.1:PORT

            Control endpoints (no authentication):
              GET  /_sandbox/orders[?trackingId=ID | ?number=%2B4420...]
              GET  /_sandbox/stats       GET /_sandbox/numbers
              GET  /_sandbox/faults      PUT /_sandbox/faults  (JSON array)
              POST /_sandbox/expire-tokens

            --fault RULE (repeatable, evaluated in order) is a JSON rule, e.g.
              '{"kind":"status","status":429,"times":2,
                "retryAfter":"Wed, 21 Oct 2026 07:28:00 GMT"}'
            or the short form FAULT[:OPTION]... with FAULT one of
              NNN, status=NNN  answer HTTP NNN, Colt error body, not processed
              latency=MS       wait MS ms first (adds up with other rules)
              hang             never answer; hold until the client gives up
              createThen504    create the order, then answer 504 (HTML)
              createThenDrop   create the order, then close, no response
              html             answer 502 with an HTML gateway page
              invalidJSON      answer 200 with truncated JSON, no order
              noOrderID        answer 200 {}, no order
              hugeBody         answer 200 with a 10 MB body, no order
              tokenExpired     answer 401 (token expired), no order
            and OPTION one of
              0.3, p=0.3       probability (seeded by --seed: reproducible)
              times=N          fire at most N times
              after=N          let the first N matching requests through
              retry-after=V    send Retry-After: V (HTTP dates: use JSON)
              path=P           token, order (default), return, reactivate,
                               number, any
              code=NNN         Colt error code of a status fault (default 001)
            Examples: 503:0.2  429:retry-after=2:times=3  latency=100  hang:0.01
            """)

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind; 0 picks a free port (printed on stdout).")
    var port = 8080

    @Option(name: .customLong("client-id"), help: "OAuth client id the token endpoint accepts.")
    var clientID = "sandbox-client"

    @Option(help: "OAuth client secret the token endpoint accepts (never logged).")
    var clientSecret = "sandbox-secret"

    @Option(help: "Seed of order ids and probabilistic faults.")
    var seed: UInt64 = 1

    @Option(help: "JSON file with an array of {number, country, serviceProfile?, status} (default: the demo inventory).")
    var inventory: String?

    @Option(help: "Generate N Activated GB numbers (+44207xxxxxxx, profile ANH) instead of the demo inventory.")
    var generateInventory: Int?

    @Option(name: .customLong("tracking-id-mode"), help: "replay: a repeated x-tracking-id answers the first answer again; ignore: processed as new.")
    var trackingIDMode = "replay"

    @Option(help: "About how many seconds an order stays In progress before it completes and its numbers move (each order draws 0.5 to 1.5 times this, seeded; NL 088 three times longer). Default: orders never complete.")
    var completionDelay: Double?

    @Option(name: .customLong("number-shape"), help: "The GET Number answer: rich ({\"numbers\":[...]} with order details and tracking ids) or minimal (a bare array of number, resourceStatus and the running order's orderId; nothing Colt has not published).")
    var numberShape = "rich"

    @Option(help: "The most numbers one page of GET Number holds.")
    var numberPageLimit = 1000

    @Option(help: "Access token lifetime in seconds.")
    var tokenLifetime: Double = 1800

    @Option(name: .customLong("fault"), help: "A fault rule, JSON or short form (repeatable; see above).")
    var faults: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard TrackingIDMode(rawValue: trackingIDMode) != nil else {
            throw ValidationError("--tracking-id-mode must be replay or ignore, not '\(trackingIDMode)'")
        }
        guard NumberShape(rawValue: numberShape) != nil else {
            throw ValidationError("--number-shape must be rich or minimal, not '\(numberShape)'")
        }
        guard numberPageLimit > 0 else { throw ValidationError("--number-page-limit must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be within 0...65535") }
        if let completionDelay, completionDelay < 0 { throw ValidationError("--completion-delay must not be negative") }
        guard tokenLifetime > 0 else { throw ValidationError("--token-lifetime must be positive") }
        guard inventory == nil || generateInventory == nil else {
            throw ValidationError("--inventory and --generate-inventory exclude each other")
        }
        for fault in faults {
            do { _ = try FaultRule(spec: fault) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() async throws {
        var logger = Logger(label: "colt-sandbox") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        var configuration = SandboxConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.clientID = clientID
        configuration.clientSecret = clientSecret
        configuration.seed = seed
        configuration.trackingIDMode = TrackingIDMode(rawValue: trackingIDMode) ?? .replay
        configuration.completionDelay = completionDelay.map { .milliseconds(Int64(($0 * 1000).rounded())) }
        configuration.numberShape = NumberShape(rawValue: numberShape) ?? .rich
        configuration.numberPageLimit = numberPageLimit
        configuration.tokenLifetime = .milliseconds(Int64((tokenLifetime * 1000).rounded()))
        configuration.faults = try faults.map { try FaultRule(spec: $0) }
        if let inventory {
            let data = try Data(contentsOf: URL(fileURLWithPath: inventory))
            do {
                configuration.inventory = try JSONDecoder().decode([InventoryNumber].self, from: data)
            } catch {
                throw ValidationError("--inventory \(inventory): not a JSON array of {number, country, serviceProfile?, status}: \(error)")
            }
        } else if let generateInventory {
            configuration.inventory = InventoryNumber.generated(count: generateInventory, seed: seed)
        }

        // Trap the signals before listening, so a signal right after the line is not lost.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let sandbox = try await ColtSandbox.start(configuration, logger: logger)
        FileHandle.standardOutput.write(Data("colt sandbox listening on \(sandbox.baseURL)\n".utf8))

        for await signal in signals {
            logger.notice("received \(signal), shutting down")
            break
        }
        await sandbox.shutdown()
    }
}
