import ColtClient
import ColtModel
import Foundation
import OrderStore

/// What Colt's inventory says about a row whose request may have created an order (docs/design.md
/// invariant 9). Worked out from the inventory alone, never from a tracking id in the answer.
enum ReconcileVerdict: Equatable, Sendable {
    /// Every number of the range carries the same open order: it is the row's (unless another
    /// row of the ledger holds it; see ``ReconcileVerdict/owned(by:)``).
    case adopt(orderID: String, orderStatus: String?)
    /// No open order, and every number already shows a status the action leads to: the work is
    /// done. The order id when every number shows the same finished one.
    case done(orderID: String?, orderStatus: String?)
    /// No order, and every number is where it was: nothing was created; send again, same tracking id.
    case notCreated
    /// Anything else: nothing is sent; look again later.
    case unclear(String)

    /// Reads the inventory of `request`'s range.
    static func judge(_ answer: InventoryAnswer, request: OrderRequest) -> ReconcileVerdict {
        guard case let .read(inventory) = answer else {
            if case let .couldNotTell(why) = answer { return .unclear("the inventory could not be read: \(why)") }
            return .unclear("the inventory could not be read")
        }
        if inventory.answered < inventory.count {
            return .unclear("Colt's answer leaves out \(inventory.count - inventory.answered) of the range's \(inventory.count) numbers")
        }
        let open = inventory.orders.filter { !OrderProgress($0.status ?? "").isFinished }
        if let only = open.first, open.count == 1 {
            guard only.numbers == inventory.count else {
                return .unclear("order \(only.id) is on \(only.numbers) of the range's \(inventory.count) numbers; the others carry none")
            }
            return .adopt(orderID: only.id, orderStatus: only.status)
        }
        if open.count > 1 {
            return .unclear("the range's numbers carry \(open.count) different open orders (\(open.prefix(3).map(\.id).joined(separator: ", ")))")
        }
        let statuses = inventory.statuses
        if statuses.allSatisfy({ $0.status.map { NumberStatusRules.isTarget($0, of: request.action, country: request.country) } ?? false }) {
            let finished = inventory.orders
            let shared = finished.count == 1 && finished[0].numbers == inventory.count ? finished[0] : nil
            return .done(orderID: shared?.id, orderStatus: shared?.status)
        }
        if statuses.allSatisfy({ $0.status.map { NumberStatusRules.isSource($0, of: request.action) } ?? false }) {
            return .notCreated
        }
        return .unclear("the numbers show mixed or unexpected statuses (\(statuses.prefix(4).map { "\($0.status ?? "none") \($0.numbers)" }.joined(separator: ", "))) and carry no open order")
    }

    /// The verdict once the ledger says who holds the order: an order another row holds is
    /// never adopted (that row's order is on these numbers, not this row's).
    func owned(by holder: Int64?) -> ReconcileVerdict {
        guard let holder else { return self }
        switch self {
        case .adopt(let orderID, _):
            return .unclear("the numbers carry order \(orderID), which request \(holder) holds")
        case .done(_, let status):
            return .done(orderID: nil, orderStatus: status)
        case .notCreated, .unclear:
            return self
        }
    }

    /// The order whose holder must be checked, if any.
    var candidateOrder: String? {
        switch self {
        case .adopt(let id, _): id
        case .done(let id, _): id
        case .notCreated, .unclear: nil
        }
    }
}

/// What Colt's inventory says about an order being followed to completion (invariant 10).
enum CompletionVerdict: Equatable, Sendable {
    /// Not finished yet (the order is still on the numbers, or they have not moved).
    case running(orderStatus: String?)
    /// Finished: Colt says so, or every number has moved and no longer carries the order.
    /// `unexpected` lists numbers that ended where the action does not lead (`+44…: Activated`).
    case completed(orderStatus: String, unexpected: [String], unexpectedCount: Int)
    /// The inventory could not be read, or leaves numbers out: look again later.
    case unclear(String)

    static func judge(_ answer: InventoryAnswer, request: OrderRequest, orderID: String) -> CompletionVerdict {
        guard case let .read(inventory) = answer else {
            if case let .couldNotTell(why) = answer { return .unclear("the inventory could not be read: \(why)") }
            return .unclear("the inventory could not be read")
        }
        let ours = inventory.orders.first { $0.id == orderID }
        let progress = ours?.status.map(OrderProgress.init) ?? .unknown
        if inventory.answered < inventory.count, !progress.isFinished {
            return .unclear("Colt's answer leaves out \(inventory.count - inventory.answered) of the range's \(inventory.count) numbers")
        }
        var unexpected: [String] = []
        var unexpectedCount = 0
        var unmoved = 0
        var unknown = 0
        for offset in 0..<inventory.count {
            let number = inventory[offset]
            guard let status = number.status else {
                unexpectedCount += 1
                if unexpected.count < 10 { unexpected.append("\(number.number): \(inventory.isAnswered(offset) ? "no status" : "not in Colt's answer")") }
                continue
            }
            if NumberStatusRules.isTarget(status, of: request.action, country: request.country) { continue }
            if NumberStatusRules.isSource(status, of: request.action) { unmoved += 1 }
            if !NumberStatusRules.isKnown(status) { unknown += 1 }
            unexpectedCount += 1
            if unexpected.count < 10 { unexpected.append("\(number.number): \(status)") }
        }
        // Colt's own word for the order, when the answer gives one, decides.
        if let status = ours?.status, progress.isFinished {
            return .completed(orderStatus: status, unexpected: unexpected, unexpectedCount: unexpectedCount)
        }
        if let ours, ours.numbers > 0 {
            return .running(orderStatus: ours.status)
        }
        // The order is gone from the numbers: finished, unless none of them has moved yet (an
        // answer that never names orders shows nothing else while the work is pending). Once
        // some have moved, those still where they were ended somewhere unexpected.
        if unmoved == inventory.count {
            return .running(orderStatus: nil)
        }
        // A status the seeds do not name is a state in between (`Pending deactivation`): not done.
        if unknown > 0 {
            return .running(orderStatus: nil)
        }
        return .completed(orderStatus: "Completed", unexpected: unexpected, unexpectedCount: unexpectedCount)
    }
}

extension InventoryAnswer {
    /// Per-number runs for `order_numbers`, when the inventory was read.
    func runs(for request: OrderRequest) -> [NumberRun] {
        guard case let .read(inventory) = self else { return [] }
        return inventory.runs.prefix(10_000).map { run in
            let numbers = Int(RangeInventory.value(run.last).map { v in v - (RangeInventory.value(run.first) ?? v) } ?? 0) + 1
            return NumberRun(first: run.first, last: run.last, numbers: numbers, status: run.state.status,
                             orderID: run.state.orderID, orderStatus: run.state.orderStatus,
                             expected: run.state.status.map { NumberStatusRules.isTarget($0, of: request.action, country: request.country) } ?? false)
        }
    }
}
