import ColtSandbox
import Foundation
import Testing

@Suite("Number state machine")
struct StateMachineTests {
    /// One number per case; every country has a single profile "P" so serviceProfile may be omitted.
    struct Case: Sendable, CustomTestStringConvertible {
        var action: String
        var number: String
        var country: String
        var from: NumberStatus
        var to: NumberStatus?   // nil: refused with 400/012

        var path: String { self.action == "return" ? returnPath : reactivatePath }
        var testDescription: String { "\(self.action) \(self.from.rawValue) in \(self.country) → \(self.to?.rawValue ?? "refused")" }
    }

    static let cases: [Case] = {
        var cases: [Case] = []
        var serial = 100_000
        func add(_ action: String, _ country: String, _ prefix: String, _ from: NumberStatus, _ to: NumberStatus?) {
            serial += 1
            cases.append(Case(action: action, number: prefix + String(serial), country: country, from: from, to: to))
        }
        let prefixes = ["GB": "+44208", "FR": "+33140", "NL": "+31201", "PT": "+35121", "CH": "+41441",
                        "SE": "+46812", "ES": "+34911", "IT": "+39061", "DE": "+49691", "AT": "+43151",
                        "BE": "+32221", "IE": "+35311", "DK": "+45331", "CZ": "+42022", "NO": "+47221",
                        "RO": "+40211", "PL": "+48221", "FI": "+35891", "LU": "+35221", "SK": "+42121"]
        for (country, prefix) in prefixes.sorted(by: { $0.key < $1.key }) {
            // Return: Reserved → Free and Activated → Quarantined everywhere.
            add("return", country, prefix, .reserved, .free)
            add("return", country, prefix, .activated, .quarantined)
            // Return refuses numbers that are not in service or reserved.
            add("return", country, prefix, .quarantined, nil)
            add("return", country, prefix, .free, nil)
            add("return", country, prefix, .returned, nil)
            // Reactivate: Quarantined → Activated everywhere; in-service numbers refused.
            add("reactivate", country, prefix, .quarantined, .activated)
            add("reactivate", country, prefix, .activated, nil)
            add("reactivate", country, prefix, .reserved, nil)
            add("reactivate", country, prefix, .returned, nil)
        }
        // Return of a port-in: quarantine in FR NL PT CH SE ES IT (and DE, see ColtRules)...
        for country in ["FR", "NL", "PT", "CH", "SE", "ES", "IT", "DE"] {
            add("return", country, prefixes[country]!, .portInActivated, .portInQuarantined)
        }
        // ... back to the range holder in GB AT BE IE DK and Zone B.
        for country in ["GB", "AT", "BE", "IE", "DK", "CZ", "NO", "RO", "PL", "FI", "LU", "SK"] {
            add("return", country, prefixes[country]!, .portInActivated, .returned)
        }
        // Reactivate port-in: FR NL PT ES SE CH IT and DE only.
        for country in ["FR", "NL", "PT", "ES", "SE", "CH", "IT", "DE"] {
            add("reactivate", country, prefixes[country]!, .portInQuarantined, .portInActivated)
        }
        for country in ["GB", "AT", "BE", "IE", "DK", "CZ", "NO", "RO", "PL", "FI", "LU", "SK"] {
            add("reactivate", country, prefixes[country]!, .portInQuarantined, nil)
        }
        // NL 088: deactivation ends as Returned, no quarantine; reservation cancel still frees.
        add("return", "NL", "+31882", .activated, .returned)
        add("return", "NL", "+31882", .portInActivated, .returned)
        add("return", "NL", "+31882", .reserved, .free)
        return cases
    }()

    @Test("every row of the seed tables, per country group")
    func transitions() async throws {
        let inventory = Self.cases.map { InventoryNumber(number: $0.number, country: $0.country, serviceProfile: "P", status: $0.from) }
        // Orders complete at once, so each number shows where its order took it.
        try await withSandbox({ $0.inventory = inventory; $0.completionDelay = .zero }) { sandbox in
            let token = try await accessToken(sandbox)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for chunk in stride(from: 0, to: Self.cases.count, by: 16) {
                    let slice = Self.cases[chunk..<min(chunk + 16, Self.cases.count)]
                    group.addTask {
                        for item in slice {
                            let result = try await postOrder(sandbox, path: item.path, body: orderBody(item.number, country: item.country), token: token)
                            if let to = item.to {
                                #expect(result.status == 201, "\(item.testDescription): \(result.text)")
                                #expect(isOrderID(result.orderID), "\(item.testDescription)")
                                #expect(await sandbox.status(of: item.number) == to, "\(item.testDescription)")
                            } else {
                                #expect(result.status == 400, "\(item.testDescription): \(result.status) \(result.text)")
                                #expect(result.coltCode == "012", "\(item.testDescription): \(result.text)")
                                #expect(result.message.contains(item.number) && result.message.contains(item.from.rawValue),
                                        "\(item.testDescription): \(result.message)")
                                #expect(await sandbox.status(of: item.number) == item.from, "\(item.testDescription)")
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await sandbox.orders().count == Self.cases.filter { $0.to != nil }.count)
        }
    }

    @Test("a number outside the inventory, or owned elsewhere, is refused and names the number")
    func ownership() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            let unknown = try await postOrder(sandbox, body: orderBody("+442081324799", country: "GB"), token: token)
            #expect(unknown.status == 404)
            #expect(unknown.coltCode == "010")
            #expect(unknown.message.contains("+442081324799"))
            // GB number ordered as IE.
            let wrongCountry = try await postOrder(sandbox, body: orderBody("+442081324758", country: "IE"), token: token)
            #expect(wrongCountry.status == 400)
            #expect(wrongCountry.coltCode == "011")
            #expect(wrongCountry.message.contains("+442081324758"))
            // FR LYON2 number ordered under PARIS1.
            let wrongProfile = try await postOrder(sandbox, body: orderBody("+33478000001", country: "FR", serviceProfile: "PARIS1"), token: token)
            #expect(wrongProfile.status == 400)
            #expect(wrongProfile.coltCode == "011")
            #expect(await sandbox.orders().isEmpty)
        }
    }

    @Test("all or nothing: one bad number in a range leaves every number untouched")
    func allOrNothing() async throws {
        try await withSandbox({ $0.completionDelay = .zero }) { sandbox in
            let token = try await accessToken(sandbox)
            // +442081324760...69 are Activated; +442081324770 is Reserved (fine for return),
            // +442081324772 is Quarantined (refused).
            let result = try await postOrder(sandbox, body: orderBody([("+442081324760", "+442081324772")], country: "GB"), token: token)
            #expect(result.status == 400)
            #expect(result.coltCode == "012")
            #expect(result.message.contains("+442081324772"))
            for suffix in 60...69 { #expect(await sandbox.status(of: "+4420813247\(suffix)") == .activated) }
            #expect(await sandbox.status(of: "+442081324770") == .reserved)
            // Two ranges, the second unknown: 404, nothing moved.
            let second = try await postOrder(sandbox, body: orderBody([("+442081324760", "+442081324769"), ("+442081324790", "+442081324790")], country: "GB"), token: token)
            #expect(second.status == 404)
            #expect(await sandbox.status(of: "+442081324760") == .activated)
            // The whole range alone is accepted; the order lists the range and is found by number.
            let ok = try await postOrder(sandbox, body: orderBody([("+442081324760", "+442081324769")], country: "GB", serviceProfile: "ANH"), token: token)
            #expect(ok.status == 201)
            for suffix in 60...69 { #expect(await sandbox.status(of: "+4420813247\(suffix)") == .quarantined) }
            let byNumber = await sandbox.orders(forNumber: "+442081324765")
            #expect(byNumber.count == 1)
            #expect(byNumber.first?.ranges == [["+442081324760", "+442081324769"]])
            #expect(byNumber.first?.id == ok.orderID)
            #expect(await sandbox.orders(forNumber: "+442081324770").isEmpty)
        }
    }

    @Test("a number with an order In progress is refused with 409 naming the order")
    func inProgress() async throws {
        try await withSandbox { sandbox in   // no completionDelay: orders stay In progress
            let token = try await accessToken(sandbox)
            let first = try await postOrder(sandbox, body: orderBody("+442081324758", country: "GB"), token: token)
            #expect(first.status == 201)
            let orderID = try #require(first.orderID)
            #expect(await sandbox.orders().first?.status == "In progress")
            // A reactivate while the return is In progress, and the same return again.
            for path in [reactivatePath, returnPath] {
                let busy = try await postOrder(sandbox, path: path, body: orderBody("+442081324758", country: "GB"), token: token)
                #expect(busy.status == 409)
                #expect(busy.coltCode == "013")
                #expect(busy.message.contains(orderID))
                #expect(busy.message.contains("+442081324758"))
            }
            // Inside a range too: the whole order is refused.
            let range = try await postOrder(sandbox, body: orderBody([("+442081324758", "+442081324760")], country: "GB"), token: token)
            #expect(range.status == 409)
            #expect(await sandbox.status(of: "+442081324759") == .activated)
            #expect(await sandbox.status(of: "+442081324758") == .activated, "the number moves only when its order completes")
            #expect(await sandbox.orders().count == 1)
            let stats = await sandbox.stats()
            #expect(stats.inProgressRefusals == 3)
            #expect(stats.duplicateOrders == 0)
        }
    }

    @Test("after completionDelay the order is Completed and the number accepts a new order")
    func completion() async throws {
        try await withSandbox({ $0.completionDelay = .milliseconds(300) }) { sandbox in
            let token = try await accessToken(sandbox)
            #expect(try await postOrder(sandbox, body: orderBody("+442081324758", country: "GB"), token: token).status == 201)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            while await sandbox.orders().first?.status != "Completed", clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await sandbox.orders().first?.status == "Completed")
            let later = try await postOrder(sandbox, path: reactivatePath, body: orderBody("+442081324758", country: "GB"), token: token)
            #expect(later.status == 201, "\(later.text)")
            #expect(await sandbox.status(of: "+442081324758") == .quarantined, "the reactivate is still In progress")
            let stats = await sandbox.stats()
            #expect(stats.orders == 2)
            #expect(stats.duplicateOrders == 0)
        }
    }

    @Test("without completionDelay orders stay In progress")
    func staysInProgress() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            #expect(try await postOrder(sandbox, body: orderBody("+442081324770", country: "GB"), token: token).status == 201)
            try await Task.sleep(for: .milliseconds(200))
            #expect(await sandbox.orders().map(\.status) == ["In progress"])
            #expect(await sandbox.stats().ordersInProgress == 1)
        }
    }

    @Test("GET Number shows status and the last order's tracking id, by range and by order id")
    func numberSearch() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            let trackingID = newTrackingID()
            let created = try await postOrder(sandbox, body: orderBody([("+442081324760", "+442081324761")], country: "GB"), token: token, trackingID: trackingID)
            let orderID = try #require(created.orderID)

            let byRange = try await get(sandbox, "\(numberPath)?numberRangeStart=%2B442081324759&numberRangeEnd=%2B442081324762", token: token)
            #expect(byRange.status == 200)
            let numbers = try #require(byRange.json?["numbers"] as? [[String: Any]])
            #expect(numbers.compactMap { $0["number"] as? String } == ["+442081324759", "+442081324760", "+442081324761", "+442081324762"])
            let row = try #require(numbers.first { $0["number"] as? String == "+442081324760" })
            #expect(row["status"] as? String == "Activated", "the order is In progress: the number has not moved yet")
            #expect(row["country"] as? String == "GB")
            #expect(row["serviceProfile"] as? String == "ANH")
            let last = try #require(row["lastOrder"] as? [String: Any])
            #expect(last["id"] as? String == orderID)
            #expect(last["trackingId"] as? String == trackingID)
            #expect(last["type"] as? String == "return")
            #expect(last["status"] as? String == "In progress")
            #expect(numbers.first?["lastOrder"] == nil)   // +442081324759 never had an order

            // A literal '+' (not %2B) also works, and a single number needs no end.
            let single = try await get(sandbox, "\(numberPath)?numberRangeStart=+442081324761", token: token)
            #expect((single.json?["numbers"] as? [[String: Any]])?.count == 1)

            let byOrder = try await get(sandbox, "\(numberPath)?orderId=\(orderID)", token: token)
            #expect((byOrder.json?["numbers"] as? [[String: Any]])?.compactMap { $0["number"] as? String } == ["+442081324760", "+442081324761"])
            #expect(try await get(sandbox, "\(numberPath)?orderId=ORD-00000000", token: token).status == 404)
            #expect(try await get(sandbox, numberPath, token: token).status == 400)
            #expect(try await get(sandbox, "\(numberPath)?numberRangeStart=%2B442081324760", token: nil).status == 401)
        }
    }
}
