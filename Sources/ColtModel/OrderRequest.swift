/// What an operator asks Colt to do with a range of numbers.
public enum OrderAction: String, Sendable, CaseIterable, Codable {
    /// Give numbers back: cancel a reservation, or deactivate an activated or ported-in number.
    case `return`
    /// Bring quarantined numbers back into service for the same end user.
    case reactivate

    /// The API path that places this kind of order.
    public var path: String {
        switch self {
        case .return: "/numberManagement/v1/return/order"
        case .reactivate: "/numberManagement/v1/reactivate/order"
        }
    }
}

/// The 20 countries in which Colt offers Wholesale SIP numbers.
public enum Country: String, Sendable, CaseIterable, Codable {
    case GB, DE, ES, FR, AT, BE, NL, IE, IT, SE, DK, PT, CH, CZ, NO, RO, PL, FI, LU, SK
}

/// A request validated against the API's rules, ready to become an order body.
public struct OrderRequest: Sendable, Equatable {
    public var action: OrderAction
    public var country: Country
    public var range: NumberRange
    /// The reseller's service profile; `nil` when absent (the key is then omitted from the body).
    public var serviceProfile: String?

    public init(action: OrderAction, country: Country, range: NumberRange, serviceProfile: String?) {
        self.action = action
        self.country = country
        self.range = range
        self.serviceProfile = serviceProfile
    }

    /// Validates raw column values, as they come from the database or the command line.
    ///
    /// - Throws: ``ValidationError`` naming the first column that is wrong.
    public init(
        action: String?, country: String?, rangeStart: String?, rangeEnd: String?, serviceProfile: String?
    ) throws(ValidationError) {
        guard let action, let parsedAction = OrderAction(rawValue: action) else {
            throw ValidationError(column: "action", problem: "must be 'return' or 'reactivate', not \(Self.show(action))")
        }
        guard let country, let parsedCountry = Country(rawValue: country) else {
            throw ValidationError(
                column: "country",
                problem: "must be one of \(Country.allCases.map(\.rawValue).joined(separator: " ")), not \(Self.show(country))")
        }
        let range = try NumberRange(start: rangeStart, end: rangeEnd)
        if let serviceProfile {
            guard !serviceProfile.isEmpty, serviceProfile.count <= 64,
                  serviceProfile.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
            else {
                throw ValidationError(
                    column: "service_profile",
                    problem: "must be NULL or 1 to 64 printable characters without spaces, not \(Self.show(serviceProfile))")
            }
        }
        self.init(action: parsedAction, country: parsedCountry, range: range, serviceProfile: serviceProfile)
    }

    static func show(_ value: String?) -> String {
        guard let value else { return "NULL" }
        let shown = value.count > 40 ? String(value.prefix(40)) + "…" : value
        return "'\(shown)'"
    }
}

/// A value that breaks one of the API's rules, with the column (or field) it is in.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The column of the `requests` table (or the command-line field) that is wrong.
    public var column: String
    /// What is wrong and what a valid value looks like.
    public var problem: String

    public init(column: String, problem: String) {
        self.column = column
        self.problem = problem
    }

    public var description: String { "\(column): \(problem)" }
}
