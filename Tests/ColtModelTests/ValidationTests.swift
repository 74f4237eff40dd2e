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

    @Test func randomTrackingIDsAreVersion4UUIDsInLowerCase() throws {
        let ids = (0..<2000).map { _ in TrackingID.random().text }
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
            case 14: #expect(characters == ["4"], "the version digit")
            case 19: #expect(characters == ["8", "9", "a", "b"], "the variant digit")
            default: #expect(characters.count == 16, "every hex digit appears at position \(index), leading zeros included")
            }
        }
    }

    @Test func theBodyIsExactlyThePublishedShape() throws {
        let request = try OrderRequest(action: "return", country: "GB", rangeStart: "+442081324758", rangeEnd: nil, serviceProfile: "ANH")
        #expect(String(decoding: request.jsonBody(), as: UTF8.self) == #"{"numberRangeList":[{"numberRangeEnd":"+442081324758","numberRangeStart":"+442081324758"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"GB","serviceProfile":"ANH"}}}"#)
        let without = try OrderRequest(action: "reactivate", country: "FR", rangeStart: "+33123456789", rangeEnd: "+33123456790", serviceProfile: nil)
        let text = String(decoding: without.jsonBody(), as: UTF8.self)
        #expect(!text.contains("serviceProfile"), "the key is omitted, never null: \(text)")
        #expect(text.contains(#""numberRangeEnd":"+33123456790""#))
    }
}
