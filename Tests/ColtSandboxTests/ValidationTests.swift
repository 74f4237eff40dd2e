import ColtSandbox
import Foundation
import Testing

@Suite("Order request validation")
struct ValidationTests {
    static let good = orderBody("+442081324758", country: "GB", serviceProfile: "ANH")

    /// Sends a bad request and checks it is refused, Colt-shaped, with nothing changed.
    func expectRefused(
        _ sandbox: ColtSandbox, _ result: CurlResult, status: Int, code: String, mentioning: String? = nil,
        _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        #expect(result.status == status, "\(label): \(result.status) \(result.text)", sourceLocation: sourceLocation)
        #expect(result.coltCode == code, "\(label): \(result.text)", sourceLocation: sourceLocation)
        #expect(result.isColtError, "\(label): \(result.text)", sourceLocation: sourceLocation)
        #expect(result.headers["content-type"] == "application/json", "\(label)", sourceLocation: sourceLocation)
        if let mentioning {
            #expect(result.message.contains(mentioning), "\(label): \(result.message)", sourceLocation: sourceLocation)
        }
        #expect(await sandbox.orders().isEmpty, "\(label) created an order", sourceLocation: sourceLocation)
    }

    @Test("header problems: tracking id, bearer token, content type")
    func headerProblems() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            for path in [returnPath, reactivatePath] {
                await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: token, trackingID: nil),
                                    status: 400, code: "004", "missing tracking id")
                for bad in ["has space", "semi;colon", "slash/", String(repeating: "a", count: 256)] {
                    await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: token, trackingID: bad),
                                        status: 400, code: "004", "tracking id \(bad.prefix(20))")
                }
                await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: nil),
                                    status: 401, code: "001", "missing bearer")
                await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: "not-a-token"),
                                    status: 401, code: "002", "unknown bearer")
                await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: nil,
                                                                 extra: ["-u", "sandbox-client:sandbox-secret"]),
                                    status: 401, code: "001", "basic instead of bearer")
                await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: token, contentType: "text/plain"),
                                    status: 415, code: "003", "text/plain")
                await expectRefused(sandbox, try await postOrder(sandbox, path: path, body: Self.good, token: token, contentType: nil),
                                    status: 415, code: "003", "no content type")
            }
            // The longest valid tracking id and every allowed character are accepted.
            let allowed = "aZ09_.~:@-" + String(repeating: "x", count: 245)
            let ok = try await postOrder(sandbox, body: Self.good, token: token, trackingID: allowed,
                                         contentType: "application/json; charset=utf-8")
            #expect(ok.status == 201, "\(ok.text)")
        }
    }

    @Test("body problems are refused with 400 and a Colt body naming the field")
    func bodyProblems() async throws {
        try await withSandbox { sandbox in
            let token = try await accessToken(sandbox)
            let cases: [(String, String, String, String?)] = [
                ("malformed JSON", #"{"numberRangeList": ["#, "007", nil),
                ("not an object", #"["+442081324758"]"#, "007", nil),
                ("empty body", "", "007", nil),
                ("no plus", orderBody("442081324758", country: "GB"), "005", "numberRangeStart"),
                ("leading zero", orderBody("+042081324758", country: "GB"), "005", "numberRangeStart"),
                ("letters", orderBody("+44208132475a", country: "GB"), "005", "numberRangeStart"),
                ("too short", orderBody("+4420", country: "GB"), "005", "+4420"),
                ("too long", orderBody("+4420813247581234", country: "GB"), "005", "+4420813247581234"),
                ("end before start", orderBody([("+442081324759", "+442081324758")], country: "GB"), "005", "before"),
                ("different lengths", orderBody([("+442081324758", "+4420813247580")], country: "GB"), "005", "length"),
                ("unknown country", orderBody("+442081324758", country: "US"), "005", "country"),
                ("lower-case country", orderBody("+442081324758", country: "gb"), "005", "country"),
                ("empty range list", #"{"numberRangeList":[],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"GB"}}}"#, "005", "numberRangeList"),
                ("no range list", #"{"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"GB"}}}"#, "005", "numberRangeList"),
                ("numeric number", #"{"numberRangeList":[{"numberRangeStart":442081324758,"numberRangeEnd":"+442081324758"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"GB"}}}"#, "005", "string"),
                ("missing end", #"{"numberRangeList":[{"numberRangeStart":"+442081324758"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"country":"GB"}}}"#, "005", "numberRangeEnd"),
                ("wrong product", Self.good.replacingOccurrences(of: "Wholesale SIP", with: "Wholesale Voice"), "005", "productOffering.name"),
                ("no product", #"{"numberRangeList":[{"numberRangeStart":"+442081324758","numberRangeEnd":"+442081324758"}],"relatedParty":{"reseller":{"country":"GB"}}}"#, "005", "productOffering"),
                ("no related party", #"{"numberRangeList":[{"numberRangeStart":"+442081324758","numberRangeEnd":"+442081324758"}],"productOffering":{"name":"Wholesale SIP"}}"#, "005", "relatedParty"),
                ("null service profile", #"{"numberRangeList":[{"numberRangeStart":"+442081324758","numberRangeEnd":"+442081324758"}],"productOffering":{"name":"Wholesale SIP"},"relatedParty":{"reseller":{"serviceProfile":null,"country":"GB"}}}"#, "005", "serviceProfile"),
                ("empty service profile", orderBody("+442081324758", country: "GB", serviceProfile: ""), "005", "serviceProfile"),
                ("overlapping ranges", orderBody([("+442081324760", "+442081324765"), ("+442081324765", "+442081324769")], country: "GB"), "005", "+442081324765"),
                // FR has two service profiles (PARIS1 and LYON2) in the demo inventory.
                ("service profile missing where two exist", orderBody("+33140000001", country: "FR"), "008", "serviceProfile"),
            ]
            for (label, body, code, mention) in cases {
                let result = try await postOrder(sandbox, body: body, token: token)
                await expectRefused(sandbox, result, status: 400, code: code, mentioning: mention, label)
            }
            // The 005 body lists every problem in details.
            let many = try await postOrder(sandbox, body: #"{"numberRangeList":[{"numberRangeStart":"x","numberRangeEnd":"y"}],"productOffering":{"name":"?"},"relatedParty":{"reseller":{"country":"US"}}}"#, token: token)
            let details = try #require(many.json?["details"] as? [[String: Any]])
            #expect(Set(details.compactMap { $0["field"] as? String }) == [
                "numberRangeList[0].numberRangeStart", "numberRangeList[0].numberRangeEnd",
                "productOffering.name", "relatedParty.reseller.country",
            ])
            // Nothing moved.
            #expect(await sandbox.status(of: "+442081324758") == .activated)
            #expect(await sandbox.status(of: "+33140000001") == .portInActivated)
            // With the profile, the FR order is fine.
            let fr = try await postOrder(sandbox, body: orderBody("+33140000001", country: "FR", serviceProfile: "PARIS1"), token: token)
            #expect(fr.status == 201, "\(fr.text)")
        }
    }

    @Test("unknown paths and wrong methods answer 404 and 405")
    func routing() async throws {
        try await withSandbox { sandbox in
            let notFound = try await curl([sandbox.baseURL + "/numberManagement/v1/nothing"])
            #expect(notFound.status == 404)
            #expect(notFound.isColtError)
            let wrongMethod = try await curl([sandbox.baseURL + returnPath])
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.headers["allow"] == "POST")
        }
    }
}
