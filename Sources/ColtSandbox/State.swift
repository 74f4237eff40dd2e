import Foundation

/// The sandbox's whole mutable world: inventory, orders, tokens, counters, faults.
///
/// Every request is decided by one actor method without suspension, so validation and
/// the status changes of an order are atomic (all-or-nothing) even under concurrency.
actor SandboxState {
    private struct OrderRecord {
        var id: String
        var trackingID: String
        var action: OrderAction
        var country: String
        var serviceProfile: String?
        var ranges: [[String]]
        var numbers: [String]
        var createdAt: Date
        var createdInstant: ContinuousClock.Instant
        var completesAt: ContinuousClock.Instant?
        /// The status each number moves to when the order completes.
        var targets: [(String, NumberStatus)]
        var settled = false

        func isInProgress(at now: ContinuousClock.Instant) -> Bool {
            guard let completesAt else { return true }
            return now < completesAt
        }
    }

    private static let maxNumbersPerOrder = 100_000
    private static let maxNumbersPerQuery = 10_000

    private let clock = ContinuousClock()
    private let clientID: String
    private let clientSecret: String
    private let tokenLifetime: Duration
    private let completionDelay: Duration?
    private let trackingIDMode: TrackingIDMode
    private let numberShape: NumberShape
    private let completionOverrides: [String: NumberStatus]
    private let numberPageLimit: Int
    /// Orders not yet completed whose numbers still have to move, soonest first.
    private var pendingCompletions: [Int] = []
    private let seed: UInt64

    private var inventory: [String: InventoryNumber] = [:]
    private var inventoryOrder: [String] = []
    private var profilesByCountry: [String: Set<String>] = [:]

    private var orderRecords: [OrderRecord] = []
    private var orderIndexByID: [String: Int] = [:]
    private var orderIndexesByNumber: [String: [Int]] = [:]
    private var idGenerator: SeededGenerator
    private var completionGenerator: SeededGenerator

    private var tokens: [String: ContinuousClock.Instant] = [:]
    private var tokensIssued = 0

    private var faultRules: [FaultRule] = []
    private var faultMatched: [Int] = []
    private var faultFired: [Int] = []
    private var faultGenerator: SeededGenerator
    private var faultsFiredByKind: [String: Int] = [:]

    private var requestCounts: [String: Int] = [:]
    private var trackingIDsByPath: [String: [String]] = [:]
    private var replayCache: [ColtEndpoint: [String: SandboxReply]] = [:]
    private var replayedRequests = 0
    private var inProgressRefusals = 0

    init(configuration: SandboxConfiguration) {
        self.clientID = configuration.clientID
        self.clientSecret = configuration.clientSecret
        self.tokenLifetime = configuration.tokenLifetime
        self.completionDelay = configuration.completionDelay
        self.trackingIDMode = configuration.trackingIDMode
        self.numberShape = configuration.numberShape
        self.completionOverrides = configuration.completionOverrides
        self.numberPageLimit = max(1, configuration.numberPageLimit)
        self.seed = configuration.seed
        self.idGenerator = SeededGenerator(seed: configuration.seed)
        self.completionGenerator = SeededGenerator(seed: configuration.seed ^ 0xC0_4D_1E_7E)
        self.faultGenerator = SeededGenerator(seed: configuration.seed ^ 0xFA17_FA17_FA17_FA17)
        for row in configuration.inventory {
            if self.inventory.updateValue(row, forKey: row.number) == nil {
                self.inventoryOrder.append(row.number)
            }
        }
        for row in self.inventory.values {
            if let profile = row.serviceProfile {
                self.profilesByCountry[row.country, default: []].insert(profile)
            }
        }
        self.faultRules = configuration.faults
        self.faultMatched = Array(repeating: 0, count: configuration.faults.count)
        self.faultFired = Array(repeating: 0, count: configuration.faults.count)
    }

    // MARK: Request bookkeeping and faults

    func recordRequest(path: String, trackingID: String?) {
        self.requestCounts[path, default: 0] += 1
        if let trackingID { self.trackingIDsByPath[path, default: []].append(trackingID) }
    }

    func requestCount(path: String) -> Int { self.requestCounts[path] ?? 0 }

    func receivedTrackingIDs(path: String) -> [String] { self.trackingIDsByPath[path] ?? [] }

    func setFaults(_ rules: [FaultRule]) { self.installFaults(rules) }

    func currentFaults() -> [FaultRule] { self.faultRules }

    private func installFaults(_ rules: [FaultRule]) {
        self.faultRules = rules
        self.faultMatched = Array(repeating: 0, count: rules.count)
        self.faultFired = Array(repeating: 0, count: rules.count)
        self.faultGenerator = SeededGenerator(seed: self.seed ^ 0xFA17_FA17_FA17_FA17)
    }

    /// Decides the faults of one request: total latency, and the fault (if any) that shapes the answer.
    func drawFaults(for endpoint: ColtEndpoint) -> (latencyMS: Int, fault: FaultRule?) {
        var latency = 0
        var chosen: FaultRule?
        for index in self.faultRules.indices {
            let rule = self.faultRules[index]
            guard rule.applies(to: endpoint) else { continue }
            if rule.kind != .latency, chosen != nil { continue }
            self.faultMatched[index] += 1
            if let after = rule.after, self.faultMatched[index] <= after { continue }
            if let times = rule.times, self.faultFired[index] >= times { continue }
            if let probability = rule.probability, self.faultGenerator.nextUnit() >= probability { continue }
            self.faultFired[index] += 1
            self.faultsFiredByKind[rule.kind.rawValue, default: 0] += 1
            if rule.kind == .latency {
                latency += rule.ms ?? 0
            } else {
                chosen = rule
            }
        }
        return (latency, chosen)
    }

    // MARK: Tokens

    func expireTokens() { self.tokens.removeAll() }

    func issueToken(trackingID: String?, authorization: String?, contentType: String?, body: [UInt8]) -> SandboxReply {
        guard let trackingID, ColtRules.isValidTrackingID(trackingID) else {
            return .error(400, "004", "Invalid tracking id",
                          "Header x-tracking-id is mandatory and must match ^[a-zA-Z0-9_.~:@-]{1,255}$")
        }
        guard let authorization, !authorization.isEmpty else {
            return .error(400, "001", "Missing authorization", "HTTP Basic client authentication is required")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic" else {
            return .error(401, "002", "Unauthorized", "Only HTTP Basic client authentication is supported",
                          headers: ["WWW-Authenticate": "Basic realm=\"colt\""])
        }
        guard let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
              let credentials = String(data: decoded, encoding: .utf8),
              let colon = credentials.firstIndex(of: ":"),
              credentials[..<colon] == self.clientID,
              credentials[credentials.index(after: colon)...] == self.clientSecret
        else {
            return .error(401, "001", "Unauthorized", "Invalid client credentials",
                          headers: ["WWW-Authenticate": "Basic realm=\"colt\""])
        }
        guard ColtRules.contentType(contentType, is: "application/x-www-form-urlencoded") else {
            return .error(415, "003", "Unsupported media type",
                          "Content-Type must be application/x-www-form-urlencoded")
        }
        let form = Self.parseForm(body)
        guard let grantType = form["grant_type"], !grantType.isEmpty else {
            return .error(400, "002", "Missing grant type", "Form parameter grant_type is mandatory")
        }
        guard grantType == "client_credentials" else {
            return .error(400, "006", "Unsupported grant type", "grant_type \(grantType) is not supported; use client_credentials")
        }
        let now = self.clock.now
        if self.tokens.count > 10_000 { self.tokens = self.tokens.filter { $0.value > now } }
        let token = self.makeJWT()
        self.tokens[token] = now + self.tokenLifetime
        self.tokensIssued += 1
        struct TokenBody: Encodable {
            var access_token: String
            var token_type: String
            var expires_in: Int
        }
        return .json(200, TokenBody(access_token: token, token_type: "Bearer",
                                    expires_in: Int(self.tokenLifetime.components.seconds)),
                     headers: ["Cache-Control": "no-store"])
    }

    private func makeJWT() -> String {
        var random = SystemRandomNumberGenerator()
        let iat = Int(Date().timeIntervalSince1970)
        let jti = (0..<2).map { _ in String(random.next(), radix: 16) }.joined()
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        let payload = #"{"iss":"colt-sandbox","aud":"colt-api","iat":\#(iat),"exp":\#(iat + Int(self.tokenLifetime.components.seconds)),"jti":"\#(jti)"}"#
        let signature = (0..<4).flatMap { _ in withUnsafeBytes(of: random.next()) { Array($0) } }
        return [Data(header.utf8), Data(payload.utf8), Data(signature)].map(Self.base64URL).joined(separator: ".")
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func parseForm(_ body: [UInt8]) -> [String: String] {
        let text = String(decoding: body, as: UTF8.self)
        var result: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let plus = s.replacingOccurrences(of: "+", with: " ")
                return plus.removingPercentEncoding ?? plus
            }
            let key = decode(kv[0])
            if result[key] == nil { result[key] = kv.count > 1 ? decode(kv[1]) : "" }
        }
        return result
    }

    /// `nil` if the `Authorization` header carries a valid, unexpired bearer token, else the 401.
    private func bearerProblem(_ authorization: String?) -> SandboxReply? {
        let challenge = ["WWW-Authenticate": "Bearer realm=\"colt\""]
        guard let authorization else {
            return .error(401, "001", "Unauthorized", "Missing bearer token", headers: challenge)
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .error(401, "001", "Unauthorized", "Missing bearer token", headers: challenge)
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard let expiry = self.tokens[token], self.clock.now < expiry else {
            return .error(401, "002", "Unauthorized", "Invalid or expired access token",
                          headers: ["WWW-Authenticate": "Bearer realm=\"colt\", error=\"invalid_token\""])
        }
        return nil
    }

    // MARK: Orders

    /// Moves the numbers of every order whose completion time has passed to their new status.
    private func settleCompletions(now: ContinuousClock.Instant) {
        while let index = self.pendingCompletions.first, let at = self.orderRecords[index].completesAt, at <= now {
            self.pendingCompletions.removeFirst()
            for (number, target) in self.orderRecords[index].targets { self.inventory[number]?.status = target }
            self.orderRecords[index].settled = true
            self.orderRecords[index].targets = []
        }
    }

    /// The delay after which an order completes: the configured delay scaled by a seeded draw
    /// in 0.5...1.5, and three times longer for NL 088 numbers (three working days at Colt).
    private func completionTime(numbers: [String], country: String, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let delay = self.completionDelay else { return nil }
        var scaled = delay * (0.5 + self.completionGenerator.nextUnit())
        if numbers.contains(where: { ColtRules.isNL088($0, country: country) }) { scaled = scaled * 3 }
        return now + scaled
    }

    func submitOrder(endpoint: ColtEndpoint, trackingID: String?, authorization: String?,
                     contentType: String?, body: [UInt8]) -> SandboxReply {
        guard let action = endpoint.action else { return .error(404, "404", "Not Found", "Not an order endpoint") }
        if let problem = self.bearerProblem(authorization) { return problem }
        guard let trackingID, ColtRules.isValidTrackingID(trackingID) else {
            return .error(400, "004", "Invalid tracking id",
                          "Header x-tracking-id is mandatory and must match ^[a-zA-Z0-9_.~:@-]{1,255}$")
        }
        if self.trackingIDMode == .replay, var first = self.replayCache[endpoint]?[trackingID] {
            self.replayedRequests += 1
            first.headers["X-Sandbox-Replayed"] = "true"
            return first
        }
        let reply = self.validateAndApply(action: action, trackingID: trackingID, contentType: contentType, body: body)
        if self.trackingIDMode == .replay {
            self.replayCache[endpoint, default: [:]][trackingID] = reply
        }
        return reply
    }

    private func validateAndApply(action: OrderAction, trackingID: String, contentType: String?, body: [UInt8]) -> SandboxReply {
        guard ColtRules.contentType(contentType, is: "application/json") else {
            return .error(415, "003", "Unsupported media type", "Content-Type must be application/json")
        }
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            return .error(400, "007", "Malformed request", "The request body is not valid JSON")
        }
        guard case .object = json else {
            return .error(400, "007", "Malformed request", "The request body must be a JSON object")
        }

        // Field validation, collecting every problem.
        var problems: [(field: String, issue: String)] = []
        var ranges: [(String, String)] = []
        switch json["numberRangeList"] {
        case nil:
            problems.append(("numberRangeList", "is mandatory"))
        case .array(let list)?:
            if list.isEmpty { problems.append(("numberRangeList", "must not be empty")) }
            for (i, item) in list.enumerated() {
                let base = "numberRangeList[\(i)]"
                guard case .object = item else {
                    problems.append((base, "must be an object, not \(item.typeName)"))
                    continue
                }
                var ends: [String] = []
                for key in ["numberRangeStart", "numberRangeEnd"] {
                    let field = "\(base).\(key)"
                    switch item[key] {
                    case nil: problems.append((field, "is mandatory"))
                    case .string(let value)?:
                        if ColtRules.isE164(value) {
                            ends.append(value)
                        } else {
                            problems.append((field, "'\(value)' is not an E.164 number (pattern ^[+]{1}[1-9]{1}[0-9]*$, length 6 to 16)"))
                        }
                    case let other?: problems.append((field, "must be a string, not \(other.typeName)"))
                    }
                }
                if ends.count == 2 {
                    if ends[0].count != ends[1].count {
                        problems.append((base, "numberRangeStart \(ends[0]) and numberRangeEnd \(ends[1]) differ in length"))
                    } else if ends[1] < ends[0] {
                        problems.append((base, "numberRangeEnd \(ends[1]) is before numberRangeStart \(ends[0])"))
                    } else {
                        ranges.append((ends[0], ends[1]))
                    }
                }
            }
        case let other?:
            problems.append(("numberRangeList", "must be an array, not \(other.typeName)"))
        }
        switch json["productOffering"] {
        case nil: problems.append(("productOffering", "is mandatory"))
        case .object?:
            switch json["productOffering"]?["name"] {
            case nil: problems.append(("productOffering.name", "is mandatory"))
            case .string("Wholesale SIP")?: break
            case .string(let name)?: problems.append(("productOffering.name", "'\(name)' is not supported; must be 'Wholesale SIP'"))
            case let other?: problems.append(("productOffering.name", "must be a string, not \(other.typeName)"))
            }
        case let other?: problems.append(("productOffering", "must be an object, not \(other.typeName)"))
        }
        var country: String?
        var serviceProfile: String?
        switch json["relatedParty"] {
        case nil: problems.append(("relatedParty", "is mandatory"))
        case .object?:
            let reseller = json["relatedParty"]?["reseller"]
            switch reseller {
            case nil: problems.append(("relatedParty.reseller", "is mandatory"))
            case .object?:
                switch reseller?["country"] {
                case nil: problems.append(("relatedParty.reseller.country", "is mandatory"))
                case .string(let value)?:
                    if ColtRules.countrySet.contains(value) {
                        country = value
                    } else {
                        problems.append(("relatedParty.reseller.country", "'\(value)' is not one of \(ColtRules.countries.joined(separator: ", "))"))
                    }
                case let other?: problems.append(("relatedParty.reseller.country", "must be a string, not \(other.typeName)"))
                }
                switch reseller?["serviceProfile"] {
                case nil: break
                case .string(let value)?:
                    if value.isEmpty {
                        problems.append(("relatedParty.reseller.serviceProfile", "must not be empty (omit the key instead)"))
                    } else {
                        serviceProfile = value
                    }
                case .null?: problems.append(("relatedParty.reseller.serviceProfile", "must not be null (omit the key instead)"))
                case let other?: problems.append(("relatedParty.reseller.serviceProfile", "must be a string, not \(other.typeName)"))
                }
            case let other?: problems.append(("relatedParty.reseller", "must be an object, not \(other.typeName)"))
            }
        case let other?: problems.append(("relatedParty", "must be an object, not \(other.typeName)"))
        }
        if let first = problems.first {
            return .error(400, "005", "Invalid parameter", "\(first.field) \(first.issue)",
                          details: .array(problems.map { .object(["field": .string($0.field), "issue": .string($0.issue)]) }))
        }
        guard let country else { return .error(500, "001", "Internal error", "country missing after validation") }

        let profiles = self.profilesByCountry[country] ?? []
        if serviceProfile == nil, profiles.count > 1 {
            return .error(400, "008", "Invalid parameter",
                          "relatedParty.reseller.serviceProfile is mandatory: the customer has \(profiles.count) service profiles in \(country)",
                          details: .object(["country": .string(country),
                                            "serviceProfiles": .array(profiles.sorted().map { .string($0) })]))
        }

        // Expand the ranges.
        var numbers: [String] = []
        var seen = Set<String>()
        for (start, end) in ranges {
            guard let expanded = ColtRules.expand(start: start, end: end, limit: Self.maxNumbersPerOrder - numbers.count) else {
                return .error(400, "005", "Invalid parameter",
                              "The order holds more than \(Self.maxNumbersPerOrder) numbers")
            }
            for number in expanded where !seen.insert(number).inserted {
                return .error(400, "005", "Invalid parameter", "Number \(number) appears in more than one range")
            }
            numbers.append(contentsOf: expanded)
        }

        // Per-number checks; nothing changes unless every number passes.
        let now = self.clock.now
        self.settleCompletions(now: now)
        var notFound: [String] = []
        var wrongOwner: [InventoryNumber] = []
        var busy: [(String, OrderRecord)] = []
        var wrongState: [InventoryNumber] = []
        var targets: [(String, NumberStatus)] = []
        for number in numbers {
            guard let row = self.inventory[number] else { notFound.append(number); continue }
            if row.country != country || (serviceProfile != nil && row.serviceProfile != serviceProfile) {
                wrongOwner.append(row)
                continue
            }
            if let last = self.orderIndexesByNumber[number]?.last, self.orderRecords[last].isInProgress(at: now) {
                busy.append((number, self.orderRecords[last]))
                continue
            }
            if let target = ColtRules.target(of: action, from: row.status, country: country, number: number) {
                targets.append((number, target))
            } else {
                wrongState.append(row)
            }
        }
        func more(_ count: Int) -> String { count > 1 ? " (and \(count - 1) more)" : "" }
        func list(_ items: [[String: JSONValue]]) -> JSONValue {
            .object(["numbers": .array(items.prefix(100).map { .object($0) })])
        }
        if let first = notFound.first {
            return .error(404, "010", "Number not found",
                          "Number \(first) is not in your inventory\(more(notFound.count))",
                          details: list(notFound.map { ["number": .string($0)] }))
        }
        if let first = wrongOwner.first {
            let wanted = serviceProfile.map { "\(country)/\($0)" } ?? country
            return .error(400, "011", "Invalid number",
                          "Number \(first.number) does not belong to your inventory for \(wanted)\(more(wrongOwner.count))",
                          details: list(wrongOwner.map { row in
                              var item: [String: JSONValue] = ["number": .string(row.number), "country": .string(row.country)]
                              if let p = row.serviceProfile { item["serviceProfile"] = .string(p) }
                              return item
                          }))
        }
        if let (number, order) = busy.first {
            self.inProgressRefusals += 1
            return .error(409, "013", "Order in progress",
                          "Number \(number) already has order \(order.id) In progress\(more(busy.count))",
                          details: list(busy.map { ["number": .string($0.0), "orderId": .string($0.1.id),
                                                    "trackingId": .string($0.1.trackingID)] }))
        }
        if let first = wrongState.first {
            return .error(400, "012", "Invalid number status",
                          "Number \(first.number) is \(first.status.rawValue): a \(action.rawValue) order does not accept it in \(country)\(more(wrongState.count))",
                          details: list(wrongState.map { ["number": .string($0.number), "status": .string($0.status.rawValue)] }))
        }

        // Accept: create the order; the numbers move to their new status when it completes.
        var id: String
        repeat {
            id = "ORD-" + String(format: "%08d", Int(self.idGenerator.next() % 100_000_000))
        } while self.orderIndexByID[id] != nil
        let record = OrderRecord(
            id: id, trackingID: trackingID, action: action, country: country, serviceProfile: serviceProfile,
            ranges: ranges.map { [$0.0, $0.1] }, numbers: numbers, createdAt: Date(), createdInstant: now,
            completesAt: self.completionTime(numbers: numbers, country: country, now: now),
            targets: targets.map { ($0.0, self.completionOverrides[$0.0] ?? $0.1) }
        )
        let index = self.orderRecords.count
        self.orderRecords.append(record)
        self.orderIndexByID[id] = index
        for (number, _) in targets {
            self.orderIndexesByNumber[number, default: []].append(index)
        }
        if let completesAt = record.completesAt {
            var low = 0, high = self.pendingCompletions.count
            while low < high {
                let mid = (low + high) / 2
                if self.orderRecords[self.pendingCompletions[mid]].completesAt! > completesAt { high = mid } else { low = mid + 1 }
            }
            self.pendingCompletions.insert(index, at: low)
            self.settleCompletions(now: now)
        }
        struct Created: Encodable { struct Order: Encodable { var id: String }; var order: Order }
        return .json(201, Created(order: .init(id: id)))
    }

    // MARK: Number search

    func queryNumbers(authorization: String?, start: String?, end: String?, orderID: String?, offset: Int?, limit: Int?) -> SandboxReply {
        if let problem = self.bearerProblem(authorization) { return problem }
        let now = self.clock.now
        self.settleCompletions(now: now)
        var numbers: [String]
        if let orderID {
            guard let index = self.orderIndexByID[orderID] else {
                return .error(404, "010", "Order not found", "Order \(orderID) is unknown")
            }
            let record = self.orderRecords[index]
            // The minimal shape names an order only while it runs: afterwards no number carries it.
            numbers = self.numberShape == .minimal && !record.isInProgress(at: now) ? [] : record.numbers
        } else {
            guard let start else {
                return .error(400, "005", "Invalid parameter", "numberRangeStart or orderID is mandatory")
            }
            let end = end ?? start
            guard ColtRules.isE164(start), ColtRules.isE164(end) else {
                return .error(400, "005", "Invalid parameter", "numberRangeStart and numberRangeEnd must be E.164 numbers")
            }
            guard start.count == end.count, end >= start else {
                return .error(400, "005", "Invalid parameter", "numberRangeEnd must not be before numberRangeStart and must have the same length")
            }
            guard let expanded = ColtRules.expand(start: start, end: end, limit: Self.maxNumbersPerQuery) else {
                return .error(400, "005", "Invalid parameter", "A search covers at most \(Self.maxNumbersPerQuery) numbers")
            }
            numbers = expanded.filter { self.inventory[$0] != nil }
        }
        let total = numbers.count
        let first = min(max(0, offset ?? 0), total)
        let count = min(max(0, limit ?? self.numberPageLimit), self.numberPageLimit, total - first)
        let page = numbers[first..<(first + count)]
        let headers = ["X-Total-Count": String(total), "X-Result-Count": String(count)]
        switch self.numberShape {
        case .minimal:
            let items: [MinimalNumberView] = page.compactMap { number in
                guard let row = self.inventory[number] else { return nil }
                let running = self.orderIndexesByNumber[number]?.last.map { self.orderRecords[$0] }.flatMap { $0.isInProgress(at: now) ? $0.id : nil }
                return MinimalNumberView(number: number, resourceStatus: row.status.rawValue, orderId: running)
            }
            return .json(200, items, headers: headers)
        case .rich:
            let views: [NumberView] = page.compactMap { number in
                guard let row = self.inventory[number] else { return nil }
                let refs = (self.orderIndexesByNumber[number] ?? []).map { index -> NumberView.OrderRef in
                    let record = self.orderRecords[index]
                    return .init(id: record.id, trackingId: record.trackingID, type: record.action.rawValue,
                                 status: record.isInProgress(at: now) ? "In progress" : "Completed",
                                 createdAt: record.createdAt)
                }
                return NumberView(number: number, status: row.status.rawValue, country: row.country,
                                  serviceProfile: row.serviceProfile, lastOrder: refs.last, orders: refs)
            }
            struct Body: Encodable { var numbers: [NumberView]; var totalCount: Int }
            return .json(200, Body(numbers: views, totalCount: total), headers: headers)
        }
    }

    // MARK: Inspection

    private func publicOrder(_ record: OrderRecord, now: ContinuousClock.Instant) -> SandboxOrder {
        SandboxOrder(id: record.id, trackingID: record.trackingID, action: record.action.rawValue,
                     country: record.country, serviceProfile: record.serviceProfile, ranges: record.ranges,
                     status: record.isInProgress(at: now) ? "In progress" : "Completed", createdAt: record.createdAt)
    }

    func orders() -> [SandboxOrder] {
        let now = self.clock.now
        return self.orderRecords.map { self.publicOrder($0, now: now) }
    }

    func orders(forTrackingID trackingID: String) -> [SandboxOrder] {
        let now = self.clock.now
        return self.orderRecords.filter { $0.trackingID == trackingID }.map { self.publicOrder($0, now: now) }
    }

    func orders(forNumber number: String) -> [SandboxOrder] {
        let now = self.clock.now
        return (self.orderIndexesByNumber[number] ?? []).map { self.publicOrder(self.orderRecords[$0], now: now) }
    }

    func status(of number: String) -> NumberStatus? {
        self.settleCompletions(now: self.clock.now)
        return self.inventory[number]?.status
    }

    func inventorySnapshot() -> [InventoryNumber] {
        self.settleCompletions(now: self.clock.now)
        return self.inventoryOrder.compactMap { self.inventory[$0] }
    }

    func stats() -> SandboxStats {
        let now = self.clock.now
        var duplicates = 0
        for indexes in self.orderIndexesByNumber.values where indexes.count > 1 {
            let overlapping = zip(indexes, indexes.dropFirst()).contains { earlier, later in
                self.orderRecords[earlier].isInProgress(at: self.orderRecords[later].createdInstant)
            }
            if overlapping { duplicates += 1 }
        }
        return SandboxStats(
            requests: self.requestCounts,
            orders: self.orderRecords.count,
            ordersInProgress: self.orderRecords.filter { $0.isInProgress(at: now) }.count,
            duplicateOrders: duplicates,
            replayedRequests: self.replayedRequests,
            inProgressRefusals: self.inProgressRefusals,
            tokensIssued: self.tokensIssued,
            faultsFired: self.faultsFiredByKind
        )
    }
}
