@testable import ColtClient
import ColtModel
import ColtSandbox
import Foundation
import Logging
import Testing
import TestSupport

/// The client against the team's Colt simulator: the real request and answer shapes end to end.
@Suite("ColtClient against ColtSandbox")
struct SandboxTests {
    func api(_ sandbox: ColtSandbox) throws -> (ColtAPI, CurlTransport) { try api(sandbox.baseURL) }

    func api(_ baseURL: String, caFile: String? = nil) throws -> (ColtAPI, CurlTransport) {
        var configuration = ColtClientConfiguration(
            baseURL: baseURL, clientID: "sandbox-client", clientSecret: Secret("sandbox-secret"))
        configuration.caFile = caFile
        configuration.requestTimeout = .seconds(5)
        let transport = try CurlTransport()
        return (ColtAPI(configuration: configuration, transport: transport, logger: Logger(label: "t")), transport)
    }

    @Test func submitThenReconcileAnUnknownOutcome() async throws {
        let sandbox = try await ColtSandbox.start(SandboxConfiguration())
        let (api, transport) = try api(sandbox)
        defer { transport.shutdown() }
        let provider = TokenProvider(api: api, logger: Logger(label: "t"))
        let token = try await provider.token()

        let accepted = await api.submit(try order(), trackingID: TrackingID("co-e2e-1")!, token: token)
        guard case let .accepted(orderID) = accepted.outcome else {
            Issue.record("not accepted: \(accepted.detail)")
            await sandbox.shutdown()
            return
        }
        #expect(await sandbox.orders(forTrackingID: "co-e2e-1").map(\.id) == [orderID])

        // The sandbox creates the order, then answers 504: the outcome is unknown until we look.
        await sandbox.setFaults([.fault(.createThen504, path: .order, times: 1)])
        let reactivate = try OrderRequest(
            action: "reactivate", country: "GB", rangeStart: "+442081324772", rangeEnd: nil, serviceProfile: "ANH")
        let unknown = await api.submit(reactivate, trackingID: TrackingID("co-e2e-2")!, token: token)
        #expect(unknown.outcome == .serverError)
        #expect(unknown.outcome.mayHaveCreatedOrder)
        let created = await sandbox.orders(forTrackingID: "co-e2e-2").map(\.id)
        #expect(created.count == 1)
        // The inventory shows the number carrying that order (the rich shape; tracking ids unused).
        guard case let .read(inventory) = await api.readInventory(range: reactivate.range, token: token) else {
            Issue.record("the inventory could not be read")
            await sandbox.shutdown()
            return
        }
        #expect(inventory[0].orderID == created.first)
        #expect(inventory[0].status == "Quarantined", "the number moves when the order completes")
        #expect(inventory[0].orderStatus == "In progress")

        // Colt refuses a second return of the same number for good.
        let again = await api.submit(try order(), trackingID: TrackingID("co-e2e-3")!, token: token)
        #expect(again.outcome == .rejected, "\(again.detail)")
        #expect(again.coltError != nil)
        await sandbox.shutdown()
    }

    /// Both of the sandbox's answer shapes read alike, paged, by range and by order id; after
    /// completion the minimal shape no longer names the order and the numbers have moved.
    @Test(arguments: NumberShape.allCases)
    func theInventoryReadsAlikeInBothShapes(shape: NumberShape) async throws {
        var configuration = SandboxConfiguration()
        configuration.numberShape = shape
        configuration.numberPageLimit = 3
        configuration.completionDelay = .milliseconds(400)
        let sandbox = try await ColtSandbox.start(configuration)
        // Stopped before the test returns, whether it passes or throws.
        let outcome = await Result(running: {
            let (api, transport) = try api(sandbox)
            defer { transport.shutdown() }
            let token = try await TokenProvider(api: api, logger: Logger(label: "t")).token()
            let range = try OrderRequest(action: "return", country: "GB", rangeStart: "+442081324760", rangeEnd: "+442081324769", serviceProfile: "ANH")
            let accepted = await api.submit(range, trackingID: TrackingID("co-shape-1")!, token: token)
            guard case let .accepted(orderID) = accepted.outcome else { Issue.record("not accepted: \(accepted.detail)"); return }
            for byOrder in [false, true] {
                let answer = await api.readInventory(range: range.range, orderID: byOrder ? orderID : nil, token: token)
                guard case let .read(inventory) = answer else {
                    Issue.record("could not read (\(shape), by order: \(byOrder)): \(answer)")
                    return
                }
                #expect(inventory.pages == 4, "10 numbers in pages of 3")
                #expect(inventory.answered == 10)
                #expect(inventory.orders.map(\.id) == [orderID])
                #expect(inventory.statuses.map(\.status) == ["Activated"])
            }
            try await Task.sleep(for: .milliseconds(700))
            guard case let .read(after) = await api.readInventory(range: range.range, token: token) else {
                Issue.record("could not read after completion")
                return
            }
            #expect(after.statuses.map(\.status) == ["Quarantined"])
            switch shape {
            case .minimal: #expect(after.orders.isEmpty, "the minimal shape drops a completed order")
            case .rich: #expect(after.orders.map(\.status) == ["Completed"])
            }
        })
        await sandbox.shutdown()
        try outcome.get()
    }

    @Test func expiredTokenIsUnauthorizedAndTheProviderRecovers() async throws {
        let sandbox = try await ColtSandbox.start(SandboxConfiguration())
        let (api, transport) = try api(sandbox)
        defer { transport.shutdown() }
        let provider = TokenProvider(api: api, logger: Logger(label: "t"))
        let first = try await provider.token()
        await sandbox.expireTokens()
        let refused = await api.submit(try order(), trackingID: TrackingID("co-401")!, token: first)
        #expect(refused.outcome == .unauthorized)
        #expect(!refused.detail.contains(first.secret.value))
        await provider.invalidate(first)
        let second = try await provider.token()
        #expect(second != first)
        #expect(await provider.refreshCount == 2)
        let retried = await api.submit(try order(), trackingID: TrackingID("co-401")!, token: second)
        #expect(retried.outcome.name == "accepted")
        await sandbox.shutdown()
    }

    @Test func wrongCredentialsAreRejected() async throws {
        let sandbox = try await ColtSandbox.start(SandboxConfiguration())
        var configuration = ColtClientConfiguration(
            baseURL: sandbox.baseURL, clientID: "sandbox-client", clientSecret: Secret("wrong-secret"))
        configuration.requestTimeout = .seconds(5)
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let api = ColtAPI(configuration: configuration, transport: transport, logger: Logger(label: "t"))
        let error = await #expect(throws: TokenError.self) { try await api.fetchToken() }
        #expect(error?.kind == .credentialsRejected)
        #expect(error?.detail.contains("wrong-secret") == false)
        await sandbox.shutdown()
    }

    @Test func tlsIsVerified() async throws {
        let directory = try TemporaryDirectory("colt-tls")
        defer { directory.remove() }
        let certificates = try TestCertificates(in: directory)
        let sandbox = try await ColtSandbox.start(SandboxConfiguration())
        let front = try await TLSFront.start(certificates, upstreamPort: sandbox.port, directory: directory)
        #expect(front.baseURL.hasPrefix("https://"))

        let (trusted, t1) = try api(front.baseURL, caFile: certificates.ca)
        defer { t1.shutdown() }
        let token = try await trusted.fetchToken()
        let accepted = await trusted.submit(try order(), trackingID: TrackingID("co-tls")!, token: token)
        #expect(accepted.outcome.name == "accepted")

        // Without our CA the certificate is not trusted: a TLS failure, nothing sent.
        let (untrusted, t2) = try api(front.baseURL)
        defer { t2.shutdown() }
        let refused = await untrusted.submit(try order(), trackingID: TrackingID("co-tls-2")!, token: token)
        #expect(refused.outcome == .notSent)
        #expect(refused.detail.contains("TLS"))
        #expect(await sandbox.orders(forTrackingID: "co-tls-2").isEmpty)
        let error = await #expect(throws: TokenError.self) { try await untrusted.fetchToken() }
        #expect(error?.kind == .unavailable)
        await front.stop()
        await sandbox.shutdown()
    }
}
