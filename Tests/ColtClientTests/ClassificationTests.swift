@testable import ColtClient
import Foundation
import Testing

@Suite("AttemptResult.classify")
struct ClassificationTests {
    /// 2024-01-02 03:04:05 UTC.
    let now: Double = 1_704_164_645

    func classify(
        _ status: Int?, _ body: String = "", headers: [(name: String, value: String)] = [], error: TransportError? = nil
    ) -> AttemptResult {
        AttemptResult.classify(
            HTTPExchange(status: status, headers: headers, body: Array(body.utf8), transportError: error), now: now)
    }

    @Test func acceptedNeedsAnOrderID() {
        #expect(classify(201, #"{"order":{"id":"ORD-1"}}"#).outcome == .accepted(orderID: "ORD-1"))
        // An order id is a bounded string of safe characters; a number, however written, is not one.
        for hostile in ["12345", String(repeating: "9", count: 100_000), "-1.5e999", #""ORD\u001b[2J""#, #""\#(String(repeating: "x", count: 129))""#, #""ORD 1""#] {
            let result = classify(200, #"{"order":{"id":\#(hostile)}}"#)
            #expect(result.outcome == .badResponse, "\(hostile.prefix(40))")
            #expect(result.detail.contains("order id that is not"), "\(result.detail)")
        }
        #expect(classify(200, #"{"order":{"id":" ORD-9 "}}"#).outcome == .accepted(orderID: "ORD-9"))
        #expect(classify(202, #"{"order":{"id":"ORD-2","status":"In progress"},"x":[1,2]}"#).outcome == .accepted(orderID: "ORD-2"))
        let missing = classify(200, #"{"order":{}}"#)
        #expect(missing.outcome == .badResponse)
        #expect(missing.detail == "HTTP 200 without an order id")
        #expect(classify(200, #"{"order":{"id":""}}"#).outcome == .badResponse)
        #expect(classify(200, #"{"order":{"id":null}}"#).outcome == .badResponse)
        #expect(classify(200, #"{"id":"ORD-1"}"#).outcome == .badResponse)
        #expect(classify(200, "").outcome == .badResponse)
        let invalid = classify(200, #"{"order":{"id":"ORD-1""#)
        #expect(invalid.outcome == .badResponse)
        #expect(invalid.detail.contains("not JSON"))
    }

    @Test func coltRejectionKeepsColtsWords() {
        let body = #"{"code":"005","reason":"Invalid parameter","message":"numberRangeStart is not valid","details":{"field":"numberRangeStart"}}"#
        let result = classify(400, body)
        #expect(result.outcome == .rejected)
        #expect(result.httpStatus == 400)
        #expect(result.coltError == ColtErrorBody(code: "005", reason: "Invalid parameter", message: "numberRangeStart is not valid", details: #"{"field":"numberRangeStart"}"#))
        #expect(result.detail == #"HTTP 400 from Colt: 005 Invalid parameter: numberRangeStart is not valid; {"field":"numberRangeStart"}"#)
        #expect(result.responseBody == body)
        #expect(classify(404, "").outcome == .rejected)
        #expect(classify(409, #"{"code":7}"#).coltError?.code == "7")
        #expect(classify(422, #"{"error":{"code":"010","message":"wrong state"}}"#).coltError?.message == "wrong state")
    }

    @Test func statusClasses() {
        #expect(classify(401, #"{"code":"001"}"#).outcome == .unauthorized)
        #expect(classify(429).outcome == .throttled)
        #expect(classify(408).outcome == .throttled)
        #expect(classify(500).outcome == .serverError)
        let html = classify(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
        #expect(html.outcome == .serverError)
        #expect(html.coltError == nil)
        #expect(html.detail == "HTTP 502 from Colt: <html><body><h1>502 Bad Gateway</h1></body></html>")
        #expect(classify(503, "{}").outcome == .serverError)
        #expect(classify(302).outcome == .badResponse)
        #expect(classify(101).outcome == .badResponse)
        #expect(classify(nil).outcome == .badResponse)
        #expect(classify(999).outcome == .badResponse)
    }

    @Test func transportErrorsDecide() {
        func error(_ kind: TransportError.Kind, sent: Bool = true) -> TransportError {
            TransportError(kind: kind, curlCode: 1, message: "m", requestMayHaveBeenSent: sent)
        }
        #expect(classify(nil, error: error(.notSent)).outcome == .notSent)
        #expect(classify(nil, error: error(.tls)).outcome == .notSent)
        #expect(classify(nil, error: error(.timeout)).outcome == .timeout)
        #expect(classify(nil, error: error(.connectionLost)).outcome == .connectionLost)
        #expect(classify(nil, error: error(.tooLarge)).outcome == .badResponse)
        #expect(classify(nil, error: error(.cancelled, sent: false)).outcome == .notSent)
        #expect(classify(nil, error: error(.cancelled, sent: true)).outcome == .connectionLost)
        // A success status with a broken body is not a success.
        #expect(classify(201, #"{"order":{"id":"ORD-1"}}"#, error: error(.connectionLost)).outcome == .connectionLost)
        #expect(classify(200, #"{"order":{"id":"ORD-1"}}"#, error: error(.tooLarge)).outcome == .badResponse)
        #expect(classify(503, "x", error: error(.tooLarge)).outcome == .serverError)
        #expect(classify(429, "x", error: error(.connectionLost)).outcome == .throttled)
        #expect(classify(400, "x", error: error(.tooLarge)).outcome == .badResponse)
        #expect(classify(nil, error: error(.timeout)).detail == "m")
    }

    @Test func outcomeNames() {
        let all: [(AttemptOutcome, String, Bool)] = [
            (.accepted(orderID: "x"), "accepted", false), (.rejected, "rejected", false),
            (.unauthorized, "unauthorized", false), (.throttled, "throttled", false),
            (.serverError, "server_error", true), (.notSent, "not_sent", false), (.timeout, "timeout", true),
            (.connectionLost, "connection_lost", true), (.badResponse, "bad_response", true),
        ]
        for (outcome, name, unknown) in all {
            #expect(outcome.name == name)
            #expect(outcome.mayHaveCreatedOrder == unknown)
        }
    }

    @Test func retryAfterInSeconds() {
        #expect(classify(429, headers: [("retry-after", "5")]).retryAfter == .seconds(5))
        #expect(classify(503, headers: [("retry-after", " 120 ")]).retryAfter == .seconds(120))
        #expect(classify(429, headers: [("retry-after", "0")]).retryAfter == .zero)
        #expect(classify(429, headers: [("retry-after", "-5")]).retryAfter == nil)
        #expect(classify(429, headers: [("retry-after", "5.5")]).retryAfter == nil)
        #expect(classify(429, headers: [("retry-after", "soon")]).retryAfter == nil)
        #expect(classify(429, headers: [("retry-after", "")]).retryAfter == nil)
        #expect(classify(429).retryAfter == nil)
        #expect(classify(429, headers: [("retry-after", "99999999999999999999999")]).retryAfter == .seconds(RetryAfter.maximumSeconds))
        #expect(classify(429, headers: [("retry-after", "5")]).detail.contains("retry after 5 s"))
    }

    @Test func retryAfterAsHTTPDate() {
        // now = Tue, 02 Jan 2024 03:04:05 GMT
        #expect(classify(429, headers: [("retry-after", "Tue, 02 Jan 2024 03:04:35 GMT")]).retryAfter == .seconds(30))
        #expect(classify(429, headers: [("retry-after", "Tuesday, 02-Jan-24 03:05:05 GMT")]).retryAfter == .seconds(60))
        #expect(classify(429, headers: [("retry-after", "Tue Jan  2 04:04:05 2024")]).retryAfter == .seconds(3600))
        #expect(classify(429, headers: [("retry-after", "Wed, 03 Jan 2024 03:04:05 GMT")]).retryAfter == .seconds(86_400))
        #expect(classify(429, headers: [("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]).retryAfter == .zero)
        #expect(classify(429, headers: [("retry-after", "Tue, 32 Jan 2024 03:04:35 GMT")]).retryAfter == nil)
        #expect(classify(429, headers: [("retry-after", "Tue, 02 Jan 2024 25:04:35 GMT")]).retryAfter == nil)
        #expect(classify(429, headers: [("retry-after", "Tue, 02 Jan 2024 03:04:35 PST")]).retryAfter == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT", now: now) == 784_111_777)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994", now: now) == 784_111_777)
        #expect(HTTPDate.parse("Thu, 29 Feb 2024 00:00:00 GMT", now: now) == 1_709_164_800)
        #expect(HTTPDate.parse("Thu, 29 Feb 2023 00:00:00 GMT", now: now) == nil)
    }

    @Test func journalBodyIsCapped() {
        let small = classify(500, "short")
        #expect(small.responseBody == "short")
        let big = String(repeating: "x", count: 10_000)
        let cut = classify(500, big)
        #expect(cut.responseBody == String(repeating: "x", count: 4096) + "…[truncated, 10000 bytes]")
        // A multi-byte character across the limit is not split; invalid UTF-8 is replaced.
        let euro = String(repeating: "a", count: 4095) + "€" + "b"
        #expect(AttemptResult.journalText(Array(euro.utf8), truncated: false) == String(repeating: "a", count: 4095) + "…[truncated, 4099 bytes]")
        #expect(AttemptResult.journalText([0x61, 0xFF, 0x62], truncated: false) == "a\u{FFFD}b")
        #expect(AttemptResult.journalText(Array("abc".utf8), truncated: true) == "abc…[truncated, more than 3 bytes]")
        let detail = classify(400, String(repeating: "y", count: 5000)).detail
        #expect(detail.count < 700)
    }

    @Test func jsonParserBasics() {
        #expect(JSONValue.parse(Array(#" {"a":[1,-2.5e3,true,false,null,"\u00e9\ud83d\ude00\n"]} "#.utf8))
            == .object([("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null, .string("é😀\n")]))]))
        #expect(JSONValue.parse(Array("[1,]".utf8)) == nil)
        #expect(JSONValue.parse(Array("01".utf8)) == nil)
        #expect(JSONValue.parse(Array("0".utf8)) == .number("0"))
        #expect(JSONValue.parse(Array("-0.5".utf8)) == .number("-0.5"))
        #expect(JSONValue.parse(Array("{} x".utf8)) == nil)
        #expect(JSONValue.parse(Array(repeating: UInt8(ascii: "["), count: 100_000)) == nil)
        let nested = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(JSONValue.parse(Array(nested.utf8)) != nil)
    }
}
