@testable import ColtClient
import ColtModel
import Foundation
import Testing

@Suite("ColtAPI requests and answers")
struct ColtAPITests {
    @Test(arguments: [("return", "ANH"), ("reactivate", nil)] as [(String, String?)])
    func orderRequestIsExactlyAsSpecified(action: String, profile: String?) async throws {
        let server = try LoopbackServer { _ in .json(201, #"{"order":{"id":"ORD-77"}}"#) }
        defer { server.stop() }
        let (api, transport) = try makeAPI(server.baseURL)
        defer { transport.shutdown() }
        let request = try order(action, serviceProfile: profile)
        let tracking = try TrackingID(validating: "co-test-1")
        let result = await api.submit(request, trackingID: tracking, token: testToken)
        #expect(result.outcome == .accepted(orderID: "ORD-77"))

        let sent = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        let requestLine = String(decoding: sent.raw.prefix { $0 != 13 }, as: UTF8.self)
        #expect(requestLine == "POST /numberManagement/v1/\(action)/order HTTP/1.1")
        #expect(sent.header("x-tracking-id") == "co-test-1")
        #expect(sent.header("authorization") == "Bearer tok-SECRET-4711-abcdef")
        #expect(sent.header("content-type") == "application/json")
        #expect(sent.header("accept") == "application/json")
        #expect(sent.header("user-agent") == "colt-orders/0.1")
        #expect(sent.header("host") == "127.0.0.1:\(server.port)")
        #expect(sent.header("content-length") == String(sent.body.count))
        #expect(sent.header("expect") == nil)
        let names = Set(sent.headers.map { $0.name.lowercased() })
        #expect(
            names == [
                "host", "user-agent", "accept-encoding", "x-tracking-id", "authorization", "content-type", "accept",
                "content-length",
            ])
        #expect(sent.body == Array(request.jsonBody()))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(sent.body)) as? [String: Any])
        let reseller = (json["relatedParty"] as? [String: Any])?["reseller"] as? [String: Any]
        #expect(reseller?["country"] as? String == "GB")
        if let profile {
            #expect(reseller?["serviceProfile"] as? String == profile)
        } else {
            #expect(reseller?.keys.contains("serviceProfile") == false)
            #expect(!sent.bodyText.contains("null"))
        }
        let ranges = json["numberRangeList"] as? [[String: String]]
        #expect(ranges == [["numberRangeStart": "+442081324758", "numberRangeEnd": "+442081324758"]])
        #expect((json["productOffering"] as? [String: String]) == ["name": "Wholesale SIP"])
    }

    @Test func tokenRequestUsesBasicAuthAndAForm() async throws {
        let server = try LoopbackServer { _ in
            .json(200, #"{"access_token":"eyJ.abc.def","token_type":"Bearer","expires_in":1800}"#)
        }
        defer { server.stop() }
        let (api, transport) = try makeAPI(server.baseURL)
        defer { transport.shutdown() }
        let before = ContinuousClock.now
        let token = try await api.fetchToken()
        _ = try await api.fetchToken()
        #expect(token.secret.value == "eyJ.abc.def")
        #expect(token.expiresAt - token.obtainedAt == .seconds(1800))
        #expect(token.obtainedAt >= before)

        let sent = try #require(server.requests.first)
        let requestLine = String(decoding: sent.raw.prefix { $0 != 13 }, as: UTF8.self)
        #expect(requestLine == "POST /authentication/v1/oauth/token HTTP/1.1")
        let basic = Data("client-id-1:client-s3cret-value".utf8).base64EncodedString()
        #expect(sent.header("authorization") == "Basic \(basic)")
        #expect(sent.header("content-type") == "application/x-www-form-urlencoded")
        #expect(sent.header("accept") == "application/json")
        #expect(sent.bodyText == "grant_type=client_credentials")
        let ids = server.requests.compactMap { $0.header("x-tracking-id") }
        #expect(ids.count == 2)
        #expect(Set(ids).count == 2)
        #expect(ids.allSatisfy { TrackingID($0) != nil })
    }

    @Test(arguments: [
        (#"{"access_token":"t","expires_in":5}"#, 30),
        (#"{"access_token":"t","expires_in":99999999}"#, 86_400),
        (#"{"access_token":"t","expires_in":"600"}"#, 600),
        (#"{"access_token":"t","expires_in":"soon"}"#, 1800),
        (#"{"access_token":"t"}"#, 1800),
    ])
    func tokenLifetimeIsParsedDefensively(body: String, seconds: Int) throws {
        let now = ContinuousClock.now
        let token = try ColtAPI.token(from: HTTPExchange(status: 200, body: Array(body.utf8)), obtainedAt: now)
        #expect(token.expiresAt - now == .seconds(seconds))
    }

    @Test(arguments: [
        (401, #"{"code":"001","reason":"Unauthorized","message":"bad client"}"#, TokenError.Kind.credentialsRejected),
        (400, #"{"code":"001","reason":"Missing authorization"}"#, .credentialsRejected),
        (400, #"{"code":"006","reason":"Unsupported grant type"}"#, .credentialsRejected),
        (500, #"{"code":"001","reason":"Internal"}"#, .unavailable),
        (503, "<html>down</html>", .unavailable),
        (429, "", .unavailable),
        (200, #"{"token_type":"Bearer"}"#, .unavailable),
        (200, "not json", .unavailable),
        (200, #"{"access_token":""}"#, .unavailable),
    ])
    func tokenErrorsAreClassified(status: Int, body: String, kind: TokenError.Kind) async throws {
        let server = try LoopbackServer { _ in .json(status, body, headers: [("Retry-After", "7")]) }
        defer { server.stop() }
        let (api, transport) = try makeAPI(server.baseURL)
        defer { transport.shutdown() }
        let error = await #expect(throws: TokenError.self) { try await api.fetchToken() }
        #expect(error?.kind == kind)
        if status == 429 || status >= 500 { #expect(error?.retryAfter == .seconds(7)) }
        #expect(error?.detail.contains("client-s3cret-value") == false)
    }

    @Test func tokenEndpointUnreachableIsUnavailable() async throws {
        let (api, transport) = try makeAPI("http://127.0.0.1:\(unusedPort())")
        defer { transport.shutdown() }
        let error = await #expect(throws: TokenError.self) { try await api.fetchToken() }
        #expect(error?.kind == .unavailable)
        #expect(error?.detail.contains("connection refused") == true)
    }

    @Test func secretsEchoedByTheServerAreRedacted() async throws {
        // A broken gateway that echoes the request headers back.
        let server = try LoopbackServer { request in
            let echo = request.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
            let status = request.path.hasSuffix("/token") ? 401 : (request.header("x-tracking-id") == "co-500" ? 500 : 400)
            let auth = request.header("authorization") ?? ""
            return .json(status, #"{"code":"005","reason":"echo","message":"\#(auth)","details":"client-s3cret-value"}"# + "\n" + echo)
        }
        defer { server.stop() }
        let (api, transport) = try makeAPI(server.baseURL)
        defer { transport.shutdown() }
        for id in ["co-400", "co-500"] {
            let result = await api.submit(try order(), trackingID: TrackingID(id)!, token: testToken)
            let texts = [result.detail, result.responseBody, result.coltError?.message ?? "", result.coltError?.details ?? ""]
            for text in texts {
                #expect(!text.contains("tok-SECRET-4711-abcdef"))
                #expect(!text.contains("client-s3cret-value"))
            }
            #expect(result.responseBody.contains("<redacted>"))
        }
        let error = await #expect(throws: TokenError.self) { try await api.fetchToken() }
        let basic = Data("client-id-1:client-s3cret-value".utf8).base64EncodedString()
        #expect(error?.detail.contains(basic) == false)
        #expect(error?.detail.contains("client-s3cret-value") == false)
        #expect(error?.kind == .credentialsRejected)
    }

    @Test func transportErrorsNeverCarryTheAuthorizationHeader() async throws {
        let server = try LoopbackServer { request in
            switch request.header("x-tracking-id") {
            case "co-hang": .hang
            case "co-close": .close
            case "co-partial": .partial(status: 200, declaredLength: 50, sent: Array("{".utf8))
            default: .huge(status: 200, bytes: 3 << 20)
            }
        }
        defer { server.stop() }
        let (api, transport) = try makeAPI(server.baseURL, timeout: .milliseconds(400))
        defer { transport.shutdown() }
        var outcomes: [AttemptOutcome] = []
        for id in ["co-hang", "co-close", "co-partial", "co-huge"] {
            let result = await api.submit(try order(), trackingID: TrackingID(id)!, token: testToken)
            outcomes.append(result.outcome)
            #expect(!result.detail.contains("tok-SECRET"))
            #expect(!result.detail.isEmpty)
        }
        #expect(outcomes == [.timeout, .connectionLost, .connectionLost, .badResponse])
        let refused = try makeAPI("http://127.0.0.1:\(unusedPort())")
        defer { refused.1.shutdown() }
        let result = await refused.0.submit(try order(), trackingID: TrackingID("co-x")!, token: testToken)
        #expect(result.outcome == .notSent)
        #expect(!result.detail.contains("tok-SECRET"))
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("hunter2-password")
        var dumped = ""
        dump(secret, to: &dumped)
        var dumpedToken = ""
        dump(testToken, to: &dumpedToken)
        let texts = [
            "\(secret)", String(describing: secret), String(reflecting: secret), dumped,
            "\(testToken)", String(reflecting: testToken), dumpedToken,
            "\(configuration("http://x"))", String(reflecting: configuration("http://x")),
        ]
        for text in texts {
            #expect(!text.contains("hunter2"))
            #expect(!text.contains("tok-SECRET"))
            #expect(!text.contains("client-s3cret-value"))
        }
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(secret.value == "hunter2-password")
    }

    @Test func redactionReplacesEveryOccurrenceByteForByte() {
        let secrets = ["s3cret", "tok-é9"]
        #expect(ColtAPI.redact("s3cret", secrets) == "<redacted>")
        #expect(ColtAPI.redact("as3crets3cret!", secrets) == "a<redacted><redacted>!")
        #expect(ColtAPI.redact("x tok-é9 y s3cre", secrets) == "x <redacted> y s3cre")
        #expect(ColtAPI.redact("ss3cret", secrets) == "s<redacted>", "a match after a false start")
        #expect(ColtAPI.redact("nothing here", secrets) == "nothing here")
        #expect(ColtAPI.redact("abc", ["abc"]) == "abc", "secrets under 4 bytes are not searched")
        #expect(ColtAPI.redact("", secrets) == "")
    }
}
