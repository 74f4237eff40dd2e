@testable import ColtClient
import Testing
import TestSupport

@Suite("classify never crashes")
struct FuzzTests {

    static let fragments: [String] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "order", "\"order\"", "\"id\"", "null", "true",
        "1e999", "-0", "\"code\"", "\"005\"", "\u{0}", "é", "\u{FFFF}", " ", "\n", "{\"order\":{\"id\":", "1234567890",
        "<html>", "GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94", "\"message\"", "\"error\"",
    ]

    func randomBytes(_ rng: inout SplitMix) -> [UInt8] {
        var bytes: [UInt8] = []
        let pieces = Int.random(in: 0...40, using: &rng)
        for _ in 0..<pieces {
            if Bool.random(using: &rng) {
                bytes += Array(Self.fragments.randomElement(using: &rng)!.utf8)
            } else {
                for _ in 0..<Int.random(in: 1...8, using: &rng) { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
            }
        }
        return bytes
    }

    @Test func randomExchangesClassifyWithoutCrashing() {
        var rng = SplitMix(state: 0xC017)
        let deadline = ContinuousClock.now + .seconds(2)
        var count = 0
        var outcomes = Set<String>()
        while ContinuousClock.now < deadline {
            count += 1
            let status: Int? = Bool.random(using: &rng) ? Int.random(in: 100...599, using: &rng) : [nil, -1, 0, Int.max, Int.min].randomElement(using: &rng)!
            var headers: [(name: String, value: String)] = []
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let name = ["retry-after", "Retry-After", "location", "content-type", "x"].randomElement(using: &rng)!
                headers.append((name, String(decoding: randomBytes(&rng), as: UTF8.self)))
            }
            let error: TransportError? =
                Int.random(in: 0..<4, using: &rng) == 0
                ? TransportError(
                    kind: [.notSent, .timeout, .connectionLost, .tls, .tooLarge, .cancelled].randomElement(using: &rng)!,
                    curlCode: Int32.random(in: 0...100, using: &rng), message: "m",
                    requestMayHaveBeenSent: Bool.random(using: &rng)) : nil
            let body = Int.random(in: 0..<200, using: &rng) == 0 ? [UInt8](repeating: 0x7B, count: 100_000) : randomBytes(&rng)
            let exchange = HTTPExchange(
                status: status, headers: headers, body: body, bodyTruncated: Bool.random(using: &rng), transportError: error)
            let result = AttemptResult.classify(exchange)
            outcomes.insert(result.outcome.name)
            #expect(!result.detail.isEmpty)
            #expect(result.detail.count <= 700)
            #expect(result.responseBody.utf8.count <= AttemptResult.journalBodyLimit * 3 + 64)
            if case let .accepted(id) = result.outcome { #expect(!id.isEmpty) }
            _ = JSONValue.parse(body)
            _ = InventoryAnswerReader.page(JSONValue.parse(body) ?? .null)
            _ = try? ColtAPI.token(from: exchange, obtainedAt: .now)
        }
        #expect(count > 1000)
        #expect(outcomes.count >= 7)
    }
}
