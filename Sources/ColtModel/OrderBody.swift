import Foundation

extension OrderRequest {
    /// The JSON body of the return or reactivate order, exactly as the API specifies it:
    /// one range, `productOffering.name` "Wholesale SIP", and `relatedParty.reseller`
    /// with `country` and, only when present, `serviceProfile`.
    public func jsonBody() -> Data {
        let body = Body(
            numberRangeList: [.init(numberRangeStart: range.start.text, numberRangeEnd: range.end.text)],
            productOffering: .init(name: "Wholesale SIP"),
            relatedParty: .init(reseller: .init(serviceProfile: serviceProfile, country: country.rawValue)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings cannot fail.
        return try! encoder.encode(body)
    }

    private struct Body: Encodable {
        struct Range: Encodable { var numberRangeStart: String; var numberRangeEnd: String }
        struct Offering: Encodable { var name: String }
        struct Reseller: Encodable {
            var serviceProfile: String?
            var country: String
            // Synthesised encoding already omits nil optionals (encodeIfPresent): no `null` is sent.
        }
        struct Party: Encodable { var reseller: Reseller }
        var numberRangeList: [Range]
        var productOffering: Offering
        var relatedParty: Party
    }
}
