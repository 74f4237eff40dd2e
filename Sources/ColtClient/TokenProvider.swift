import Logging

/// Caches the bearer token in memory and refreshes it before it expires (see
/// ``BearerToken/refreshAt``) and after a 401 (``invalidate(_:)``). Concurrent callers share one
/// fetch (single flight).
public actor TokenProvider {
    private let fetch: @Sendable () async -> Result<BearerToken, TokenError>
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    private var cached: BearerToken?
    private var inflight: (id: Int, task: Task<Result<BearerToken, TokenError>, Never>)?
    private var nextID = 0

    /// How many token fetches were started (successful or not).
    public private(set) var refreshCount = 0
    /// The last fetch's failure in words, until a fetch succeeds.
    private var lastFailure: String?

    /// What the provider holds, for the operator's page; never the token itself.
    public struct Condition: Sendable, Equatable {
        /// How long the cached token is still valid; `nil` when none is cached (or it expired).
        public var validFor: Duration?
        /// The last fetch's failure in words, when the last fetch failed.
        public var lastFailure: String?
        public var refreshCount: Int
    }

    /// The cached token's remaining life and the last fetch's failure. Fetches nothing.
    public var condition: Condition {
        let left = cached.map { now().duration(to: $0.expiresAt) }
        return Condition(validFor: left.flatMap { $0 > .zero ? $0 : nil }, lastFailure: lastFailure, refreshCount: refreshCount)
    }

    /// A provider that fetches tokens through `api`.
    public init(api: ColtAPI, logger: Logger) {
        self.init(logger: logger, now: { .now }) {
            do throws(TokenError) { return .success(try await api.fetchToken()) } catch { return .failure(error) }
        }
    }

    /// A provider over any fetch function and clock (for tests).
    init(
        logger: Logger, now: @escaping @Sendable () -> ContinuousClock.Instant,
        fetch: @escaping @Sendable () async -> Result<BearerToken, TokenError>
    ) {
        self.fetch = fetch
        self.logger = logger
        self.now = now
    }

    /// A valid token: the cached one until its refresh time, otherwise a new one. When a refresh
    /// fails while the cached token has not yet expired, the cached token is returned.
    public func token() async throws(TokenError) -> BearerToken {
        let current = now()
        if let cached, current < cached.refreshAt { return cached }

        let (id, task): (Int, Task<Result<BearerToken, TokenError>, Never>)
        if let inflight {
            (id, task) = inflight
        } else {
            nextID += 1
            refreshCount += 1
            let fetch = self.fetch
            (id, task) = (nextID, Task { await fetch() })
            inflight = (id, task)
            logger.debug("fetching a Colt token", metadata: ["reason": "\(cached == nil ? "none cached" : "refresh due")"])
        }
        let result = await task.value
        if inflight?.id == id {
            inflight = nil
            switch result {
            case let .success(token):
                cached = token
                lastFailure = nil
            case let .failure(error):
                lastFailure = error.detail
            }
        }
        switch result {
        case let .success(token):
            return token
        case let .failure(error):
            if let cached, now() < cached.expiresAt, error.kind == .unavailable {
                logger.warning("Colt token refresh failed, using the current token", metadata: ["error": "\(error.detail)"])
                return cached
            }
            throw error
        }
    }

    /// Drops the cached token if it is still `token` (after Colt answered 401 to it); a newer
    /// token fetched meanwhile by another caller is kept.
    public func invalidate(_ token: BearerToken) {
        if cached == token {
            cached = nil
            logger.debug("Colt token invalidated")
        }
    }
}
