import ColtModel
import Foundation
import Testing
import TestSupport

/// E164Number, NumberRange and TrackingID against an independent reference: the spec's
/// patterns through NSRegularExpression, plus its length rules. Fixed seed, bounded time.
@Suite struct ValidationFuzzTests {

    /// The spec's words, nothing of the implementation: the pattern must match the whole text.
    struct Reference {
        let e164 = try! NSRegularExpression(pattern: "^[+]{1}[1-9]{1}[0-9]*$")
        let tracking = try! NSRegularExpression(pattern: "^[a-zA-Z0-9_.~:@-]{1,255}$")

        func matchesWhole(_ regex: NSRegularExpression, _ text: String) -> Bool {
            let whole = NSRange(text.startIndex..., in: text)
            // `$` also matches before a final newline: insist the match covers everything.
            return regex.firstMatch(in: text, range: whole)?.range == whole
        }

        func isE164(_ text: String) -> Bool { matchesWhole(e164, text) && (6...16).contains(text.count) }
        func isTrackingID(_ text: String) -> Bool { matchesWhole(tracking, text) }

        /// nil when valid, else the column at fault.
        func rangeProblem(start: String?, end: String?) -> String? {
            guard let start, isE164(start) else { return "range_start" }
            guard let end else { return nil }
            guard isE164(end), end.count == start.count, end >= start else { return "range_end" }
            return nil
        }
    }

    static let numberPieces = ["+", "+", "+", "0", "1", "4", "9", "44", "2081", "00000", "99999", " ", "\n", "-", "a", "４", "٣", "é", "\u{0}", "++", "+0", "１", "\u{200B}"]
    static let trackingPieces = ["a", "Z", "0", "_", ".", "~", ":", "@", "-", "co-", "abc", " ", "/", "\n", "é", "%", "\u{0}", "+", "!", "\\", "ü"]

    func number(_ rng: inout SplitMix) -> String {
        switch Int.random(in: 0..<3, using: &rng) {
        case 0:  // plausible: '+', a digit, digits; lengths around the limits
            let length = Int.random(in: 1...18, using: &rng)
            var text = "+" + String(Int.random(in: 0...9, using: &rng))
            while text.count < length { text += String(Int.random(in: 0...9, using: &rng)) }
            return String(text.prefix(length))
        case 1:  // plausible with one corruption
            var characters = Array("+44" + String(UInt64.random(in: 0...UInt64.max, using: &rng)).prefix(Int.random(in: 1...14, using: &rng)))
            let index = Int.random(in: 0..<characters.count, using: &rng)
            characters[index] = Self.numberPieces.randomElement(using: &rng)!.first ?? Character("x")
            return String(characters)
        default:
            return (0..<Int.random(in: 0...8, using: &rng)).map { _ in Self.numberPieces.randomElement(using: &rng)! }.joined()
        }
    }

    func trackingID(_ rng: inout SplitMix) -> String {
        let pieces = Int.random(in: 0...3, using: &rng) == 0 ? Int.random(in: 70...100, using: &rng) : Int.random(in: 0...12, using: &rng)
        var text = ""
        for _ in 0..<pieces {
            // Mostly allowed characters, so long valid ids (near 255) are common.
            text += Int.random(in: 0..<12, using: &rng) == 0 ? Self.trackingPieces.randomElement(using: &rng)!
                : String(Self.trackingPieces.prefix(10).randomElement(using: &rng)!)
        }
        if Int.random(in: 0..<8, using: &rng) == 0 { text = String(repeating: "a", count: Int.random(in: 250...260, using: &rng)) }
        return text
    }

    @Test func e164AndRangesAgreeWithTheSpecsPattern() {
        var rng = SplitMix(state: 0xE164)
        let reference = Reference()
        let deadline = ContinuousClock.now + .seconds(1.5)
        var count = 0, valid = 0, validRanges = 0
        while ContinuousClock.now < deadline {
            count += 1
            let text = number(&rng)
            let expected = reference.isE164(text)
            if expected { valid += 1 }
            #expect((E164Number(text) != nil) == expected, "E164Number(\(text.debugDescription)): the spec says \(expected)")

            let start = Bool.random(using: &rng) ? text : nil as String?
            let end: String? = switch Int.random(in: 0..<4, using: &rng) {
            case 0: nil
            case 1: start  // a single number
            case 2: start.map { String($0.dropLast()) + String(Int.random(in: 0...9, using: &rng)) }  // a neighbour
            default: number(&rng)
            }
            let problem = reference.rangeProblem(start: start, end: end)
            do {
                let range = try NumberRange(start: start, end: end)
                validRanges += 1
                #expect(problem == nil, "NumberRange(\(start.debugDescription), \(end.debugDescription)) accepted; the spec says \(problem ?? "")")
                #expect(range.start.text == start && range.end.text == (end ?? start))
            } catch {
                #expect(error.column == problem, "NumberRange(\(start.debugDescription), \(end.debugDescription)) blamed \(error.column), the spec \(problem ?? "nothing")")
            }
        }
        #expect(count > 10_000, "\(count) cases")
        #expect(valid > count / 10 && valid < count * 9 / 10, "both valid and invalid numbers were tried: \(valid) of \(count)")
        #expect(validRanges > count / 20, "\(validRanges) valid ranges")
    }

    @Test func trackingIDsAgreeWithTheSpecsPattern() {
        var rng = SplitMix(state: 0x7AC)
        let reference = Reference()
        let deadline = ContinuousClock.now + .seconds(1.5)
        var count = 0, valid = 0
        while ContinuousClock.now < deadline {
            count += 1
            let text = trackingID(&rng)
            let expected = reference.isTrackingID(text)
            if expected { valid += 1 }
            #expect((TrackingID(text) != nil) == expected, "TrackingID(\(text.debugDescription)): the spec says \(expected)")
            do {
                _ = try TrackingID(validating: text)
                #expect(expected)
            } catch {
                #expect(!expected)
                #expect(error.column == "tracking_id")
            }
        }
        #expect(count > 5_000, "\(count) cases")
        #expect(valid > count / 10 && valid < count * 9 / 10, "both valid and invalid ids were tried: \(valid) of \(count)")
    }
}
