import ColtModel

/// What Colt's inventory showed for one number.
public struct NumberState: Sendable, Equatable {
    /// The number, E.164 with its `+`.
    public var number: String
    /// Colt's word for the number's status; `nil` when the answer left the number out or gave none.
    public var status: String?
    /// The order the number carries, if the answer names one.
    public var orderID: String?
    /// That order's status in Colt's words, if the answer gives one.
    public var orderStatus: String?

    /// A number's state of the given parts.
    public init(number: String, status: String?, orderID: String?, orderStatus: String?) {
        self.number = number
        self.status = status
        self.orderID = orderID
        self.orderStatus = orderStatus
    }
}

/// What Colt's inventory (`GET /numberManagement/v1/Number`) shows for the numbers of one range.
///
/// It costs a few bytes per number whatever the answer's size: each number's status and order
/// are kept as small indexes into the distinct words seen, so a range of 10,000 numbers takes
/// about 60 KB, and the answer's pages are read one at a time.
public struct RangeInventory: Sendable, Equatable {
    /// The range asked about.
    public let range: NumberRange
    /// How many numbers the range holds.
    public let count: Int
    /// How many of them the answer covered.
    public private(set) var answered = 0
    /// Pages read.
    public internal(set) var pages = 0
    /// Items of the answer that named a number outside the range (ignored).
    public private(set) var outside = 0
    /// Why the answer cannot be trusted number by number, if it cannot: a number shown twice
    /// with different statuses or orders, or more distinct orders than are kept.
    public private(set) var contradiction: String?

    private let first: UInt64
    private var statusWords: [String] = []
    private var orderIDs: [String] = []
    private var orderStatuses: [String?] = []
    /// Per number: 0 = not in the answer, 1 = in it without a status, n + 2 = statusWords[n].
    private var statusIndex: [UInt16]
    /// Per number: 0 = no order, n + 1 = orderIDs[n].
    private var orderIndex: [UInt32]

    /// The largest range read; a larger one is not reconciled number by number.
    public static let maxNumbers = 1_000_000
    static let maxDistinctStatuses = 1_000
    static let maxDistinctOrders = 100_000

    /// An empty reading of `range`; `nil` when the range holds more than ``maxNumbers`` numbers.
    public init?(range: NumberRange) {
        guard let first = Self.value(range.start.text), let last = Self.value(range.end.text),
              last >= first, last - first < UInt64(Self.maxNumbers)
        else { return nil }
        self.range = range
        self.first = first
        count = Int(last - first) + 1
        statusIndex = Array(repeating: 0, count: count)
        orderIndex = Array(repeating: 0, count: count)
    }

    /// The number at `offset` (0 is the range's start) as the answer showed it.
    public subscript(offset: Int) -> NumberState {
        let number = "+" + Self.digits(first + UInt64(offset), width: range.start.text.utf8.count - 1)
        let s = Int(statusIndex[offset])
        let o = Int(orderIndex[offset])
        return NumberState(number: number, status: s >= 2 ? statusWords[s - 2] : nil,
                           orderID: o >= 1 ? orderIDs[o - 1] : nil, orderStatus: o >= 1 ? orderStatuses[o - 1] : nil)
    }

    /// Whether the answer covered the number at `offset`.
    public func isAnswered(_ offset: Int) -> Bool { statusIndex[offset] != 0 }

    /// The distinct orders the numbers carry, with how many numbers carry each and its status.
    public var orders: [(id: String, numbers: Int, status: String?)] {
        var counts = Array(repeating: 0, count: orderIDs.count)
        for index in orderIndex where index > 0 { counts[Int(index) - 1] += 1 }
        return orderIDs.indices.compactMap { counts[$0] > 0 ? (orderIDs[$0], counts[$0], orderStatuses[$0]) : nil }
    }

    /// The distinct statuses, with how many numbers show each (`nil`: answered without a status).
    public var statuses: [(status: String?, numbers: Int)] {
        var counts = Array(repeating: 0, count: statusWords.count + 2)
        for index in statusIndex { counts[Int(index)] += 1 }
        var result: [(String?, Int)] = counts[1] > 0 ? [(nil, counts[1])] : []
        for (n, word) in statusWords.enumerated() where counts[n + 2] > 0 { result.append((word, counts[n + 2])) }
        return result
    }

    /// Runs of consecutive numbers that showed the same thing, in number order: what the
    /// `order_numbers` table keeps (one row for a whole range that moved together).
    public var runs: [(first: String, last: String, state: NumberState)] {
        var result: [(String, String, NumberState)] = []
        var start = 0
        for offset in 0..<count where offset == count - 1
            || statusIndex[offset + 1] != statusIndex[start] || orderIndex[offset + 1] != orderIndex[start] {
            let state = self[start]
            result.append((state.number, self[offset].number, state))
            start = offset + 1
        }
        return result
    }

    /// One line for the journal and logs, e.g. `3 of 3 numbers answered: Quarantined 3; order ORD-1 (In progress) on 3`.
    public var summary: String {
        var text = "\(answered) of \(count) numbers answered"
        if pages > 1 { text += " (\(pages) pages)" }
        let shown = statuses.map { "\($0.status ?? "no status") \($0.numbers)" }
        if !shown.isEmpty { text += ": " + shown.prefix(8).joined(separator: ", ") + (shown.count > 8 ? ", …" : "") }
        let carried = orders
        if carried.isEmpty {
            text += "; no order"
        } else {
            text += "; " + carried.prefix(4).map { "order \($0.id)" + ($0.status.map { " (\($0))" } ?? "") + " on \($0.numbers)" }
                .joined(separator: ", ") + (carried.count > 4 ? ", …" : "")
        }
        if outside > 0 { text += "; \(outside) items outside the range ignored" }
        return text
    }

    /// The evidence as compact JSON, for the journal:
    /// `{"numbers":3,"answered":3,"statuses":{"Quarantined":3},"orders":[{"id":"ORD-1","numbers":3,"status":"In progress"}]}`.
    public var evidenceJSON: String {
        let statuses = self.statuses.prefix(50).map { JSONString.quoted($0.status ?? "") + ":\($0.numbers)" }
        let orders = self.orders.prefix(50).map { order in
            "{\"id\":\(JSONString.quoted(order.id)),\"numbers\":\(order.numbers)"
                + (order.status.map { ",\"status\":\(JSONString.quoted($0))" } ?? "") + "}"
        }
        return "{\"numbers\":\(count),\"answered\":\(answered),\"pages\":\(pages),\"statuses\":{\(statuses.joined(separator: ","))},\"orders\":[\(orders.joined(separator: ","))]}"
    }

    /// Takes in one number of the answer; returns whether it was new (in the range, not seen before).
    @discardableResult
    mutating func absorb(_ state: NumberState) -> Bool {
        guard let value = Self.value(state.number), state.number.utf8.count == range.start.text.utf8.count,
              value >= first, value - first < UInt64(count)
        else {
            outside += 1
            return false
        }
        let offset = Int(value - first)
        guard statusIndex[offset] == 0 else {
            let seen = self[offset]
            if seen.status != state.status || seen.orderID != state.orderID, contradiction == nil {
                contradiction = "\(state.number) is shown twice, differently (\(seen.status ?? "no status")/\(seen.orderID ?? "no order") and \(state.status ?? "no status")/\(state.orderID ?? "no order"))"
            }
            return false
        }
        answered += 1
        if let status = state.status {
            if let n = statusWords.firstIndex(of: status) {
                statusIndex[offset] = UInt16(n + 2)
            } else if statusWords.count < Self.maxDistinctStatuses {
                statusWords.append(status)
                statusIndex[offset] = UInt16(statusWords.count + 1)
            } else {
                statusIndex[offset] = 1
                if contradiction == nil { contradiction = "the numbers show more than \(Self.maxDistinctStatuses) different statuses" }
            }
        } else {
            statusIndex[offset] = 1
        }
        if let id = state.orderID {
            if let n = orderIDs.firstIndex(of: id) {
                orderIndex[offset] = UInt32(n + 1)
                if orderStatuses[n] == nil { orderStatuses[n] = state.orderStatus }
            } else if orderIDs.count < Self.maxDistinctOrders {
                orderIDs.append(id)
                orderStatuses.append(state.orderStatus)
                orderIndex[offset] = UInt32(orderIDs.count)
            } else if contradiction == nil {
                contradiction = "the numbers carry more than \(Self.maxDistinctOrders) different orders"
            }
        }
        return true
    }

    /// The number's digits as an integer, when it is E.164.
    public static func value(_ number: String) -> UInt64? {
        guard E164Number(number) != nil else { return nil }
        return UInt64(number.utf8.dropFirst().reduce(into: "") { $0.unicodeScalars.append(Unicode.Scalar($1)) })
    }

    static func digits(_ value: UInt64, width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

/// What one read of Colt's inventory gave.
public enum InventoryAnswer: Sendable, Equatable {
    /// The answer was read: what it shows for each number of the range.
    case read(RangeInventory)
    /// The answer could not be read (transport, status, no recognisable list): nothing is known.
    case couldNotTell(String)
    /// HTTP 401: the token was refused; ask again with a new one.
    case unauthorized
}

extension InventoryAnswer {
    /// The evidence as compact JSON for the journal (what could not be read, in words).
    public var evidence: String? {
        switch self {
        case .read(let inventory): inventory.evidenceJSON
        case .couldNotTell(let why): "{\"error\":\(JSONString.quoted(why))}"
        case .unauthorized: "{\"error\":\"HTTP 401\"}"
        }
    }

    /// The inventory in one line, when it was read.
    public var summary: String? {
        if case let .read(inventory) = self { return inventory.summary }
        return nil
    }
}

/// Reads the answers of `GET /numberManagement/v1/Number` by meaning, since Colt has not
/// published their field names: the list of numbers may be the whole answer or wrapped under
/// any key, and each item's number, status and order go by several plausible names.
enum InventoryAnswerReader {
    /// Keys (normalized: lower case, letters and digits) that name a number.
    static let numberKeys: [String] = ["number", "cli", "telephonenumber", "phonenumber", "msisdn", "e164", "e164number",
                                       "tn", "directorynumber", "numbervalue", "ddi", "did"]
    /// Keys that name a number's status, best first.
    static let statusKeys: [String] = ["resourcestatus", "clistatus", "numberstatus", "status", "state", "lifecyclestatus"]
    /// Keys whose value is an order id (a string or a number).
    static let orderIDKeys: [String] = ["orderid", "lastorderid", "currentorderid", "pendingorderid"]
    /// Keys whose value is an order object with an `id`.
    static let orderObjectKeys: [String] = ["order", "lastorder", "currentorder", "pendingorder", "activeorder"]
    /// Keys, beside an order id, that give the order's status.
    static let orderStatusKeys: [String] = ["orderstatus", "lastorderstatus"]
    /// Keys a wrapper's total count goes by (TMF: the `X-Total-Count` header is read first).
    static let totalKeys: [String] = ["totalcount", "total", "totalsize", "totalresults", "totalitems", "totalrecords"]

    /// One page: its items, the length of its list, and the total it announces; nil when no
    /// list of numbers is to be found, or when an item names an order in a way this reader does
    /// not understand (taking it for "no order" would be a guess).
    static func page(_ json: JSONValue) -> (items: [NumberState], listed: Int, total: Int?)? {
        guard let list = numberList(json, depth: 0) else { return nil }
        var items: [NumberState] = []
        for entry in list {
            guard let number = item(entry) else { continue }
            if number.orderID == nil, mentionsAnOrder(entry) { return nil }
            items.append(number)
        }
        // Items that are objects but name no number: the answer is not understood.
        if items.isEmpty, !list.isEmpty { return nil }
        return (items, list.count, total(json))
    }

    /// Whether an item has an order-like member with a value (`orders`, `relatedOrder`,
    /// `productOrder`, ...) although no order id was read from it.
    static func mentionsAnOrder(_ json: JSONValue) -> Bool {
        guard case let .object(members) = json else { return false }
        return members.contains { key, value in
            let name = NumberStatusRules.normalized(key)
            guard name.hasSuffix("order") || name.hasSuffix("orders") || name.contains("orderid") else { return false }
            switch value {
            case .null: return false
            case let .array(items): return !items.isEmpty
            case let .string(text): return !text.trimmingASCIIWhitespace().isEmpty
            default: return true
            }
        }
    }

    /// The array of number items: the answer itself, or one wrapped in objects (3 levels at most).
    static func numberList(_ json: JSONValue, depth: Int) -> [JSONValue]? {
        switch json {
        case let .array(items):
            return items.allSatisfy({ if case .object = $0 { true } else { false } }) ? items : nil
        case let .object(members):
            if item(json) != nil { return [json] }
            guard depth < 3 else { return nil }
            // A list whose items name numbers wins over an empty one (e.g. an empty `errors`).
            var empty: [JSONValue]?
            for (_, value) in members {
                guard let list = numberList(value, depth: depth + 1) else { continue }
                if list.contains(where: { item($0) != nil }) { return list }
                if list.isEmpty, empty == nil { empty = list }
            }
            return empty
        default:
            return nil
        }
    }

    /// One number item, or nil when it names no E.164 number.
    static func item(_ json: JSONValue) -> NumberState? {
        guard case let .object(members) = json else { return nil }
        let keyed = members.map { (NumberStatusRules.normalized($0.0), $0.1) }
        func value(_ keys: [String]) -> JSONValue? {
            for key in keys { if let found = keyed.first(where: { $0.0 == key })?.1 { return found } }
            return nil
        }
        guard let number = value(numberKeys).flatMap(e164) else { return nil }
        let status = value(statusKeys).flatMap(word)
        var orderID = value(orderIDKeys).flatMap(orderIdentifier)
        var orderStatus = value(orderStatusKeys).flatMap(word)
        if orderID == nil, case let .array(orders)? = keyed.first(where: { $0.0 == "orders" })?.1 {
            // A list of orders: the one still open (history otherwise); two open ones, or
            // entries without an id, are left unread (and the item then cannot be trusted).
            let read = orders.map { order in
                (id: order["id"].flatMap(orderIdentifier) ?? order["orderId"].flatMap(orderIdentifier),
                 status: (order["status"] ?? order["state"]).flatMap(word))
            }
            let open = read.filter { !OrderProgress($0.status ?? "").isFinished }
            if read.allSatisfy({ $0.id != nil }) {
                if open.count == 1 {
                    orderID = open[0].id
                    orderStatus = open[0].status
                } else if open.isEmpty, let last = read.last {
                    orderID = last.id
                    orderStatus = last.status
                }
            }
        }
        if orderID == nil {
            for key in orderObjectKeys {
                guard let order = keyed.first(where: { $0.0 == key })?.1 else { continue }
                if let id = orderIdentifier(order) {
                    orderID = id
                } else if let id = order["id"].flatMap(orderIdentifier) ?? order["orderId"].flatMap(orderIdentifier) ?? order["orderID"].flatMap(orderIdentifier) {
                    orderID = id
                    orderStatus = orderStatus ?? (order["status"] ?? order["state"] ?? order["orderStatus"]).flatMap(word)
                }
                if orderID != nil { break }
            }
        }
        return NumberState(number: number, status: status, orderID: orderID, orderStatus: orderID == nil ? nil : orderStatus)
    }

    /// An E.164 number from a string or digits (a missing `+` is added), or from an object
    /// holding one under `number`/`value`.
    static func e164(_ json: JSONValue) -> String? {
        switch json {
        case let .string(text), let .number(text):
            let trimmed = text.trimmingASCIIWhitespace()
            let candidate = trimmed.hasPrefix("+") ? trimmed : "+" + trimmed
            return E164Number(candidate)?.text
        case .object:
            return (json["number"] ?? json["value"]).flatMap(e164)
        default:
            return nil
        }
    }

    /// A status word: a short printable string, or an object's `name`/`value`/`status`.
    static func word(_ json: JSONValue) -> String? {
        switch json {
        case let .string(text):
            let trimmed = text.trimmingASCIIWhitespace()
            guard !trimmed.isEmpty, trimmed.utf8.count <= 64, trimmed.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F })
            else { return nil }
            return trimmed
        case .object:
            return (json["name"] ?? json["value"] ?? json["status"]).flatMap(word)
        default:
            return nil
        }
    }

    /// An order id, as in an order's answer (``OrderIdentifier``): a string of 1 to 128 printable
    /// characters. A number or anything else is not one (and the item then cannot be trusted).
    static func orderIdentifier(_ json: JSONValue) -> String? {
        guard case let .string(text) = json else { return nil }
        return OrderIdentifier.validated(text)
    }

    /// A total announced in a wrapper object.
    static func total(_ json: JSONValue) -> Int? {
        guard case let .object(members) = json else { return nil }
        for (key, value) in members where totalKeys.contains(NumberStatusRules.normalized(key)) {
            if case let .number(text) = value, let total = Int(text), total >= 0 { return total }
        }
        return nil
    }
}
