import ColtModel
import Foundation
import Testing

@Suite struct ValidationTests {
    @Test(arguments: ["+442081324758", "+12345", "+123456789012345", "+9"+String(repeating: "0", count: 14)])
    func validNumbers(_ text: String) { #expect(E164Number(text) != nil) }

    @Test(arguments: ["442081324758", "+042081324758", "+1234", "+1234567890123456", "++44208", "+44 208132", "+44208a3247", "", "+", "+４４２０８１"])
    func invalidNumbers(_ text: String) { #expect(E164Number(text) == nil) }

    @Test func rangesNameTheColumnThatIsWrong() {
        #expect(throws: ValidationError(column: "range_end", problem: "+442081324757 is before range_start +442081324758")) {
            try NumberRange(start: "+442081324758", end: "+442081324757")
        }
        #expect { try NumberRange(start: "+442081324758", end: "+4420813247580") } throws: { ($0 as? ValidationError)?.column == "range_end" }
        #expect { try NumberRange(start: "44", end: nil) } throws: { ($0 as? ValidationError)?.column == "range_start" }
        #expect { try OrderRequest(action: "return", country: "XX", rangeStart: "+442081324758", rangeEnd: nil, serviceProfile: nil) }
            throws: { ($0 as? ValidationError)?.column == "country" }
        #expect { try OrderRequest(action: "give back", country: "GB", rangeStart: "+442081324758", rangeEnd: nil, serviceProfile: nil) }
            throws: { ($0 as? ValidationError)?.column == "action" }
    }

    @Test func overlap() throws {
        let a = try NumberRange(start: "+442081324700", end: "+442081324799")
        #expect(a.overlaps(try NumberRange(start: "+442081324799", end: nil)))
        #expect(!a.overlaps(try NumberRange(start: "+442081324800", end: nil)))
        #expect(!a.overlaps(try NumberRange(start: "+4420813247500", end: nil)))
    }

    @Test func trackingIDs() {
        #expect(TrackingID("abcd456e-d45645-dfaafda-1232345667dd") != nil)
        #expect(TrackingID("a_b.c~d:e@f-G9") != nil)
        #expect(TrackingID(String(repeating: "x", count: 255)) != nil)
        #expect(TrackingID(String(repeating: "x", count: 256)) == nil)
        #expect(TrackingID("") == nil)
        #expect(TrackingID("a b") == nil)
        #expect(TrackingID("é") == nil)
        let random = TrackingID.random()
        #expect(TrackingID(random.text) == random)
        #expect(TrackingID.random() != random)
    }

    @Test func randomTrackingIDsAreVersion7UUIDsInLowerCase() throws {
        // Times over the whole 48-bit range (to the year 10889), so every hex digit of the time shows up.
        let ids = (0..<2000).map { _ in
            TrackingID.random(now: Date(timeIntervalSince1970: Double(UInt64.random(in: 0..<(1 << 48))) / 1000)).text
        }
        #expect(Set(ids).count == ids.count)
        var seen = [Set<Character>](repeating: [], count: 36)
        for id in ids {
            #expect(id.hasPrefix("co-"))
            let uuid = String(id.dropFirst(3))
            #expect(uuid.count == 36, "\(id)")
            #expect(UUID(uuidString: uuid)?.uuidString.lowercased() == uuid, "\(id) is a UUID in lower case")
            for (index, character) in uuid.enumerated() { seen[index].insert(character) }
        }
        for (index, characters) in seen.enumerated() {
            switch index {
            case 8, 13, 18, 23: #expect(characters == ["-"])
            case 14: #expect(characters == ["7"], "the version digit")
            case 19: #expect(characters == ["8", "9", "a", "b"], "the variant digit")
            default: #expect(characters.count == 16, "every hex digit appears at position \(index), leading zeros included")
            }
        }
    }

    @Test func randomTrackingIDsSortByTheirTimeAndCarryIt() throws {
        let start = Date(timeIntervalSince1970: 1_796_000_000.123)
        let ids = (0..<500).map { TrackingID.random(now: start.addingTimeInterval(Double($0) * 0.002)).text }
        #expect(ids == ids.sorted(), "ids made later sort later: new ids go to the end of an index")
        let sameMillisecond = (0..<500).map { _ in TrackingID.random(now: start).text }
        #expect(Set(sameMillisecond).count == 500, "74 random bits tell ids of one millisecond apart")
        let hex = ids[0].dropFirst(3).filter { $0 != "-" }.prefix(12)
        #expect(UInt64(hex, radix: 16) == 1_796_000_000_123, "the first 48 bits are the Unix time in milliseconds")
        // A clock far off either way gives the nearest time the 48 bits hold, never a trap.
        let late = TrackingID.random(now: Date(timeIntervalSince1970: 1e300)).text.dropFirst(3).filter { $0 != "-" }
        #expect(late.hasPrefix("ffffffffffff7"))
        let early = TrackingID.random(now: Date(timeIntervalSince1970: -1e6)).text.dropFirst(3).filter { $0 != "-" }
        #expect(early.hasPrefix("0000000000007"))
    }

    @Test func theBodyIsExactlyThePublishedShape() throws {
        let request = try OrderRequest(action: "return", country: "GB", rangeStart: "+442081324758", rangeEnd: nil, serviceProfile: "ANH")
        #expect(String(decoding: request.jsonBody(), as: UTF8.self) == #"{"numberRangeList":[{"numberRangeEnd":"+442081324758","numberRangeStart":"+442081324758"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"GB","serviceProfile":"ANH"}}}"#)
        let without = try OrderRequest(action: "reactivate", country: "FR", rangeStart: "+33123456789", rangeEnd: "+33123456790", serviceProfile: nil)
        let text = String(decoding: without.jsonBody(), as: UTF8.self)
        #expect(!text.contains("serviceProfile"), "the key is omitted, never null: \(text)")
        #expect(text.contains(#""numberRangeEnd":"+33123456790""#))
    }

    @Test func theBodyIsWhatJSONEncoderWrites() throws {
        // The body is written by hand; it must be JSONEncoder's bytes (sorted keys, slashes as
        // they are) for every service profile, not only the valid ones.
        struct Range: Encodable { var numberRangeStart: String; var numberRangeEnd: String }
        struct Offering: Encodable { var name: String }
        struct Reseller: Encodable { var serviceProfile: String?; var country: String }
        struct Party: Encodable { var reseller: Reseller }
        struct Body: Encodable { var numberRangeList: [Range]; var productOffering: Offering; var relatedParty: Party }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let range = try NumberRange(start: "+442081324758", end: "+442081324760")
        let controls = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }
        for profile in controls + [nil, "ANH", #"a"b"#, #"back\slash"#, "a/b", "\u{7F}", "é€𝄞", "\u{2028}", #"\""#] {
            let request = OrderRequest(action: .return, country: .GB, range: range, serviceProfile: profile)
            let expected = try encoder.encode(Body(
                numberRangeList: [Range(numberRangeStart: "+442081324758", numberRangeEnd: "+442081324760")],
                productOffering: Offering(name: "Wholesale SIP"),
                relatedParty: Party(reseller: Reseller(serviceProfile: profile, country: "GB"))))
            #expect(request.jsonBody() == expected, "\(profile.map { Array($0.unicodeScalars) } ?? []): \(String(decoding: request.jsonBody(), as: UTF8.self))")
        }
    }
}
