import ColtSandbox
import Foundation
import Testing

@Suite("Fault rules and inventories (no network)")
struct ModelTests {
    @Test("short fault specs")
    func shortSpecs() throws {
        #expect(try FaultRule(spec: "503:0.2") == FaultRule(kind: .status, status: 503, probability: 0.2))
        #expect(try FaultRule(spec: "429:retry-after=2:times=3") == FaultRule(kind: .status, status: 429, retryAfter: "2", times: 3))
        #expect(try FaultRule(spec: "latency=100") == FaultRule(kind: .latency, ms: 100))
        #expect(try FaultRule(spec: "hang:0.01") == FaultRule(kind: .hang, probability: 0.01))
        #expect(try FaultRule(spec: "createThenDrop:times=1:after=2:path=any")
                == FaultRule(kind: .createThenDrop, path: .any, times: 1, after: 2))
        #expect(try FaultRule(spec: "status=500:code=002:p=0.5:path=token")
                == FaultRule(kind: .status, path: .token, status: 500, code: "002", probability: 0.5))
        #expect(try FaultRule(spec: "TOKENEXPIRED").kind == .tokenExpired)
        for kind in FaultRule.Kind.allCases where kind != .latency && kind != .status {
            #expect(try FaultRule(spec: kind.rawValue).kind == kind)
        }
    }

    @Test("JSON fault specs and round trip")
    func jsonSpecs() throws {
        let rule = try FaultRule(spec: #"{"kind":"status","status":429,"retryAfter":"Wed, 21 Oct 2026 07:28:00 GMT","times":2}"#)
        #expect(rule == FaultRule(kind: .status, path: .order, status: 429, retryAfter: "Wed, 21 Oct 2026 07:28:00 GMT", times: 2))
        let data = try JSONEncoder().encode(rule)
        #expect(try JSONDecoder().decode(FaultRule.self, from: data) == rule)
        let p = try FaultRule(spec: #"{"kind":"status","status":503,"retryAfter":"2","path":"order","probability":0.3}"#)
        #expect(p.probability == 0.3 && p.path == .order)
    }

    @Test("bad fault specs are refused", arguments: [
        "", "bogus", "latency", "latency=abc", "503:p=2", "503:times=-1", "503:whatever=1", "999", "hang:path=nowhere",
        #"{"kind":"nope"}"#, #"{"kind":"latency"}"#, #"{"status":503}"#,
    ])
    func badSpecs(spec: String) {
        #expect(throws: FaultRule.ParseError.self) { try FaultRule(spec: spec) }
    }

    @Test("the demo inventory has every status and a country with two service profiles")
    func demoInventory() {
        let demo = InventoryNumber.demo
        #expect(demo.count >= 12)
        #expect(Set(demo.map(\.status)).isSuperset(of: [.reserved, .activated, .quarantined, .portInActivated, .portInQuarantined]))
        #expect(Set(demo.map(\.number)).count == demo.count)
        let gbProfiles = Set(demo.filter { $0.country == "GB" }.compactMap(\.serviceProfile))
        #expect(gbProfiles == ["ANH"])   // so the seeds' request without serviceProfile is valid
        #expect(Set(demo.filter { $0.country == "FR" }.compactMap(\.serviceProfile)).count == 2)
        #expect(demo.contains { $0.number.hasPrefix("+3188") && $0.country == "NL" })
        #expect(demo.contains { $0.number == "+442081324758" && $0.status == .activated && $0.serviceProfile == "ANH" })
    }

    @Test("generated inventories are distinct, Activated, E.164 and reproducible")
    func generatedInventory() {
        let a = InventoryNumber.generated(count: 5000, seed: 9)
        #expect(a.count == 5000)
        #expect(Set(a.map(\.number)).count == 5000)
        #expect(a.allSatisfy { $0.status == .activated && $0.country == "GB" && $0.number.hasPrefix("+44207") && $0.number.count == 13 })
        #expect(a.allSatisfy { $0.number.dropFirst().allSatisfy(\.isNumber) })
        #expect(InventoryNumber.generated(count: 5000, seed: 9) == a)
        #expect(InventoryNumber.generated(count: 5000, seed: 10) != a)
        #expect(InventoryNumber.generated(count: 0).isEmpty)
    }

    @Test("inventory JSON: serviceProfile optional, statuses spelled as Colt does")
    func inventoryJSON() throws {
        let json = #"[{"number":"+442081324758","country":"GB","status":"PortIn_Quarantined"},{"number":"+33140000001","country":"FR","serviceProfile":"P","status":"Free"}]"#
        let rows = try JSONDecoder().decode([InventoryNumber].self, from: Data(json.utf8))
        #expect(rows == [
            InventoryNumber(number: "+442081324758", country: "GB", status: .portInQuarantined),
            InventoryNumber(number: "+33140000001", country: "FR", serviceProfile: "P", status: .free),
        ])
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode([InventoryNumber].self, from: Data(#"[{"number":"+1","country":"GB","status":"Active"}]"#.utf8))
        }
    }

    @Test("default configuration")
    func defaults() {
        let configuration = SandboxConfiguration()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 0)
        #expect(configuration.tokenLifetime == .seconds(1800))
        #expect(configuration.completionDelay == nil)
        #expect(configuration.trackingIDMode == .replay)
        #expect(configuration.inventory == InventoryNumber.demo)
    }
}
