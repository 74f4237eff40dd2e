import ColtModel
import Foundation
import OrderStore
import Testing
import TestSupport

/// The insert-time checks (SQL, in migrations/) and the daemon's own validation (ColtModel)
/// must agree: a row the schema admits is one the daemon can send, and the other way round.
/// Thousands of generated values, fixed seed, through the real sqlite3 CLI.
@Suite struct SchemaFuzzTests {


    static let pieces = ["+", "+", "0", "1", "4", "9", "44", "2081", "00000", "99999", " ", "\n", "a", "４", "é", "\u{0}", "'", "%", "*", "[", "?"]

    static func number(_ rng: inout SplitMix) -> String {
        if Bool.random(using: &rng) {
            let length = Int.random(in: 1...18, using: &rng)
            var text = "+" + String(Int.random(in: 0...9, using: &rng))
            while text.count < length { text += String(Int.random(in: 0...9, using: &rng)) }
            return String(text.prefix(length))
        }
        return (0..<Int.random(in: 0...7, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    /// Any text, byte for byte, as an SQL expression.
    static func literal(_ text: String?) -> String {
        guard let text else { return "NULL" }
        return "CAST(X'" + text.utf8.map { String(format: "%02X", $0) }.joined() + "' AS TEXT)"
    }

    /// Inserts each value set with INSERT OR IGNORE (CHECK failures skip the row) and returns
    /// the indexes the schema admitted.
    static func admitted(_ rows: [(start: String?, end: String?, tracking: String?)]) throws -> Set<Int> {
        let directory = try TemporaryDirectory("schema-fuzz")
        defer { directory.remove() }
        let path = directory.file("orders.db")
        let database = try Database(path: path)
        try database.useNow { _ = try Migrator.migrate($0) }
        var sql = "BEGIN;\n"
        for (index, row) in rows.enumerated() {
            sql += "INSERT OR IGNORE INTO requests (action, country, range_start, range_end, service_profile, tracking_id) VALUES ('return', 'GB', \(literal(row.start)), \(literal(row.end)), 'c\(index)', \(literal(row.tracking)));\n"
        }
        sql += "COMMIT;\nSELECT substr(service_profile, 2) FROM requests;"
        let script = try directory.write("fuzz.sql", sql)
        // No -bail: a trigger's RAISE(ABORT) (which OR IGNORE does not cover) refuses that one row.
        let result = try run("/usr/bin/sqlite3", [path, ".read \(script)"])
        guard result.stderr.split(separator: "\n").allSatisfy({ $0.contains("constraint failed") || $0.contains("must") }) else {
            throw TestFailure("sqlite3: \(result.stderr)")
        }
        return Set(result.stdout.split(separator: "\n").compactMap { Int($0) })
    }

    /// Text with an embedded NUL byte: SQLite's length(), substr() and GLOB stop at the first
    /// NUL, so the CHECKs alone would admit '+442081324758\0x' (and the daemon, reading a C
    /// string, would send the prefix); migration 0003 refuses such text. Every mismatch counts.
    static func expectNoNULMismatch(_ mismatches: [String]) {
        #expect(mismatches.isEmpty, "text with an embedded NUL passes the insert-time checks: \(mismatches.prefix(3))")
    }

    @Test func theSchemaAdmitsExactlyTheRangesTheDaemonAccepts() throws {
        var rng = SplitMix(state: 0x5C4E)
        var rows: [(start: String?, end: String?, tracking: String?)] = []
        for _ in 0..<3000 {
            let start = Self.number(&rng)
            let end: String? = switch Int.random(in: 0..<4, using: &rng) {
            case 0: nil
            case 1: start
            case 2: String(start.dropLast()) + String(Int.random(in: 0...9, using: &rng))
            default: Self.number(&rng)
            }
            rows.append((start, end, nil))
        }
        // Embedded NUL bytes, which SQLite's length() and GLOB stop at (see nulBytesSlipPastTheChecks).
        rows += [("+442081324758\u{0}", nil, nil), ("+442081324758", "+442081324759\u{0}x", nil)]
        let admitted = try Self.admitted(rows)
        var accepted = 0
        var nulMismatches: [String] = []
        for (index, row) in rows.enumerated() {
            let valid = (try? NumberRange(start: row.start, end: row.end)) != nil
            if valid { accepted += 1 }
            let text = "range \(row.start.debugDescription)..\(row.end.debugDescription): schema \(admitted.contains(index)), daemon \(valid)"
            if admitted.contains(index) != valid, "\(row.start ?? "")\(row.end ?? "")".contains("\u{0}") {
                nulMismatches.append(text)
                continue
            }
            #expect(admitted.contains(index) == valid, "\(text)")
        }
        Self.expectNoNULMismatch(nulMismatches)
        #expect(accepted > 300 && accepted < 2700, "both kinds were tried: \(accepted) valid")
    }

    @Test func theSchemaAdmitsExactlyTheTrackingIDsTheDaemonAccepts() throws {
        var rng = SplitMix(state: 0x7AC1D)
        let alphabet = Array("abcXYZ019_.~:@-") + Array(" /é\n%'*?[\u{0}+")
        var seen = Set<String>()
        var rows: [(start: String?, end: String?, tracking: String?)] = []
        var number = 442_071_000_000
        while rows.count < 2000 {
            let length = Int.random(in: 0...8, using: &rng) == 0 ? Int.random(in: 250...260, using: &rng) : Int.random(in: 0...20, using: &rng)
            let text = String((0..<length).map { _ in
                Int.random(in: 0..<10, using: &rng) == 0 ? alphabet.randomElement(using: &rng)! : alphabet[Int.random(in: 0..<15, using: &rng)]
            })
            guard seen.insert(text).inserted else { continue }
            number += 1
            rows.append(("+\(number)", nil, text))
        }
        let admitted = try Self.admitted(rows)
        var accepted = 0
        var nulMismatches: [String] = []
        for (index, row) in rows.enumerated() {
            let valid = TrackingID(row.tracking!) != nil
            if valid { accepted += 1 }
            let text = "tracking id \(row.tracking!.debugDescription): schema \(admitted.contains(index)), daemon \(valid)"
            if admitted.contains(index) != valid, row.tracking!.contains("\u{0}") {
                nulMismatches.append(text)
                continue
            }
            #expect(admitted.contains(index) == valid, "\(text)")
        }
        Self.expectNoNULMismatch(nulMismatches)
        #expect(accepted > 200 && accepted < 1800, "both kinds were tried: \(accepted) valid")
    }
}
