@testable import ColtClient
import ColtModel
@testable import OrderEngine
import Testing

/// The decision tables of invariants 9 and 10, on inventories built by hand: each branch of
/// reconciliation and of completion, and the cases that must stay undecided.
@Suite struct VerdictTests {
    static let ret = try! OrderRequest(action: "return", country: "GB", rangeStart: "+442081324758", rangeEnd: "+442081324760", serviceProfile: nil)
    static let reactivate = try! OrderRequest(action: "reactivate", country: "FR", rangeStart: "+442081324758", rangeEnd: "+442081324760", serviceProfile: nil)

    /// The range's three numbers as the answer shows them (nil: left out of the answer).
    static func answer(_ numbers: [(status: String?, order: String?, orderStatus: String?)?], _ request: OrderRequest = ret) -> InventoryAnswer {
        var inventory = RangeInventory(range: request.range)!
        for (offset, number) in numbers.enumerated() {
            guard let number else { continue }
            inventory.absorb(NumberState(number: ["+442081324758", "+442081324759", "+442081324760"][offset],
                                         status: number.status, orderID: number.order, orderStatus: number.orderStatus))
        }
        return .read(inventory)
    }

    static func same(_ status: String?, _ order: String? = nil, _ orderStatus: String? = nil) -> [(status: String?, order: String?, orderStatus: String?)?] {
        Array(repeating: (status, order, orderStatus), count: 3)
    }

    @Test func numbersAreBuiltRight() {
        guard case let .read(inventory) = Self.answer(Self.same("Activated")) else { Issue.record(); return }
        #expect(inventory.answered == 3)
        #expect((0..<3).map { inventory[$0].number } == ["+442081324758", "+442081324759", "+442081324760"])
    }

    // MARK: Reconciliation (invariant 9)

    @Test func everyNumberCarryingOneOpenOrderIsAdopted() {
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Activated", "ORD-1")), request: Self.ret) == .adopt(orderID: "ORD-1", orderStatus: nil))
        // Colt may move the numbers at once: the order they carry still decides.
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Quarantined", "ORD-1", "In progress")), request: Self.ret)
                == .adopt(orderID: "ORD-1", orderStatus: "In progress"))
    }

    @Test func anOrderAnotherRowHoldsIsNeverAdopted() {
        let verdict = ReconcileVerdict.judge(Self.answer(Self.same("Activated", "ORD-1")), request: Self.ret).owned(by: 7)
        guard case let .unclear(why) = verdict else { Issue.record("\(verdict)"); return }
        #expect(why.contains("request 7"))
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Activated", "ORD-1")), request: Self.ret).owned(by: nil)
                == .adopt(orderID: "ORD-1", orderStatus: nil))
    }

    @Test func numbersAlreadyWhereTheActionLeadsAreDone() {
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Quarantined")), request: Self.ret) == .done(orderID: nil, orderStatus: nil))
        #expect(ReconcileVerdict.judge(Self.answer([("Free", nil, nil), ("Returned", nil, nil), ("quarantined", nil, nil)]), request: Self.ret)
                == .done(orderID: nil, orderStatus: nil), "any status the return leads to, by meaning")
        // A finished order on every number names the order.
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Quarantined", "ORD-2", "Completed")), request: Self.ret)
                == .done(orderID: "ORD-2", orderStatus: "Completed"))
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("PortIn_Activated"), Self.reactivate), request: Self.reactivate)
                == .done(orderID: nil, orderStatus: nil))
    }

    @Test func numbersWhereTheyWereWithNoOrderWereNotCreated() {
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Activated")), request: Self.ret) == .notCreated)
        #expect(ReconcileVerdict.judge(Self.answer([("Reserved", nil, nil), ("PortIn_Activated", nil, nil), ("ACTIVATED", nil, nil)]), request: Self.ret) == .notCreated)
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Quarantined"), Self.reactivate), request: Self.reactivate) == .notCreated)
        // An old, finished order on numbers that have not moved is history, not this row's.
        #expect(ReconcileVerdict.judge(Self.answer(Self.same("Activated", "ORD-OLD", "Completed")), request: Self.ret) == .notCreated)
    }

    @Test(arguments: [
        ("the lookup failed", InventoryAnswer.couldNotTell("HTTP 503")),
        ("a number left out", answer([("Activated", nil, nil), nil, ("Activated", nil, nil)])),
        ("mixed statuses", answer([("Activated", nil, nil), ("Quarantined", nil, nil), ("Activated", nil, nil)])),
        ("no status at all", answer(same(nil))),
        ("an order on some numbers only", answer([("Activated", "ORD-1", nil), ("Activated", nil, nil), ("Activated", "ORD-1", nil)])),
        ("two open orders", answer([("Activated", "ORD-1", nil), ("Activated", "ORD-2", nil), ("Activated", "ORD-1", nil)])),
        ("a status neither before nor after", answer(same("Free"))),
    ])
    func anythingElseIsUnclear(_ name: String, _ answer: InventoryAnswer) {
        // "Free" is where a return leads, not a reactivate: unclear for the reactivate.
        let request = name.hasPrefix("a status neither") ? Self.reactivate : Self.ret
        guard case .unclear = ReconcileVerdict.judge(answer, request: request) else {
            Issue.record("\(name): \(ReconcileVerdict.judge(answer, request: request))")
            return
        }
    }

    // MARK: Completion (invariant 10)

    @Test func coltsWordForTheOrderDecides() {
        #expect(CompletionVerdict.judge(Self.answer(Self.same("Quarantined", "ORD-1", "Completed")), request: Self.ret, orderID: "ORD-1")
                == .completed(orderStatus: "Completed", unexpected: [], unexpectedCount: 0))
        #expect(CompletionVerdict.judge(Self.answer(Self.same("Activated", "ORD-1", "In progress")), request: Self.ret, orderID: "ORD-1")
                == .running(orderStatus: "In progress"))
        guard case let .completed(status, unexpected, count) = CompletionVerdict.judge(
            Self.answer(Self.same("Activated", "ORD-1", "Cancelled")), request: Self.ret, orderID: "ORD-1") else { Issue.record(); return }
        #expect(status == "Cancelled")
        #expect(count == 3 && unexpected.first == "+442081324758: Activated", "a cancelled order leaves the numbers unmoved: flagged")
    }

    @Test func numbersMovedAndNoLongerCarryingTheOrderAreComplete() {
        #expect(CompletionVerdict.judge(Self.answer(Self.same("Quarantined")), request: Self.ret, orderID: "ORD-1")
                == .completed(orderStatus: "Completed", unexpected: [], unexpectedCount: 0))
        // Still carrying it, even moved: not yet.
        #expect(CompletionVerdict.judge(Self.answer(Self.same("Quarantined", "ORD-1")), request: Self.ret, orderID: "ORD-1") == .running(orderStatus: nil))
        // Not moved, no order named (an answer that never names orders): still running.
        #expect(CompletionVerdict.judge(Self.answer(Self.same("Activated")), request: Self.ret, orderID: "ORD-1") == .running(orderStatus: nil))
        // Part of the range moved and no number carries the order any more: finished, and the
        // number left behind is flagged.
        #expect(CompletionVerdict.judge(Self.answer([("Quarantined", nil, nil), ("Activated", nil, nil), ("Quarantined", nil, nil)]),
                                        request: Self.ret, orderID: "ORD-1")
                == .completed(orderStatus: "Completed", unexpected: ["+442081324759: Activated"], unexpectedCount: 1))
        #expect(CompletionVerdict.judge(Self.answer([("Quarantined", "ORD-1", nil), ("Activated", "ORD-1", nil), ("Quarantined", "ORD-1", nil)]),
                                        request: Self.ret, orderID: "ORD-1") == .running(orderStatus: nil), "still carrying the order")
    }

    @Test func aNumberEndingElsewhereIsFlagged() {
        let verdict = CompletionVerdict.judge(Self.answer([("Activated", nil, nil), ("Free", nil, nil), ("Activated", nil, nil)], Self.reactivate),
                                              request: Self.reactivate, orderID: "ORD-1")
        #expect(verdict == .completed(orderStatus: "Completed", unexpected: ["+442081324759: Free"], unexpectedCount: 1))
        // PortIn_Quarantined is where a return leads in FR, not in GB.
        let gb = CompletionVerdict.judge(Self.answer(Self.same("PortIn_Quarantined")), request: Self.ret, orderID: "ORD-1")
        guard case let .completed(_, _, count) = gb else { Issue.record("\(gb)"); return }
        #expect(count == 3)
    }

    @Test func unreadableOrIncompleteAnswersAreUnclear() {
        guard case .unclear = CompletionVerdict.judge(.couldNotTell("HTTP 500"), request: Self.ret, orderID: "ORD-1") else { Issue.record(); return }
        guard case .unclear = CompletionVerdict.judge(Self.answer([("Quarantined", nil, nil), nil, ("Quarantined", nil, nil)]), request: Self.ret, orderID: "ORD-1")
        else { Issue.record(); return }
    }

    // MARK: The tracking policy

    @Test func checksSpreadOutAsOrdersAge() {
        var policy = TrackingPolicy()
        policy.checkInterval = .seconds(900)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let young = policy.delay(age: .seconds(60), using: &generator).seconds
            #expect(young >= 720 && young <= 1080, "the interval, ±20 %: \(young)")
            let old = policy.delay(age: .seconds(5 * 86_400), using: &generator).seconds
            #expect(old >= 8 * 720 && old <= 8 * 1080, "eight intervals at most, for a five-day order: \(old)")
        }
        #expect(NumberStatusRules.normalized("PortIn_Activated") == "portinactivated")
        #expect(OrderProgress("In progress") == .running && OrderProgress("COMPLETED") == .completed && OrderProgress("Cancelled") == .ended)
    }
}
