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
        Self.appendString(range.end.text, to: &json)
        json += #","numberRangeStart":"#
        Self.appendString(range.start.text, to: &json)
        json += #"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"#
        Self.appendString(country.rawValue, to: &json)
        if let serviceProfile {
            json += #","serviceProfile":"#
            Self.appendString(serviceProfile, to: &json)
        }
        json += "}}}"
        return Data(json.utf8)
    }

    /// `text` as a JSON string literal, as JSONEncoder writes it: quotes, backslashes and control
    /// characters escaped (RFC 8259 section 7), the short forms where JSON has one; everything
    /// else, `/` and non-ASCII included, as it is.
    static func appendString(_ text: String, to json: inout String) {
        json.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case "\u{08}": json += "\\b"
            case "\u{0C}": json += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.utf8.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json.append("\"")
    }
}
