import Foundation

/// A number's status in Colt's number inventory (the spellings are Colt's).
public enum NumberStatus: String, Sendable, Codable, CaseIterable {
    /// Not held by the customer.
    case free = "Free"
    /// Reserved by the customer, not yet activated.
    case reserved = "Reserved"
    /// Colt number in service.
    case activated = "Activated"
    /// Colt number deactivated, in its quarantine period (can be reactivated).
    case quarantined = "Quarantined"
    /// Ported-in number in service.
    case portInActivated = "PortIn_Activated"
    /// Ported-in number deactivated, in quarantine (reactivatable in some countries).
    case portInQuarantined = "PortIn_Quarantined"
    /// Given back to the range holder for good.
    case returned = "Returned"
}

/// One number of the simulated customer's inventory.
///
/// JSON form (also what `colt-orders sandbox --inventory FILE` reads, as an array):
/// `{"number":"+442081324758","country":"GB","serviceProfile":"ANH","status":"Activated"}`
/// (`serviceProfile` may be omitted).
public struct InventoryNumber: Sendable, Codable, Equatable, Hashable {
    /// The E.164 number, `+` included.
    public var number: String
    /// The Colt country code the number belongs to (GB, DE, ...).
    public var country: String
    /// The customer's service profile the number is attached to, if any.
    public var serviceProfile: String?
    /// The number's current status.
    public var status: NumberStatus

    /// Creates an inventory row.
    public init(number: String, country: String, serviceProfile: String? = nil, status: NumberStatus) {
        self.number = number
        self.country = country
        self.serviceProfile = serviceProfile
        self.status = status
    }

    /// A small, realistic inventory with a number in every interesting state.
    ///
    /// | number(s) | country | profile | status | what it exercises |
    /// |---|---|---|---|---|
    /// | +442081324758, +442081324759 | GB | ANH | Activated | the seed documents' examples (return) |
    /// | +442081324760 … +442081324769 | GB | ANH | Activated | a 10-number range |
    /// | +442081324770 | GB | ANH | Reserved | return → Free |
    /// | +442081324771 | GB | ANH | PortIn_Activated | return → Returned (GB group) |
    /// | +442081324772 | GB | ANH | Quarantined | reactivate → Activated |
    /// | +442081324773 | GB | ANH | PortIn_Quarantined | reactivate refused in GB |
    /// | +33140000001 | FR | PARIS1 | PortIn_Activated | return → PortIn_Quarantined (FR group) |
    /// | +33140000002 | FR | PARIS1 | PortIn_Quarantined | reactivate → PortIn_Activated |
    /// | +33478000001 | FR | LYON2 | Activated | FR has two profiles: serviceProfile is mandatory |
    /// | +496930000001 | DE | FRA | Quarantined | reactivate → Activated |
    /// | +496930000002 | DE | FRA | PortIn_Quarantined | reactivate allowed in DE |
    /// | +31882000001, +31882000002 | NL | AMS | Activated | NL 088: return → Returned |
    /// | +31201234567 | NL | AMS | PortIn_Activated | return → PortIn_Quarantined |
    /// | +420222000001 | CZ | PRG | PortIn_Activated | Zone B: return → Returned |
    /// | +420222000002 | CZ | PRG | Reserved | Zone B: return → Free |
    /// | +34910000001 | ES | MAD | PortIn_Activated | return → PortIn_Quarantined |
    public static var demo: [InventoryNumber] {
        var rows: [InventoryNumber] = []
        func add(_ number: String, _ country: String, _ profile: String?, _ status: NumberStatus) {
            rows.append(InventoryNumber(number: number, country: country, serviceProfile: profile, status: status))
        }
        add("+442081324758", "GB", "ANH", .activated)
        add("+442081324759", "GB", "ANH", .activated)
        for suffix in 60...69 { add("+4420813247\(suffix)", "GB", "ANH", .activated) }
        add("+442081324770", "GB", "ANH", .reserved)
        add("+442081324771", "GB", "ANH", .portInActivated)
        add("+442081324772", "GB", "ANH", .quarantined)
        add("+442081324773", "GB", "ANH", .portInQuarantined)
        add("+33140000001", "FR", "PARIS1", .portInActivated)
        add("+33140000002", "FR", "PARIS1", .portInQuarantined)
        add("+33478000001", "FR", "LYON2", .activated)
        add("+496930000001", "DE", "FRA", .quarantined)
        add("+496930000002", "DE", "FRA", .portInQuarantined)
        add("+31882000001", "NL", "AMS", .activated)
        add("+31882000002", "NL", "AMS", .activated)
        add("+31201234567", "NL", "AMS", .portInActivated)
        add("+420222000001", "CZ", "PRG", .portInActivated)
        add("+420222000002", "CZ", "PRG", .reserved)
        add("+34910000001", "ES", "MAD", .portInActivated)
        return rows
    }

    /// `count` distinct, `Activated` London numbers (`+44207` and seven digits, country GB),
    /// chosen reproducibly from `seed`; for load tests. `count` is capped at 10,000,000.
    public static func generated(count: Int, seed: UInt64 = 1, serviceProfile: String? = "ANH") -> [InventoryNumber] {
        let space: UInt64 = 10_000_000
        let count = max(0, min(count, Int(space)))
        var generator = SeededGenerator(seed: seed)
        var seen = Set<UInt64>()
        seen.reserveCapacity(count)
        var rows: [InventoryNumber] = []
        rows.reserveCapacity(count)
        // Random picks while the space is sparse, then a sequential sweep fills the rest.
        while rows.count < count, seen.count < Int(space / 2) {
            let value = generator.next() % space
            if seen.insert(value).inserted { rows.append(Self.london(value, serviceProfile)) }
        }
        var value: UInt64 = generator.next() % space
        while rows.count < count {
            if seen.insert(value).inserted { rows.append(Self.london(value, serviceProfile)) }
            value = (value + 1) % space
        }
        return rows
    }

    private static func london(_ value: UInt64, _ profile: String?) -> InventoryNumber {
        let digits = String(value)
        let padded = String(repeating: "0", count: 7 - digits.count) + digits
        return InventoryNumber(number: "+44207" + padded, country: "GB", serviceProfile: profile, status: .activated)
    }
}

/// SplitMix64: small, fast and identical on every platform, so seeded runs are reproducible.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in `[0, 1)`, computed the same way everywhere.
    mutating func nextUnit() -> Double {
        Double(self.next() >> 11) * 0x1.0p-53
    }
}
