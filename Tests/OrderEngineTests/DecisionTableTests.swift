@testable import ColtClient
import ColtModel
import Foundation
@testable import OrderEngine
@testable import OrderStore
import Testing

/// Every row of ``DecisionTable``'s two tables, with an injected time and a jitter that always
/// draws the same number, so each delay is one exact value.
@Suite struct DecisionTableTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let request = try! OrderRequest(action: "return", country: "GB", rangeStart: "+442081324758", rangeEnd: "+442081324760", serviceProfile: nil)
    /// initial 2 s, ×2, max 600 s, 12 attempts, 1 day; request timeout 30 s; credentials 300 s.
    static let policy = DecisionTable.Policy(retry: RetryPolicy(), requestTimeout: .seconds(30), credentialsRetryInterval: .seconds(300))

    static func claim(attempt: Int = 1, unknown: Bool = false, age: TimeInterval = 0, lookups: Int = 0) -> ClaimedRequest {
        ClaimedRequest(id: 7, request: request, trackingID: TrackingID("co-test")!, attempt: attempt, journalID: 1,
                       outcomeUnknown: unknown, firstAttemptAt: now.addingTimeInterval(-age), lookups: lookups)
    }

    static func result(_ outcome: AttemptOutcome, retryAfter: Duration? = nil, code: String? = nil, sends: Int = 1) -> AttemptResult {
        var result = AttemptResult(outcome: outcome, coltError: code.map { ColtErrorBody(code: $0) }, retryAfter: retryAfter, detail: "x")
        result.sends = sends
        return result
    }

    /// Draws the top of every range: `Double.random(in: a...b)` gives b, so a backoff is its full value.
    struct Top: RandomNumberGenerator {
        mutating func next() -> UInt64 { .max }
    }

    static func decide(_ result: AttemptResult, _ claim: ClaimedRequest) -> DecisionTable.Step {
        var top = Top()
        return DecisionTable.afterAttempt(result, claim: claim, policy: policy, now: now, using: &top)
    }

    static func decided(_ transition: AttemptRecord.Transition, _ breaker: DecisionTable.BreakerEvent?,
                        hold: Date? = nil, credentials: Date? = nil) -> DecisionTable.Step {
        .decided(DecisionTable.Decision(transition: transition, breaker: breaker, holdUntil: hold, credentialsPausedUntil: credentials))
    }

    static func at(_ seconds: TimeInterval) -> Date { now.addingTimeInterval(seconds) }

    // MARK: One source of truth for "an order may exist"

    @Test(arguments: [
        (AttemptOutcome.accepted(orderID: "O"), false), (.rejected, false), (.unauthorized, false), (.throttled, false),
        (.notSent, false), (.serverError, true), (.timeout, true), (.connectionLost, true), (.badResponse, true), (.interrupted, true),
    ])
    func anOrderMayExistAfterAnUnknownOutcome(outcome: AttemptOutcome, mayExist: Bool) {
        #expect(DecisionTable.orderMayExist(Self.claim(), Self.result(outcome)) == mayExist)
        // An earlier unknown outcome, or a copy libcurl resent by itself, makes it so whatever this one was.
        #expect(DecisionTable.orderMayExist(Self.claim(unknown: true), Self.result(outcome)))
        #expect(DecisionTable.orderMayExist(Self.claim(), Self.result(outcome, sends: 2)))
    }

    // MARK: The first table, row by row

    @Test func acceptedGoesInProgressWhateverCameBefore() {
        for claim in [Self.claim(), Self.claim(unknown: true), Self.claim(attempt: 12, age: 90_000)] {
            #expect(Self.decide(Self.result(.accepted(orderID: "ORD-9")), claim)
                    == Self.decided(.accepted(orderID: "ORD-9", orderStatus: "In progress"), .answered))
        }
    }

    @Test func aRefusalIsFinalWhenNoOrderCanExist() {
        #expect(Self.decide(Self.result(.rejected, code: "010"), Self.claim()) == Self.decided(.rejected(coltCode: "010"), .answered))
    }

    @Test func aRefusalThatMayHideAnOrderReadsTheInventoryFirst() {
        #expect(Self.decide(Self.result(.rejected), Self.claim(unknown: true)) == .readInventory)
        #expect(Self.decide(Self.result(.rejected, sends: 2), Self.claim()) == .readInventory)
    }

    @Test func aRefusedFreshTokenPausesForTheCredentialsAndSpendsNoAttempt() {
        let until = Self.at(300)
        #expect(Self.decide(Self.result(.unauthorized), Self.claim())
                == Self.decided(.retry(at: until, countsAsAttempt: false), nil, credentials: until))
        #expect(Self.decide(Self.result(.unauthorized), Self.claim(unknown: true))
                == Self.decided(.reconcile(at: until, countsAsAttempt: false), nil, credentials: until))
    }

    @Test func anInterruptionIsReadNextAndSpendsTheAttempt() {
        #expect(Self.decide(Self.result(.interrupted), Self.claim()) == Self.decided(.reconcile(at: Self.now, countsAsAttempt: true), nil))
        #expect(DecisionTable.interrupted(Self.claim(unknown: true), now: Self.now) == .reconcile(at: Self.now, countsAsAttempt: true))
    }

    @Test(arguments: [AttemptOutcome.throttled, .notSent])
    func aTransientFailureThatCreatedNothingRetriesWithBackoff(outcome: AttemptOutcome) {
        // attempt n waits 2 × 2^(n-1) s (the top of its jitter), capped at 600 s.
        for (attempt, wait) in [(1, 2.0), (2, 4), (5, 32), (11, 600)] {
            #expect(Self.decide(Self.result(outcome), Self.claim(attempt: attempt))
                    == Self.decided(.retry(at: Self.at(wait), countsAsAttempt: true), .failed(retryAfter: nil)))
        }
    }

    @Test(arguments: [AttemptOutcome.throttled, .notSent])
    func aTransientFailureFailsTheRowOnceItsBudgetIsSpent(outcome: AttemptOutcome) {
        #expect(Self.decide(Self.result(outcome), Self.claim(attempt: 12)) == Self.decided(.failed, .failed(retryAfter: nil)))
        #expect(Self.decide(Self.result(outcome), Self.claim(attempt: 2, age: 86_400)) == Self.decided(.failed, .failed(retryAfter: nil)))
        #expect(Self.decide(Self.result(outcome), Self.claim(attempt: 11, age: 86_399))
                == Self.decided(.retry(at: Self.at(600), countsAsAttempt: true), .failed(retryAfter: nil)))
    }

    @Test(arguments: [AttemptOutcome.serverError, .badResponse])
    func anUnknownOutcomeIsReconciledNeverFailed(outcome: AttemptOutcome) {
        #expect(Self.decide(Self.result(outcome), Self.claim()) == Self.decided(.reconcile(at: Self.at(2), countsAsAttempt: true), .failed(retryAfter: nil)))
        // Even with the budget spent: the read decides.
        #expect(Self.decide(Self.result(outcome), Self.claim(attempt: 12, age: 90_000))
                == Self.decided(.reconcile(at: Self.at(600), countsAsAttempt: true), .failed(retryAfter: nil)))
        // A failure that created nothing, after an earlier unknown one: reconciled too.
        #expect(Self.decide(Self.result(.notSent), Self.claim(unknown: true))
                == Self.decided(.reconcile(at: Self.at(2), countsAsAttempt: true), .failed(retryAfter: nil)))
    }

    @Test(arguments: [AttemptOutcome.timeout, .connectionLost])
    func aRequestThatMayStillRunIsReadNoSoonerThanARequestTimeoutLater(outcome: AttemptOutcome) {
        #expect(Self.decide(Self.result(outcome), Self.claim()) == Self.decided(.reconcile(at: Self.at(30), countsAsAttempt: true), .failed(retryAfter: nil)))
        #expect(Self.decide(Self.result(outcome), Self.claim(attempt: 7)) == Self.decided(.reconcile(at: Self.at(128), countsAsAttempt: true), .failed(retryAfter: nil)))
    }

    @Test func retryAfterSetsTheRowsWaitAndAThrottleHoldsEverything() {
        #expect(Self.decide(Self.result(.throttled, retryAfter: .seconds(45)), Self.claim())
                == Self.decided(.retry(at: Self.at(45), countsAsAttempt: true), .failed(retryAfter: .seconds(45)), hold: Self.at(45)))
        // A 503's Retry-After sets the row's wait, but holds nothing else.
        #expect(Self.decide(Self.result(.serverError, retryAfter: .seconds(45)), Self.claim())
                == Self.decided(.reconcile(at: Self.at(45), countsAsAttempt: true), .failed(retryAfter: .seconds(45))))
        // A skewed gateway's Retry-After of days is capped at retry.max_delay, for the hold and the row.
        #expect(Self.decide(Self.result(.throttled, retryAfter: .seconds(900_000)), Self.claim())
                == Self.decided(.retry(at: Self.at(600), countsAsAttempt: true), .failed(retryAfter: .seconds(900_000)), hold: Self.at(600)))
    }

    @Test func noTokenSendsNothingAndSpendsNoAttempt() {
        #expect(DecisionTable.noToken(Self.claim(), pause: .seconds(5), now: Self.now) == .retry(at: Self.at(5), countsAsAttempt: false))
        #expect(DecisionTable.noToken(Self.claim(unknown: true), pause: .seconds(5), now: Self.now) == .reconcile(at: Self.at(5), countsAsAttempt: false))
    }

    // MARK: The second table: after a reading of the inventory

    static func afterRefusal(_ verdict: ReconcileVerdict, _ claim: ClaimedRequest) -> DecisionTable.Decision {
        var top = Top()
        return DecisionTable.afterRefusal(verdict, claim: claim, code: "010", policy: policy, now: now, using: &top)
    }

    @Test func aRefusalThenAReading() {
        let claim = Self.claim(attempt: 2, unknown: true, age: 60, lookups: 1)
        #expect(Self.afterRefusal(.adopt(orderID: "ORD-1", orderStatus: nil), claim).transition == .accepted(orderID: "ORD-1", orderStatus: "In progress"))
        #expect(Self.afterRefusal(.adopt(orderID: "ORD-1", orderStatus: "Pending"), claim).transition == .accepted(orderID: "ORD-1", orderStatus: "Pending"))
        #expect(Self.afterRefusal(.done(orderID: nil, orderStatus: nil), claim).transition == .completed(orderID: nil, orderStatus: "Completed"))
        #expect(Self.afterRefusal(.notCreated, claim).transition == .rejected(coltCode: "010"))
        // Unclear: read again after a backoff over the reads made (2 so far: 4 s), counting the refused send.
        #expect(Self.afterRefusal(.unclear("?"), claim).transition == .reconcile(at: Self.at(4), countsAsAttempt: true))
        #expect(Self.afterRefusal(.unclear("?"), Self.claim(unknown: true, age: 86_400)).transition == .unresolved)
        #expect(Self.afterRefusal(.notCreated, claim).breaker == .answered)
    }

    static func beforeResend(_ verdict: ReconcileVerdict, _ claim: ClaimedRequest) -> AttemptRecord.Transition {
        var top = Top()
        return DecisionTable.beforeResend(verdict, claim: claim, policy: policy.retry, now: now, using: &top)
    }

    @Test func aReadingBeforeAResend() {
        let claim = Self.claim(attempt: 3, unknown: true, age: 60)
        #expect(Self.beforeResend(.adopt(orderID: "ORD-2", orderStatus: nil), claim) == .accepted(orderID: "ORD-2", orderStatus: "In progress"))
        #expect(Self.beforeResend(.done(orderID: "ORD-2", orderStatus: "Completed"), claim) == .completed(orderID: "ORD-2", orderStatus: "Completed"))
        #expect(Self.beforeResend(.notCreated, claim) == .resendNow)
        // The read sends no order: it spends no attempt.
        #expect(Self.beforeResend(.unclear("?"), claim) == .reconcile(at: Self.at(2), countsAsAttempt: false))
        // Nothing created, and the twelve attempts spent (this would be the 13th), or a day old: failed.
        #expect(Self.beforeResend(.notCreated, Self.claim(attempt: 13, unknown: true)) == .failed)
        #expect(Self.beforeResend(.notCreated, Self.claim(attempt: 12, unknown: true)) == .resendNow)
        #expect(Self.beforeResend(.notCreated, Self.claim(attempt: 2, unknown: true, age: 86_400)) == .failed)
        #expect(Self.beforeResend(.unclear("?"), Self.claim(attempt: 2, unknown: true, age: 86_400)) == .unresolved)
    }
}

/// The breaker's states and their changes, on an injected time.
@Suite struct BreakerTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    /// 3 failures open it, for 5 s, doubling to at most 20 s.
    static let policy: GlobalBackoffPolicy = {
        var policy = GlobalBackoffPolicy()
        policy.failureThreshold = 3
        policy.initialPause = .seconds(5)
        policy.maxPause = .seconds(20)
        return policy
    }()

    @Test func closedUntilThresholdFailuresInARow() {
        var breaker = GlobalBackoff(policy: Self.policy)
        #expect(breaker.recordFailure(now: Self.t0, retryAfter: nil) == nil)
        #expect(breaker.recordFailure(now: Self.t0, retryAfter: nil) == nil)
        #expect(breaker.state == .closed(failures: 2))
        breaker.recordSuccess()  // an answer in between starts the count again
        #expect(breaker.recordFailure(now: Self.t0, retryAfter: nil) == nil)
        #expect(breaker.recordFailure(now: Self.t0, retryAfter: nil) == nil)
        #expect(breaker.gate(now: Self.t0) == .flowing)
        #expect(breaker.recordFailure(now: Self.t0, retryAfter: nil) == .seconds(5))
        #expect(breaker.state == .open(until: Self.t0.addingTimeInterval(5), pause: .seconds(5)))
        #expect(breaker.gate(now: Self.t0.addingTimeInterval(4.9)) == .wait(until: Self.t0.addingTimeInterval(5)))
    }

    @Test func openThenHalfOpenThenClosedOrOpenForTwiceAsLong() {
        var breaker = GlobalBackoff(policy: Self.policy)
        for _ in 0..<3 { _ = breaker.recordFailure(now: Self.t0, retryAfter: nil) }
        // Failures of requests that were already in flight change nothing while it is open.
        #expect(breaker.recordFailure(now: Self.t0.addingTimeInterval(1), retryAfter: nil) == nil)
        #expect(breaker.pausedUntil == Self.t0.addingTimeInterval(5))
        // The pause over: one probe.
        #expect(breaker.gate(now: Self.t0.addingTimeInterval(5)) == .probe)
        #expect(breaker.state == .halfOpen(lastPause: .seconds(5)))
        // The probe fails: open again, twice as long; then again, capped at 20 s.
        let t1 = Self.t0.addingTimeInterval(6)
        #expect(breaker.recordFailure(now: t1, retryAfter: nil) == .seconds(10))
        #expect(breaker.gate(now: t1.addingTimeInterval(10)) == .probe)
        #expect(breaker.recordFailure(now: t1.addingTimeInterval(10), retryAfter: nil) == .seconds(20))
        #expect(breaker.gate(now: t1.addingTimeInterval(30)) == .probe)
        #expect(breaker.recordFailure(now: t1.addingTimeInterval(30), retryAfter: nil) == .seconds(20))
        // The probe is answered: closed, and the next opening starts from 5 s again.
        #expect(breaker.gate(now: t1.addingTimeInterval(50)) == .probe)
        breaker.recordSuccess()
        #expect(breaker.gate(now: t1.addingTimeInterval(50)) == .flowing)
        for _ in 0..<2 { _ = breaker.recordFailure(now: t1, retryAfter: nil) }
        #expect(breaker.recordFailure(now: t1, retryAfter: nil) == .seconds(5))
    }

    @Test func aRetryAfterLengthensTheOpeningWithinTheMaximum() {
        var breaker = GlobalBackoff(policy: Self.policy)
        for _ in 0..<2 { _ = breaker.recordFailure(now: Self.t0, retryAfter: nil) }
        #expect(breaker.recordFailure(now: Self.t0, retryAfter: .seconds(12)) == .seconds(12))
        var capped = GlobalBackoff(policy: Self.policy)
        for _ in 0..<2 { _ = capped.recordFailure(now: Self.t0, retryAfter: nil) }
        #expect(capped.recordFailure(now: Self.t0, retryAfter: .seconds(3600)) == .seconds(20))
    }

    @Test func aTripOpensAtOnceAndDoublesWhenAlreadyOpen() {
        var breaker = GlobalBackoff(policy: Self.policy)
        #expect(breaker.trip(now: Self.t0, retryAfter: nil) == .seconds(5))
        #expect(breaker.trip(now: Self.t0, retryAfter: nil) == .seconds(10))
    }

    @Test func aHoldIsApartFromTheState() {
        var breaker = GlobalBackoff(policy: Self.policy)
        breaker.hold(until: Self.t0.addingTimeInterval(30))
        breaker.hold(until: Self.t0.addingTimeInterval(10))  // a shorter hold does not shorten it
        #expect(breaker.gate(now: Self.t0) == .wait(until: Self.t0.addingTimeInterval(30)))
        breaker.recordSuccess()  // an answer from Colt does not lift a Retry-After
        #expect(breaker.gate(now: Self.t0.addingTimeInterval(29)) == .wait(until: Self.t0.addingTimeInterval(30)))
        #expect(breaker.gate(now: Self.t0.addingTimeInterval(30)) == .flowing)
        #expect(breaker.pausedUntil == nil)
    }
}

/// The token bucket, on an injected clock.
@Suite struct RateLimiterTests {
    static let t0 = ContinuousClock.now

    @Test func aBurstOfOneSecondThenTheRate() {
        var limiter = RateLimiter(ratePerSecond: 10, now: Self.t0)
        #expect(limiter.available(now: Self.t0) == 10)
        limiter.take(10, now: Self.t0)
        #expect(limiter.available(now: Self.t0) == 0)
        #expect(limiter.nextToken(now: Self.t0) == Self.t0 + .milliseconds(100))
        #expect(limiter.available(now: Self.t0 + .milliseconds(350)) == 3)
        // Never more than a second's worth, however long it sat idle.
        #expect(limiter.available(now: Self.t0 + .seconds(60)) == 10)
    }

    @Test func aSlowRateStillLetsOneGo() {
        var limiter = RateLimiter(ratePerSecond: 0.5, now: Self.t0)
        #expect(limiter.available(now: Self.t0) == 1)
        limiter.take(1, now: Self.t0)
        #expect(limiter.nextToken(now: Self.t0) == Self.t0 + .seconds(2))
        #expect(limiter.available(now: Self.t0 + .milliseconds(1900)) == 0)
        #expect(limiter.available(now: Self.t0 + .seconds(2)) == 1)
    }
}
