import Foundation
import Testing
import TestSupport

/// A short run of scripts/soak (the crash soak) in CI: 300 rows, 10 SIGKILLs, faults on, orders
/// followed to completion; the sparse Colt (no replay, the minimal inventory answer) and the rich
/// one. The script exits non-zero when any invariant breaks.
@Suite(.serialized) struct SoakTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/soak").path

    @Test(arguments: [("ignore", "minimal"), ("replay", "rich")])
    func aShortCrashSoak(mode: String, shape: String) throws {
        let started = ContinuousClock.now
        let result = try run("/usr/bin/python3", [Self.script, "--rows", "300", "--kills", "10", "--seed", "11", "--mode", mode,
                                                   "--shape", shape, "--binary", builtBinary(), "--timeout", "120"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("duplicate orders:          0"), "\(result.stdout)")
        #expect(result.stdout.contains("lost rows:                 0"), "\(result.stdout)")
        #expect(result.stdout.contains("misrecorded orders:        0"), "\(result.stdout)")
        #expect(result.stdout.contains("rows:                      300 (completed "), "every order completed: \(result.stdout)")
        #expect(result.stdout.contains("kills:                     10 "), "\(result.stdout)")
        #expect(ContinuousClock.now - started < .seconds(45), "the CI soak stays short")
    }
}
