@testable import ColtClient
import Logging
import Synchronization
import Testing

@Suite("TokenProvider")
struct TokenProviderTests {
    final class FakeClock: Sendable {
        let offset = Mutex(Duration.zero)
        let base = ContinuousClock.now
        var now: ContinuousClock.Instant { base + offset.withLock { $0 } }
        func advance(_ d: Duration) { offset.withLock { $0 += d } }
    }

    @Test func cachesAndSharesOneFetchOverHTTP() async throws {
        let server = try LoopbackServer { _ in
            .delayed(.milliseconds(200), .json(200, #"{"access_token":"tok-A","expires_in":1800}"#))
        }
        defer { server.stop() }
        let (api, transport) = try makeAPI(server.baseURL)
        defer { transport.shutdown() }
        let provider = TokenProvider(api: api, logger: Logger(label: "t"))
        let tokens = try await withThrowingTaskGroup(of: BearerToken.self) { group in
            for _ in 0..<20 { group.addTask { try await provider.token() } }
            var all: [BearerToken] = []
            for try await token in group { all.append(token) }
            return all
        }
        #expect(tokens.count == 20)
        #expect(Set(tokens.map(\.secret.value)) == ["tok-A"])
        #expect(server.requests.count == 1)
        #expect(await provider.refreshCount == 1)
        _ = try await provider.token()
        #expect(server.requests.count == 1)
    }

    @Test func refreshesBeforeExpiryAndAfterInvalidate() async throws {
        let clock = FakeClock()
        let fetches = Mutex(0)
        let provider = TokenProvider(logger: Logger(label: "t"), now: { clock.now }) {
            let n = fetches.withLock { $0 += 1; return $0 }
            let now = clock.now
            return .success(BearerToken(value: "tok-\(n)", obtainedAt: now, expiresAt: now + .seconds(1800)))
        }
        let first = try await provider.token()
        #expect(first.secret.value == "tok-1")
        clock.advance(.seconds(1400))  // before 80 % (1440 s)
        #expect(try await provider.token() == first)
        clock.advance(.seconds(41))  // past 80 %
        let second = try await provider.token()
        #expect(second.secret.value == "tok-2")
        #expect(await provider.refreshCount == 2)

        await provider.invalidate(first)  // stale: ignored
        #expect(try await provider.token() == second)
        await provider.invalidate(second)
        let third = try await provider.token()
        #expect(third.secret.value == "tok-3")
        #expect(await provider.refreshCount == 3)
    }

    @Test func refreshPointOfShortAndLongTokens() {
        let now = ContinuousClock.now
        let long = BearerToken(value: "x", obtainedAt: now, expiresAt: now + .seconds(1800))
        #expect(long.refreshAt == now + .seconds(1440))
        let medium = BearerToken(value: "x", obtainedAt: now, expiresAt: now + .seconds(200))
        #expect(medium.refreshAt == now + .seconds(140))
        let short = BearerToken(value: "x", obtainedAt: now, expiresAt: now + .seconds(30))
        #expect(short.refreshAt == now + .seconds(15))
    }

    @Test func failuresPropagateButAValidTokenSurvivesAFailedRefresh() async throws {
        let clock = FakeClock()
        let fail = Mutex(false)
        let provider = TokenProvider(logger: Logger(label: "t"), now: { clock.now }) {
            if fail.withLock({ $0 }) { return .failure(TokenError(kind: .unavailable, detail: "down")) }
            let now = clock.now
            return .success(BearerToken(value: "tok", obtainedAt: now, expiresAt: now + .seconds(1800)))
        }
        let token = try await provider.token()
        fail.withLock { $0 = true }
        clock.advance(.seconds(1500))  // refresh due, token still valid
        #expect(try await provider.token() == token)
        clock.advance(.seconds(400))  // expired
        await #expect(throws: TokenError.self) { try await provider.token() }
        await provider.invalidate(token)
        let error = await #expect(throws: TokenError.self) { try await provider.token() }
        #expect(error?.detail == "down")
    }

    @Test func credentialsRejectedIsNotMaskedByTheCache() async throws {
        let clock = FakeClock()
        let reject = Mutex(false)
        let provider = TokenProvider(logger: Logger(label: "t"), now: { clock.now }) {
            if reject.withLock({ $0 }) { return .failure(TokenError(kind: .credentialsRejected, detail: "no")) }
            let now = clock.now
            return .success(BearerToken(value: "tok", obtainedAt: now, expiresAt: now + .seconds(1800)))
        }
        _ = try await provider.token()
        reject.withLock { $0 = true }
        clock.advance(.seconds(1500))
        let error = await #expect(throws: TokenError.self) { try await provider.token() }
        #expect(error?.kind == .credentialsRejected)
    }
}
