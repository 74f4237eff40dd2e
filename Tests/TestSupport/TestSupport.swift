import Foundation

/// A fresh directory under /tmp, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ name: String = "colt-orders-test") throws {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to a file in the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
        return file(name)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// What a finished process printed, and how it ended.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Where SwiftPM put the test bundle: the `colt-orders` binary is beside it.
public func builtBinary(_ name: String = "colt-orders") -> String {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // swift-testing and XCTest run from `.build/<triple>/debug/colt-ordersPackageTests.xctest`.
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), directory.path != "/" {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent(name).path
}

/// Runs a command to completion and captures its output.
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe(), inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
    try? inPipe.fileHandleForWriting.close()
    // Read both pipes before waiting, so a chatty process never blocks on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var stderrData = Data()
    group.enter()
    DispatchQueue.global().async {
        stderrData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                         stderr: String(decoding: stderrData, as: UTF8.self))
}

/// The sqlite3 CLI, as an operator would use it.
public func sqlite3(_ database: String, _ sql: String) throws -> ProcessResult {
    try run("/usr/bin/sqlite3", ["-bail", database, sql])
}

/// A single value from the sqlite3 CLI (the first line of its output).
public func sqliteValue(_ database: String, _ sql: String) throws -> String {
    let result = try sqlite3(database, sql)
    guard result.status == 0 else { throw TestFailure("sqlite3 failed on \(sql): \(result.stderr)") }
    return result.stdout.split(separator: "\n").first.map(String.init) ?? ""
}

/// A simple error for test helpers.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` every 20 ms until it holds, or fails after `timeout`.
public func eventually(timeout: Duration = .seconds(20), _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("timed out after \(timeout) waiting for: \(what)")
}

/// A running process (by default the real `colt-orders` binary), its output going to files.
public final class DaemonProcess: @unchecked Sendable {
    // @unchecked: `process` is only started in init and then read (pid, status), which Process allows from any thread.
    public let process: Process
    public let stdoutPath: String
    public let stderrPath: String

    /// Starts `command` (the executable, then its arguments) with `environment` added to ours;
    /// stdout and stderr go to files in `directory` (stderr to `stderrPath` when given).
    public init(command: [String], environment: [String: String] = [:], directory: TemporaryDirectory,
                name: String = "daemon", stderrPath: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stamp = UUID().uuidString.prefix(6)
        stdoutPath = directory.file("\(name)-\(stamp).out")
        self.stderrPath = stderrPath ?? directory.file("\(name)-\(stamp).err")
        for path in [stdoutPath, self.stderrPath] where !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: self.stderrPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Starts the real binary with `arguments`, behind `launcher` when given (e.g. `setpriv …`).
    public convenience init(arguments: [String], environment: [String: String] = [:], directory: TemporaryDirectory,
                            name: String = "daemon", launcher: [String] = []) throws {
        try self.init(command: launcher + [builtBinary()] + arguments, environment: environment, directory: directory, name: name)
    }

    public var pid: Int32 { process.processIdentifier }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit; returns its status, or fails after `timeout` (and kills it).
    @discardableResult
    public func wait(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                throw TestFailure("\(process.executableURL?.lastPathComponent ?? "the process") did not exit within \(timeout); stderr:\n\(stderr.suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}

extension Result where Success == Void, Failure == any Error {
    /// The outcome of `body`, to rethrow (`try outcome.get()`) after a clean-up that must run
    /// either way and needs `await` (which `defer` cannot).
    public init(running body: () async throws -> Void) async {
        do {
            try await body()
            self = .success(())
        } catch {
            self = .failure(error)
        }
    }
}
