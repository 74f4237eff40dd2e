import Foundation

extension OrderRequest {
    /// The JSON body of the return or reactivate order, exactly as the API specifies it:
    /// one range, `productOffering.name` "Wholesale SIP", and `relatedParty.reseller`
    /// with `country` and, only when present, `serviceProfile` (omitted, never `null`).
    ///
    /// Written out by hand, keys in sorted order as JSONEncoder's `.sortedKeys` would put
    /// them: one body is built per send, and JSONEncoder cost more than the rest of building
    /// the request. ValidationTests compare it with JSONEncoder's bytes.
    public func jsonBody() -> Data {
        var json = #"{"numberRangeList":[{"numberRangeEnd":"#
        JSONString.append(range.end.text, to: &json)
        json += #","numberRangeStart":"#
        JSONString.append(range.start.text, to: &json)
        json += #"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"#
        JSONString.append(country.rawValue, to: &json)
        if let serviceProfile {
            json += #","serviceProfile":"#
            JSONString.append(serviceProfile, to: &json)
        }
        json += "}}}"
        return Data(json.utf8)
    }
}
