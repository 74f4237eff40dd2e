@testable import ColtClient
import ColtModel
import Foundation
import Testing

/// The inventory reader against answers shaped every plausible way (Colt has published no
/// field names), over real HTTP on loopback.
@Suite struct InventoryReaderTests {
    static let range = try! NumberRange(start: "+442081324758", end: "+442081324759")

    /// A shape and what must be read from it for the two numbers of ``range``.
    struct Shape: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var statuses: [String?]
        var orders: [String?]
        var orderStatuses: [String?] = [nil, nil]
        var testDescription: String { name }
    }

    static let shapes: [Shape] = [
        Shape(name: "a bare array, minimal",
              body: #"[{"number":"+442081324758","resourceStatus":"Activated","orderId":"O-1"},{"number":"+442081324759","resourceStatus":"Activated","orderId":"O-1"}]"#,
              statuses: ["Activated", "Activated"], orders: ["O-1", "O-1"]),
        Shape(name: "wrapped under an unknown key, cli and cliStatus",
              body: #"{"result":{"cliList":[{"cli":"442081324758","cliStatus":"Quarantined"},{"cli":"+442081324759","cliStatus":"Quarantined","orderID":"7"}]},"errors":[]}"#,
              statuses: ["Quarantined", "Quarantined"], orders: [nil, "7"]),
        Shape(name: "telephoneNumber, status, order.id with its status",
              body: #"{"data":[{"telephoneNumber":{"number":"+442081324758"},"status":{"name":"Free"},"order":{"id":"A","status":"Completed"}},{"telephoneNumber":"+442081324759","status":"Free"}]}"#,
              statuses: ["Free", "Free"], orders: ["A", nil], orderStatuses: ["Completed", nil]),
        Shape(name: "lastOrder.id, rich",
              body: #"{"numbers":[{"number":"+442081324758","status":"Returned","lastOrder":{"id":"ORD-9","trackingId":"x","status":"In progress"}},{"number":"+442081324759","status":"Returned","lastOrder":{"id":"ORD-9"}}]}"#,
              statuses: ["Returned", "Returned"], orders: ["ORD-9", "ORD-9"], orderStatuses: ["In progress", "In progress"]),
        Shape(name: "one number alone, not in a list",
              body: #"{"number":"+442081324758","resourceStatus":"Reserved"}"#,
              statuses: ["Reserved", nil], orders: [nil, nil]),
        Shape(name: "an empty list",
              body: #"{"items":[],"totalCount":0}"#, statuses: [nil, nil], orders: [nil, nil]),
    ]

    static func serve(_ reply: @escaping @Sendable (LoopbackServer.Request) -> LoopbackServer.Reply) throws -> (LoopbackServer, ColtAPI, CurlTransport) {
        let server = try LoopbackServer(reply)
        let (api, transport) = try makeAPI(server.baseURL)
        return (server, api, transport)
    }

    @Test(arguments: shapes)
    func readsEachShape(_ shape: Shape) async throws {
        let (server, api, transport) = try Self.serve { _ in .json(200, shape.body) }
        defer { server.stop(); transport.shutdown() }
        guard case let .read(inventory) = await api.readInventory(range: Self.range, token: testToken) else {
            Issue.record("could not tell")
            return
        }
        #expect((0..<2).map { inventory[$0].status } == shape.statuses)
        #expect((0..<2).map { inventory[$0].orderID } == shape.orders)
        #expect((0..<2).map { inventory[$0].orderStatus } == shape.orderStatuses)
        #expect(inventory.answered == shape.statuses.filter { $0 != nil }.count)
        let sent = try #require(server.requests.first)
        #expect(sent.method == "GET")
        #expect(sent.target == "/numberManagement/v1/Number?numberRangeStart=%2B442081324758&numberRangeEnd=%2B442081324759&offset=0&limit=1000")
        #expect(sent.header("authorization") == "Bearer tok-SECRET-4711-abcdef")
    }

    /// What cannot be read is "could not tell", never a guess.
    @Test(arguments: [
        LoopbackServer.Reply.json(500, #"[{"number":"+442081324758","status":"Free"}]"#),
        .json(404, #"{"code":"010","message":"not found"}"#),
        .json(200, "<html>"),
        .close,
        .json(200, #"{"code":"005","message":"bad"}"#),
        .json(200, #"[{"id":"x","status":"Free"}]"#),
        .json(200, #""numbers""#),
        .partial(status: 200, declaredLength: 500, sent: Array(#"[{"number":"+44208132475"#.utf8)),
    ])
    func unreadableAnswersCannotTell(reply: LoopbackServer.Reply) async throws {
        let (server, api, transport) = try Self.serve { _ in reply }
        defer { server.stop(); transport.shutdown() }
        let answer = await api.readInventory(range: Self.range, token: testToken)
        guard case let .couldNotTell(why) = answer else {
            Issue.record("read something from an unreadable answer: \(answer)")
            return
        }
        #expect(!why.contains("tok-SECRET"))
    }

    /// Hostile values are not taken for order ids or statuses; an order id that cannot be one
    /// makes the answer unreadable rather than "no order".
    @Test func hostileValuesAreNotTaken() async throws {
        let huge = String(repeating: "9", count: 100_000)
        let body = #"[{"number":"+442081324758","status":"Free\u001b[2J","orderId":\#(huge)},{"number":"+442081324759","status":"Free","orderId":-1.5e999}]"#
        let (server, api, transport) = try Self.serve { _ in .json(200, body) }
        defer { server.stop(); transport.shutdown() }
        // An order named in a way that cannot be an order id: the answer cannot be trusted.
        guard case .couldNotTell = await api.readInventory(range: Self.range, token: testToken) else {
            Issue.record("an unreadable order id was taken for no order")
            return
        }
        let statusOnly = #"[{"number":"+442081324758","status":"Free\u001b[2J"},{"number":"+442081324759","status":"Free"}]"#
        let (other, otherAPI, otherTransport) = try Self.serve { _ in .json(200, statusOnly) }
        defer { other.stop(); otherTransport.shutdown() }
        guard case let .read(inventory) = await otherAPI.readInventory(range: Self.range, token: testToken) else {
            Issue.record("could not tell")
            return
        }
        #expect(inventory[0].status == nil, "a status with control characters is no status")
    }

    /// TMF paging: X-Total-Count, a total in the body, or a full page; an answer that ignores
    /// `offset` ends the reading instead of looping.
    @Test(arguments: ["header", "body", "full pages", "ignores offset"])
    func followsPaging(style: String) async throws {
        let range = try NumberRange(start: "+442081300000", end: "+442081302499")
        let (server, api, transport) = try Self.serve { request in
            let query = Dictionary(uniqueKeysWithValues: request.target.split(separator: "?").last!.split(separator: "&").map {
                let pair = $0.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), String(pair.count > 1 ? pair[1] : ""))
            })
            let offset = style == "ignores offset" ? 0 : Int(query["offset"] ?? "0")!
            let limit = Int(query["limit"] ?? "1000")!
            let items = (offset..<min(offset + limit, 2500)).map { #"{"number":"+44208130\#(String(format: "%04d", $0))","resourceStatus":"Activated"}"# }
            let list = "[" + items.joined(separator: ",") + "]"
            switch style {
            case "header": return .json(200, list, headers: [("X-Total-Count", "2500")])
            case "body": return .json(200, #"{"totalCount":2500,"numbers":\#(list)}"#)
            default: return .json(200, list)
            }
        }
        defer { server.stop(); transport.shutdown() }
        guard case let .read(inventory) = await api.readInventory(range: range, token: testToken) else {
            Issue.record("could not tell")
            return
        }
        if style == "ignores offset" {
            #expect(inventory.answered == 1000, "one page, then the repeat ends it")
            #expect(server.requests.count == 2)
        } else {
            #expect(inventory.answered == 2500)
            #expect(inventory.pages == 3)
            #expect(inventory.runs.count == 1, "one run: the whole range shows the same")
        }
    }

    /// A range of 10,000 numbers is read page by page into a few bytes per number.
    @Test func tenThousandNumbers() async throws {
        let range = try NumberRange(start: "+442081320000", end: "+442081329999")
        let (server, api, transport) = try Self.serve { request in
            let offset = Int(request.target.split(separator: "offset=").last!.split(separator: "&").first!)!
            let items = (offset..<min(offset + 1000, 10_000)).map {
                #"{"number":"+44208132\#(String(format: "%04d", $0))","resourceStatus":"\#($0 == 7 ? "Activated" : "Quarantined")"}"#
            }
            return .json(200, "[" + items.joined(separator: ",") + "]", headers: [("X-Total-Count", "10000")])
        }
        defer { server.stop(); transport.shutdown() }
        guard case let .read(inventory) = await api.readInventory(range: range, token: testToken) else {
            Issue.record("could not tell")
            return
        }
        #expect(inventory.answered == 10_000)
        #expect(inventory.pages == 10)
        #expect(inventory.runs.map(\.first) == ["+442081320000", "+442081320007", "+442081320008"])
        #expect(inventory.statuses.map(\.numbers) == [1, 9999] || inventory.statuses.map(\.numbers) == [9999, 1])
    }

    @Test func aRangeTooLargeIsNotRead() async throws {
        let range = try NumberRange(start: "+442080000000", end: "+442089999999")
        let (server, api, transport) = try Self.serve { _ in .json(200, "[]") }
        defer { server.stop(); transport.shutdown() }
        guard case .couldNotTell = await api.readInventory(range: range, token: testToken) else {
            Issue.record("a 10,000,000-number range was read")
            return
        }
        #expect(server.requests.isEmpty)
    }
}
