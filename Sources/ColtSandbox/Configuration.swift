import Foundation

/// Everything that shapes one run of the Colt API simulator.
///
/// The defaults describe a plain-HTTP sandbox on a free loopback port, with the demo
/// inventory, no faults, 30-minute tokens, orders that stay `In progress` forever and
/// tracking-id replay enabled.
public struct SandboxConfiguration: Sendable {
    /// Address to bind. Defaults to the IPv4 loopback address.
    public var host: String = "127.0.0.1"
    /// TCP port to bind; `0` picks any free port (read it back from ``ColtSandbox/port``).
    public var port: Int = 0
    /// The only OAuth client id the token endpoint accepts.
    public var clientID: String = "sandbox-client"
    /// The secret that goes with ``clientID``. Never logged.
    public var clientSecret: String = "sandbox-secret"
    /// How long an issued access token stays valid (`expires_in` is this, in whole seconds).
    public var tokenLifetime: Duration = .seconds(1800)
    /// About how long an accepted order stays `In progress` before it completes and its
    /// numbers move to their new status: each order draws from half to one and a half times
    /// this (seeded by ``seed``), three times longer for NL 088 numbers. `nil` keeps every order
    /// `In progress` (and its numbers where they were) forever.
    public var completionDelay: Duration? = nil
    /// Numbers that end in the given status when an order on them completes, instead of the one
    /// the seeds' tables give: a Colt that surprises, for tests of the daemon's flags.
    public var completionOverrides: [String: NumberStatus] = [:]
    /// How `GET /numberManagement/v1/Number` answers; see ``NumberShape``.
    public var numberShape: NumberShape = .rich
    /// The most numbers one page of `GET /numberManagement/v1/Number` holds (`limit` is capped to it).
    public var numberPageLimit: Int = 1000
    /// What a repeated `x-tracking-id` on an order endpoint does; see ``TrackingIDMode``.
    public var trackingIDMode: TrackingIDMode = .replay
    /// Seed of the generators behind order ids and probabilistic faults (runs are reproducible).
    public var seed: UInt64 = 1
    /// Fault-injection rules, evaluated in order for every request; see ``FaultRule``.
    public var faults: [FaultRule] = []
    /// The numbers the simulated customer owns, with their starting statuses.
    public var inventory: [InventoryNumber] = InventoryNumber.demo

    /// A configuration with every default.
    public init() {}
}

/// How an order endpoint treats an `x-tracking-id` it has already seen.
///
/// Colt has not said whether it de-duplicates tracking ids, so the sandbox can play both.
public enum TrackingIDMode: String, Sendable, CaseIterable, Codable {
    /// A repeated tracking id on the same order endpoint answers the first answer again
    /// (same status and body) and creates nothing.
    case replay
    /// A repeated tracking id is processed as a brand-new request (so it is usually refused
    /// by the number state machine, because the numbers have already moved).
    case ignore
}

/// The shape of the sandbox's `GET /numberManagement/v1/Number` answer. Colt has not published
/// one, so the daemon must read either.
public enum NumberShape: String, Sendable, CaseIterable, Codable {
    /// `{"numbers":[{"number","status","country","serviceProfile","lastOrder":{"id","trackingId",
    /// "type","status","createdAt"},"orders":[...]}],"totalCount":N}`: every detail, tracking ids included.
    case rich
    /// A bare array of `{"number","resourceStatus","orderId"}`, `orderId` only while the order
    /// runs: no tracking id, no order status, nothing Colt has not published.
    case minimal
}
