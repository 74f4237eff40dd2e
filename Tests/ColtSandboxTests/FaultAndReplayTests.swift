import ColtSandbox
import Foundation
import Testing

@Suite("Tracking-id modes and fault injection")
struct FaultAndReplayTests {
    static let body = orderBody("+442081324758", country: "GB", serviceProfile: "ANH")

    @Test("replay: a repeated tracking id answers the first answer again and creates nothing")
    func replayMode() async throws {
        try await withSandbox({ $0.trackingIDMode = .replay }) { sandbox in
            let token = try await accessToken(sandbox)
            let trackingID = newTrackingID()
            let first = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            let second = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(first.status == 201)
            #expect(second.status == first.status)
            #expect(second.body == first.body)
            #expect(second.headers["x-sandbox-replayed"] == "true")
            #expect(await sandbox.orders().count == 1)
            #expect(await sandbox.orders(forTrackingID: trackingID).map(\.id) == [try #require(first.orderID)])
            #expect(await sandbox.requestCount(path: returnPath) == 2)
            #expect(await sandbox.receivedTrackingIDs(path: returnPath) == [trackingID, trackingID])
            #expect(await sandbox.stats().replayedRequests == 1)
            // A refusal is replayed too (same status and body), even with a now-valid body.
            let refusedID = newTrackingID()
            let refused = try await postOrder(sandbox, body: orderBody("+442081324799", country: "GB"), token: token, trackingID: refusedID)
            let again = try await postOrder(sandbox, body: orderBody("+442081324770", country: "GB"), token: token, trackingID: refusedID)
            #expect(refused.status == 404)
            #expect(again.status == 404)
            #expect(again.body == refused.body)
            #expect(await sandbox.status(of: "+442081324770") == .reserved)
            // The same tracking id on the other endpoint is a different request.
            let other = try await postOrder(sandbox, path: reactivatePath, body: orderBody("+442081324772", country: "GB"), token: token, trackingID: trackingID)
            #expect(other.status == 201)
        }
    }

    @Test("replay: an answer refused before processing (401) is not replayed")
    func replayAfterUnauthorized() async throws {
        try await withSandbox { sandbox in
            let trackingID = newTrackingID()
            let unauthorized = try await postOrder(sandbox, body: Self.body, token: "stale", trackingID: trackingID)
            #expect(unauthorized.status == 401)
            let token = try await accessToken(sandbox)
            let retried = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(retried.status == 201)
            #expect(await sandbox.orders().count == 1)
        }
    }

    @Test("ignore: a repeated tracking id is processed anew and refused by the state machine")
    func ignoreMode() async throws {
        try await withSandbox({ $0.trackingIDMode = .ignore }) { sandbox in
            let token = try await accessToken(sandbox)
            let trackingID = newTrackingID()
            let first = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            let second = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(first.status == 201)
            #expect(second.status == 409)   // the first order is still In progress
            #expect(second.message.contains(try #require(first.orderID)))
            #expect(await sandbox.orders().count == 1)
            #expect(await sandbox.stats().replayedRequests == 0)
        }
        try await withSandbox({ $0.trackingIDMode = .ignore; $0.completionDelay = .zero }) { sandbox in
            let token = try await accessToken(sandbox)
            let trackingID = newTrackingID()
            #expect(try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID).status == 201)
            let second = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(second.status == 400)   // already Quarantined
            #expect(second.coltCode == "012")
        }
    }

    @Test("status fault: answers the status with Retry-After for the first `times` requests, without processing")
    func statusFault() async throws {
        try await withSandbox({ $0.faults = [.status(503, retryAfter: "2", times: 2)] }) { sandbox in
            let token = try await accessToken(sandbox)   // path "order": the token endpoint is untouched
            for _ in 0..<2 {
                let result = try await postOrder(sandbox, body: Self.body, token: token)
                #expect(result.status == 503)
                #expect(result.headers["retry-after"] == "2")
                #expect(result.isColtError)
            }
            #expect(await sandbox.orders().isEmpty)
            #expect(await sandbox.status(of: "+442081324758") == .activated)
            let third = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(third.status == 201)
            #expect(await sandbox.stats().faultsFired["status"] == 2)
        }
        let date = "Wed, 21 Oct 2026 07:28:00 GMT"
        try await withSandbox({ $0.faults = [.status(429, retryAfter: date, path: .any, after: 1)] }) { sandbox in
            let token = try await accessToken(sandbox)   // the first matching request passes (after: 1)
            let limited = try await tokenRequest(sandbox)
            #expect(limited.status == 429)
            #expect(limited.headers["retry-after"] == date)
            let order = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(order.status == 429)
        }
    }

    @Test("latency fault delays the answer")
    func latencyFault() async throws {
        try await withSandbox({ $0.faults = [.latency(milliseconds: 400, path: .token)] }) { sandbox in
            let clock = ContinuousClock()
            let start = clock.now
            let result = try await tokenRequest(sandbox)
            #expect(result.status == 200)
            #expect(clock.now - start >= .milliseconds(400))
        }
    }

    @Test("html, invalidJSON, noOrderID, hugeBody and tokenExpired answer without creating an order")
    func cannedFaults() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            await sandbox.setFaults([.fault(.html, times: 1)])
            let html = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(html.status == 502)
            #expect(html.headers["content-type"] == "text/html")
            #expect(html.text.contains("<html>"))

            await sandbox.setFaults([.fault(.invalidJSON, times: 1)])
            let invalid = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(invalid.status == 200)
            #expect((try? JSONSerialization.jsonObject(with: invalid.body)) == nil)

            await sandbox.setFaults([.fault(.noOrderID, times: 1)])
            let empty = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(empty.status == 200)
            #expect(empty.text == "{}")

            await sandbox.setFaults([.fault(.hugeBody, times: 1)])
            let huge = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(huge.status == 200)
            #expect(huge.body.count >= 10 * 1024 * 1024)

            await sandbox.setFaults([.fault(.tokenExpired, times: 1)])
            let expired = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(expired.status == 401)
            #expect(expired.coltCode == "002")

            #expect(await sandbox.orders().isEmpty)
            #expect(await sandbox.status(of: "+442081324758") == .activated)
            // Every rule was used up; the same token still works.
            let ok = try await postOrder(sandbox, body: Self.body, token: token)
            #expect(ok.status == 201)
        }
    }

    @Test("createThen504 and createThenDrop create the order, then fail the answer")
    func createThenFail() async throws {
        try await withSandbox({ $0.faults = [.fault(.createThen504, times: 1)] }) { sandbox in
            let token = try await accessToken(sandbox)
            let trackingID = newTrackingID()
            let result = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(result.status == 504)
            #expect(result.headers["content-type"] == "text/html")
            #expect(await sandbox.orders(forTrackingID: trackingID).count == 1)
            #expect(await sandbox.status(of: "+442081324758") == .activated, "the number moves when the order completes")
            // Replay mode: retrying with the same tracking id returns the real answer, no second order.
            let retry = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(retry.status == 201)
            #expect(retry.orderID == (await sandbox.orders(forTrackingID: trackingID)).first?.id)
            #expect(await sandbox.orders().count == 1)
        }
        try await withSandbox({ $0.faults = [.fault(.createThenDrop, times: 1)] }) { sandbox in
            let token = try await accessToken(sandbox)
            let trackingID = newTrackingID()
            let result = try await postOrder(sandbox, body: Self.body, token: token, trackingID: trackingID)
            #expect(result.exitCode == 52, "curl exit \(result.exitCode): \(result.stderr)")   // empty reply
            #expect(result.status == 0)
            #expect(await sandbox.orders(forTrackingID: trackingID).count == 1)
            // The order is visible through GET Number, which is how the daemon reconciles.
            let lookup = try await get(sandbox, "\(numberPath)?numberRangeStart=%2B442081324758", token: token)
            let row = try #require((lookup.json?["numbers"] as? [[String: Any]])?.first)
            #expect((row["lastOrder"] as? [String: Any])?["trackingId"] as? String == trackingID)
        }
    }

    @Test("hang holds the connection until the client gives up; shutdown releases a hung request")
    func hangFault() async throws {
        try await withSandbox({ $0.faults = [.fault(.hang)] }) { sandbox in
            let token = try await accessToken(sandbox)
            let result = try await postOrder(sandbox, body: Self.body, token: token, maxTime: 2)
            #expect(result.exitCode == 28, "curl exit \(result.exitCode)")   // timeout
            #expect(await sandbox.requestCount(path: returnPath) == 1)
            #expect(await sandbox.orders().isEmpty)
            // The client gave up: the sandbox notices and lets go of the connection.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(3)
            while await sandbox.stats().heldConnections > 0, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(await sandbox.stats().heldConnections == 0)
        }
        var configuration = SandboxConfiguration()
        configuration.faults = [.fault(.hang)]
        let sandbox = try await ColtSandbox.start(configuration, logger: quietLogger)
        let token = try await accessToken(sandbox)
        let pending = Task { try await postOrder(sandbox, body: Self.body, token: token, maxTime: 20) }
        while await sandbox.stats().heldConnections == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let clock = ContinuousClock()
        let start = clock.now
        await sandbox.shutdown()
        #expect(clock.now - start < .seconds(2))
        let result = try await pending.value
        #expect(result.exitCode != 0 && result.exitCode != 28)
    }

    @Test("rules scope by path; PUT /_sandbox/faults installs rules over HTTP")
    func scopingAndControl() async throws {
        try await withSandbox { sandbox in
            let put = try await curl(["-X", "PUT", sandbox.baseURL + "/_sandbox/faults", "-H", "Content-Type: application/json",
                                      "--data-binary", #"[{"kind":"status","status":503,"path":"token","times":1}]"#])
            #expect(put.status == 200)
            #expect(await sandbox.faults() == [FaultRule(kind: .status, path: .token, status: 503, times: 1)])
            #expect(try await tokenRequest(sandbox).status == 503)
            let token = try await accessToken(sandbox)
            #expect(try await postOrder(sandbox, body: Self.body, token: token).status == 201)
            let bad = try await curl(["-X", "PUT", sandbox.baseURL + "/_sandbox/faults", "--data-binary", #"[{"kind":"nope"}]"#])
            #expect(bad.status == 400)

            // Control endpoints are never faulted and not counted.
            await sandbox.setFaults([.status(500, path: .any)])
            let stats = try await get(sandbox, "/_sandbox/stats")
            #expect(stats.status == 200)
            let json = try #require(stats.json)
            #expect(json["orders"] as? Int == 1)
            #expect(json["duplicateOrders"] as? Int == 0)
            #expect((json["requests"] as? [String: Int])?[tokenPath] == 2)
            #expect((json["requests"] as? [String: Int])?["/_sandbox/stats"] == nil)
            let orders = try await get(sandbox, "/_sandbox/orders?number=%2B442081324758")
            let list = try #require((try? JSONSerialization.jsonObject(with: orders.body)) as? [[String: Any]])
            #expect(list.count == 1)
            #expect(list.first?["status"] as? String == "In progress")
            #expect((list.first?["ranges"] as? [[String]]) == [["+442081324758", "+442081324758"]])
            let byTracking = try await get(sandbox, "/_sandbox/orders?trackingId=unknown")
            #expect(byTracking.text == "[]")
        }
    }

    /// The outcome pattern of `count` sequential token requests.
    func pattern(_ sandbox: ColtSandbox, count: Int) async throws -> [Bool] {
        var fired: [Bool] = []
        for _ in 0..<count { fired.append(try await tokenRequest(sandbox).status == 503) }
        return fired
    }

    @Test("probabilistic faults are reproducible from the seed")
    func reproducibleFaults() async throws {
        let rules = [FaultRule.status(503, path: .token, probability: 0.5)]
        let a = try await withSandbox({ $0.seed = 42; $0.faults = rules }) { try await self.pattern($0, count: 24) }
        let b = try await withSandbox({ $0.seed = 42; $0.faults = rules }) { sandbox in
            let first = try await self.pattern(sandbox, count: 24)
            await sandbox.setFaults(rules)   // resets the generator: the same pattern again
            let second = try await self.pattern(sandbox, count: 24)
            #expect(first == second)
            return first
        }
        let c = try await withSandbox({ $0.seed = 7; $0.faults = rules }) { try await self.pattern($0, count: 24) }
        #expect(a == b)
        #expect(a.contains(true) && a.contains(false))
        #expect(a != c)
        // Roughly half fire.
        #expect((4...20).contains(a.filter { $0 }.count))
    }

    @Test("order ids come from the seeded generator")
    func reproducibleOrderIDs() async throws {
        func ids(seed: UInt64) async throws -> [String] {
            try await withSandbox({ $0.seed = seed }) { sandbox in
                let token = try await accessToken(sandbox)
                var ids: [String] = []
                for number in ["+442081324758", "+442081324759", "+442081324760"] {
                    ids.append(try #require(try await postOrder(sandbox, body: orderBody(number, country: "GB"), token: token).orderID))
                }
                return ids
            }
        }
        let a = try await ids(seed: 5)
        #expect(try await ids(seed: 5) == a)
        #expect(try await ids(seed: 6) != a)
        #expect(a.allSatisfy(isOrderID))
    }
}
