import Foundation
import OrderStore
import Testing
import TestSupport

/// Text reaches SQLite byte for byte, whatever its length or content.
@Suite struct BindingTests {
    @Test(arguments: ["", "a", "co-0190f3a0-7c1e-7d2a-9b3c-1a2b3c4d5e6f", "a\u{0}b", "+442081324758", "héllo wörld, ünïcode ✓", String(repeating: "x", count: 5000)])
    func textIsBoundByteForByte(_ text: String) throws {
        let directory = try TemporaryDirectory("binding")
        let connection = try Connection(path: directory.file("t.db"))
        try connection.execute("CREATE TABLE t (x)")
        try connection.run("INSERT INTO t (x) VALUES (?1)", [.text(text)])
        let stored = try #require(try connection.first("SELECT typeof(x), hex(x) FROM t", [], { ($0.text(0), $0.text(1)) }))
        #expect(stored.0 == "text", "empty text stays text, not NULL")
        #expect(stored.1 == Array(text.utf8).map { String(format: "%02X", $0) }.joined())
    }
}
