@testable import ColtOrdersCLI
import Foundation
import Testing
import TestSupport

@Suite struct HardeningTests {
    /// Text from Colt (an error message) can never start a forged log line.
    @Test func logValuesStayOnOneLine() {
        let hostile = "bad\n<2>CRITICAL forged line\r\u{1B}[31m"
        let value = OperatorLogHandler.quoted(hostile)
        #expect(!value.contains("\n") && !value.contains("\r") && !value.contains("\u{1B}"), "\(value)")
        #expect(value.hasPrefix("\"") && value.contains("\\n<2>CRITICAL"))
        #expect(OperatorLogHandler.quoted("plain") == "plain")
        #expect(OperatorLogHandler.quoted("a b") == "\"a b\"")
        #expect(!OperatorLogHandler.oneLine("message\nsecond").contains("\n"))
    }

    /// Two paths to one database file (here through a symlinked directory) meet at one lock.
    @Test func aSecondDaemonThroughAnotherPathToTheSameFileRefusesToStart() async throws {
        let harness = try await DaemonHarness.start()
        defer { Task { await harness.stop() } }
        let link = harness.directory.path + "-link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: harness.directory.path)
        defer { try? FileManager.default.removeItem(atPath: link) }
        let first = try harness.launch("run")
        defer { first.signal(SIGKILL) }
        try await eventually("the first daemon is up") { first.stderr.contains("colt-orders started") }
        var arguments = harness.arguments("run")
        arguments[arguments.firstIndex(of: harness.database)!] = link + "/orders.db"
        let second = try DaemonProcess(arguments: arguments, environment: DaemonHarness.fastEnvironment, directory: harness.directory, name: "second")
        #expect(try await second.wait(timeout: .seconds(10)) == 1)
        #expect(second.stderr.contains("already using"), "\(second.stderr)")
        first.signal(SIGTERM)
        #expect(try await first.wait() == 0)
    }

    /// An age too large to be a time is refused with the option's error, not a crash.
    @Test func absurdAgesAreRefused() throws {
        let directory = try TemporaryDirectory("ages")
        defer { directory.remove() }
        let database = directory.file("orders.db")
        #expect(try run(builtBinary(), ["migrate", "--database", database]).status == 0)
        for arguments in [["prune", "--older-than", "1e300d"], ["list", "--since", "1e300d"]] {
            let result = try run(builtBinary(), arguments + ["--database", database])
            #expect(result.status != 0 && result.status < 128, "\(arguments): exit \(result.status), \(result.stderr)")
        }
    }
}
