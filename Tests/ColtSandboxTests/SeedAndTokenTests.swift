import ColtSandbox
import Foundation
import Testing

@Suite("Seed documents and the token endpoint")
struct SeedAndTokenTests {
    @Test("the seed documents' example requests are accepted on both endpoints")
    func seedRequestsAccepted() async throws {
        try await withSandbox({ $0.completionDelay = .zero }) { sandbox in
            let token = try await accessToken(sandbox)
            // Demo inventory: both numbers Activated in GB, profile ANH (the only GB profile).
            for (index, body) in SeedRequests.returnRequests.enumerated() {
                let result = try await postOrder(sandbox, path: returnPath, body: body, token: token)
                #expect((200..<300).contains(result.status), "return seed \(index): \(result.status) \(result.text)")
                #expect(isOrderID(result.orderID), "return seed \(index): \(result.text)")
            }
            #expect(await sandbox.status(of: "+442081324758") == .quarantined)
            #expect(await sandbox.status(of: "+442081324759") == .quarantined)
            // The returns completed at once (completionDelay zero): now reactivate them.
            for (index, body) in SeedRequests.reactivateRequests.enumerated() {
                let result = try await postOrder(sandbox, path: reactivatePath, body: body, token: token)
                #expect((200..<300).contains(result.status), "reactivate seed \(index): \(result.status) \(result.text)")
                #expect(isOrderID(result.orderID), "reactivate seed \(index): \(result.text)")
            }
            #expect(await sandbox.status(of: "+442081324758") == .activated)
            #expect(await sandbox.status(of: "+442081324759") == .activated)
            let orders = await sandbox.orders()
            #expect(orders.map(\.action) == ["return", "return", "reactivate", "reactivate"])
            #expect(orders[0].serviceProfile == "ANH")
            #expect(orders[1].serviceProfile == nil)
            #expect(Set(orders.map(\.id)).count == 4)
        }
    }

    /// `../shared/colt-api/seeds` beside the checkout, where the project keeps the source documents.
    static let seedDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/colt-api/seeds").path

    @Test("the embedded seed copies match the seed documents (no-break spaces aside)",
          .enabled(if: FileManager.default.fileExists(atPath: SeedAndTokenTests.seedDirectory), "the seed documents live in ../shared/colt-api/seeds beside the checkout"))
    func seedCopiesMatchDocuments() throws {
        let directory = Self.seedDirectory
        for (file, copies) in [("return-order.txt", SeedRequests.returnRequests),
                               ("reactivate-order.txt", SeedRequests.reactivateRequests)] {
            let text = try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)
            for copy in copies {
                #expect(text.replacingOccurrences(of: "\u{00A0}", with: " ").contains(copy), "\(file)")
            }
        }
    }

    @Test("a body indented with U+00A0 (as pasted from the seed documents) is not JSON: 400/007")
    func seedNBSPIsNotJSON() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            let pasted = SeedRequests.returnRequests[0].replacingOccurrences(of: "    ", with: "\u{00A0}\u{00A0}\u{00A0}\u{00A0}")
            let result = try await postOrder(sandbox, body: pasted, token: token)
            #expect(result.status == 400)
            #expect(result.coltCode == "007")
            #expect(await sandbox.orders().isEmpty)
        }
    }

    @Test("token: success answers access_token, Bearer, expires_in")
    func tokenSuccess() async throws {
        try await withSandbox({ $0.tokenLifetime = .seconds(1800) }) { sandbox in
            let result = try await tokenRequest(sandbox)
            #expect(result.status == 200)
            #expect(result.headers["content-type"] == "application/json")
            let json = try #require(result.json)
            #expect((json["access_token"] as? String)?.split(separator: ".").count == 3)
            #expect(json["token_type"] as? String == "Bearer")
            #expect(json["expires_in"] as? Int == 1800)
            // Two tokens differ.
            let other = try await tokenRequest(sandbox)
            #expect(other.json?["access_token"] as? String != json["access_token"] as? String)
        }
    }

    @Test("token: each bad request is refused with the right status and code")
    func tokenErrors() async throws {
        try await withSandbox { sandbox in
            func check(_ result: CurlResult, _ status: Int, _ code: String, _ label: String) {
                #expect(result.status == status, "\(label): \(result.status) \(result.text)")
                #expect(result.coltCode == code, "\(label): \(result.text)")
                #expect(result.isColtError, "\(label): \(result.text)")
            }
            check(try await tokenRequest(sandbox, trackingID: nil), 400, "004", "no tracking id")
            check(try await tokenRequest(sandbox, trackingID: "has space"), 400, "004", "bad tracking id")
            check(try await tokenRequest(sandbox, credentials: nil), 400, "001", "no credentials")
            check(try await tokenRequest(sandbox, credentials: "sandbox-client:wrong"), 401, "001", "wrong secret")
            check(try await tokenRequest(sandbox, credentials: "someone-else:sandbox-secret"), 401, "001", "wrong id")
            check(try await tokenRequest(sandbox, credentials: nil, authorization: "Bearer abc"), 401, "002", "not Basic")
            check(try await tokenRequest(sandbox, contentType: "application/json"), 415, "003", "json content type")
            check(try await tokenRequest(sandbox, contentType: nil), 415, "003", "no content type")
            check(try await tokenRequest(sandbox, body: "scope=x"), 400, "002", "no grant_type")
            check(try await tokenRequest(sandbox, body: "grant_type=password"), 400, "006", "other grant")
            #expect(await sandbox.stats().tokensIssued == 0)
        }
    }

    @Test("token: custom client credentials are the only ones accepted")
    func customCredentials() async throws {
        try await withSandbox({ $0.clientID = "acme"; $0.clientSecret = "s3cr:et" }) { sandbox in
            let defaults = try await tokenRequest(sandbox)
            #expect(defaults.status == 401)
            let custom = try await tokenRequest(sandbox, credentials: "acme:s3cr:et")
            #expect(custom.status == 200)
        }
    }

    @Test("tokens expire after tokenLifetime, and expireTokens() invalidates them at once")
    func tokenExpiry() async throws {
        // (That a token works before it expires is what every other test relies on.)
        try await withSandbox({ $0.tokenLifetime = .milliseconds(300) }) { sandbox in
            let token = try await accessToken(sandbox)
            try await Task.sleep(for: .milliseconds(500))
            let expired = try await postOrder(sandbox, body: orderBody("+442081324770", country: "GB"), token: token)
            #expect(expired.status == 401)
            #expect(expired.coltCode == "002")
            #expect(await sandbox.orders().isEmpty)
            let lookup = try await get(sandbox, "\(numberPath)?numberRangeStart=%2B442081324770", token: token)
            #expect(lookup.status == 401)
        }
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            let lookup = "\(numberPath)?numberRangeStart=%2B442081324770"
            #expect(try await get(sandbox, lookup, token: token).status == 200)
            await sandbox.expireTokens()
            let after = try await get(sandbox, lookup, token: token)
            #expect(after.status == 401)
            #expect(after.coltCode == "002")
            let fresh = try await accessToken(sandbox)
            #expect(try await get(sandbox, lookup, token: fresh).status == 200)
            // The control endpoint does the same.
            #expect(try await curl(["-X", "POST", sandbox.baseURL + "/_sandbox/expire-tokens"]).status == 200)
            #expect(try await get(sandbox, lookup, token: fresh).status == 401)
        }
    }
}
