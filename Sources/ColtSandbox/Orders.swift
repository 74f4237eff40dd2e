import Foundation

/// An order the sandbox accepted, as the inspection API shows it.
///
/// JSON form (`GET /_sandbox/orders`): `{"id":"ORD-12345678","trackingId":"...","action":"return",
/// "country":"GB","serviceProfile":"ANH","ranges":[["+442081324758","+442081324758"]],
/// "status":"In progress","createdAt":"2026-01-01T12:00:00Z"}`.
public struct SandboxOrder: Sendable, Codable, Equatable {
    /// Order id, `ORD-` and eight digits from the seeded generator.
    public var id: String
    /// The `x-tracking-id` of the request that created the order.
    public var trackingID: String
    /// `"return"` or `"reactivate"`.
    public var action: String
    /// `relatedParty.reseller.country` of the request.
    public var country: String
    /// `relatedParty.reseller.serviceProfile` of the request, if it had one.
    public var serviceProfile: String?
    /// The request's ranges, as `[start, end]` pairs in request order.
    public var ranges: [[String]]
    /// `"In progress"` or `"Completed"` (evaluated when read).
    public var status: String
    /// When the sandbox accepted the order.
    public var createdAt: Date

    /// Creates an order value.
    public init(id: String, trackingID: String, action: String, country: String, serviceProfile: String?,
                ranges: [[String]], status: String, createdAt: Date) {
        self.id = id
        self.trackingID = trackingID
        self.action = action
        self.country = country
        self.serviceProfile = serviceProfile
        self.ranges = ranges
        self.status = status
        self.createdAt = createdAt
    }

    /// The numbers of all ranges, in order.
    public var numbers: [String] {
        self.ranges.flatMap { pair -> [String] in
            guard pair.count == 2 else { return pair }
            return ColtRules.expand(start: pair[0], end: pair[1], limit: 1_000_000) ?? pair
        }
    }

    private enum CodingKeys: String, CodingKey {
        case id, trackingID = "trackingId", action, country, serviceProfile, ranges, status, createdAt
    }
}

/// Counters of one sandbox run (`GET /_sandbox/stats`).
public struct SandboxStats: Sendable, Codable, Equatable {
    /// HTTP requests per path (every Colt endpoint path and unknown paths; not `/_sandbox/`).
    public var requests: [String: Int]
    /// Orders created.
    public var orders: Int
    /// Orders currently `In progress`.
    public var ordersInProgress: Int
    /// Numbers that got an order while an earlier order on them was still `In progress`.
    /// The sandbox refuses such orders, so anything but 0 is a sandbox bug.
    public var duplicateOrders: Int
    /// Order requests answered from the replay cache (repeated `x-tracking-id`, replay mode).
    public var replayedRequests: Int
    /// Order requests refused with 409/013 because a number already had an order in progress.
    public var inProgressRefusals: Int
    /// Access tokens issued.
    public var tokensIssued: Int
    /// Faults fired, per kind.
    public var faultsFired: [String: Int]
    /// Connections currently held open by `hang` faults (released when the client gives up).
    public var heldConnections: Int = 0
}

/// One number in the `GET /numberManagement/v1/Number` answer (the sandbox's own shape;
/// Colt has not published one).
struct NumberView: Codable, Sendable {
    struct OrderRef: Codable, Sendable {
        var id: String
        var trackingId: String
        var type: String
        var status: String
        var createdAt: Date
    }

    var number: String
    var status: String
    var country: String
    var serviceProfile: String?
    /// The most recent order on the number.
    var lastOrder: OrderRef?
    /// Every order on the number, oldest first.
    var orders: [OrderRef]
}

/// One number in the minimal `GET /numberManagement/v1/Number` answer: only what Colt's
/// documents suggest (the seeds' `resourceStatus`), and the order while it runs.
struct MinimalNumberView: Encodable, Sendable {
    var number: String
    var resourceStatus: String
    /// The order in progress on the number; absent once it completed.
    var orderId: String?
}
