import ColtClient
import Foundation
import OrderStore

/// Where a row goes after an attempt, a reading of Colt's inventory, or an interruption: pure
/// functions of what happened, the row's facts, the policy and the time. No I/O, no clock, no
/// shared state: the engine performs what they return (records the transition, tells the
/// breaker, pauses), and the unit tests in OrderEngineTests cover every row of the table.
///
/// "An order may exist" (``orderMayExist(_:_:)``) is worked out here and nowhere else: the row's
/// `outcome_unknown` (an earlier attempt under this tracking id may have created one), or this
/// attempt's own outcome (``AttemptResult/mayHaveCreatedOrder``).
///
/// The table after an attempt (docs/design.md "Outcomes"; `budget` is retry.max_attempts and
/// retry.max_age; `backoff` is ``RetryPolicy/delay(afterAttempt:retryAfter:using:)``):
///
/// | outcome | order may exist | next | breaker | attempt spent |
/// |---|---|---|---|---|
/// | accepted(id) | either | `in_progress` (id, "In progress") | answered | yes |
/// | rejected | no | `rejected` | answered | yes |
/// | rejected | yes | read the inventory, then ``afterRefusal(_:claim:code:policy:now:using:)`` | answered | yes |
/// | unauthorized (a fresh token refused) | no | `retrying` at now + credentials_retry_interval; credentials pause | none | no |
/// | unauthorized | yes | `reconciling` at the same time; credentials pause | none | no |
/// | throttled, server_error, not_sent, timeout, connection_lost, bad_response | yes | `reconciling` at backoff (a timeout or lost connection: at least request_timeout) | failed | yes |
/// | the same | no, budget left | `retrying` at backoff | failed | yes |
/// | the same | no, budget spent | `failed` | failed | yes |
/// | throttled with Retry-After | (as above) | (as above), and everything held until then (at most retry.max_delay) | failed | yes |
/// | interrupted (stopped before the answer) | yes | `reconciling` now | none | yes |
///
/// An interruption spends the attempt, whether the daemon stopped in time (``interrupted(_:now:)``)
/// or died (``RequestQueue/recoverInterrupted(now:)``): the request may have gone out, as after a
/// timeout, and a row whose send kills the daemon must not be sent for ever.
///
/// After a reading of the inventory (``afterVerdict(_:claim:notCreated:countsAsAttempt:policy:now:using:)``):
///
/// | verdict | next |
/// |---|---|
/// | adopt(id): every number carries an order no other row holds | `in_progress` with that order |
/// | done: no open order, every number where the action leads | `completed` |
/// | notCreated: nothing changed | the caller's choice: send again now, `failed` (budget spent) or `rejected` (after a refusal) |
/// | unclear, younger than retry.max_age | `reconciling`, read again after a backoff over the reads made |
/// | unclear, past retry.max_age | `unresolved`: an operator decides |
enum DecisionTable {
    /// The policy the decisions read.
    struct Policy: Sendable {
        var retry: RetryPolicy
        /// The API's request timeout: a request that timed out may still be processed that long.
        var requestTimeout: Duration
        /// How long a refused fresh token pauses everything.
        var credentialsRetryInterval: Duration
    }

    /// What the breaker hears of an attempt.
    enum BreakerEvent: Equatable {
        /// Colt answered (accepted or refused): the API works.
        case answered
        /// A transient failure, with its `Retry-After` when there was one.
        case failed(retryAfter: Duration?)
    }

    /// Where a row goes after an attempt, and what the engine must do besides.
    struct Decision: Equatable {
        var transition: AttemptRecord.Transition
        var breaker: BreakerEvent?
        /// Hold every submission until then (a 429's `Retry-After`).
        var holdUntil: Date?
        /// Pause everything for the credentials until then (Colt refused a fresh token).
        var credentialsPausedUntil: Date?
    }

    /// What the engine does after an attempt.
    enum Step: Equatable {
        /// Record this.
        case decided(Decision)
        /// A refusal that may hide an order: read the inventory, then ``afterRefusal(_:claim:code:policy:now:using:)``.
        case readInventory
    }

    /// Whether an order may exist under the row's tracking id after `result`.
    static func orderMayExist(_ claim: ClaimedRequest, _ result: AttemptResult?) -> Bool {
        claim.outcomeUnknown || (result?.mayHaveCreatedOrder ?? false)
    }

    /// Whether the row's retry budget (retry.max_attempts, retry.max_age) is spent once this
    /// attempt is counted.
    static func budgetSpent(_ claim: ClaimedRequest, policy: RetryPolicy, now: Date) -> Bool {
        claim.attempt >= policy.maxAttempts || now.timeIntervalSince(claim.firstAttemptAt) >= policy.maxAge.seconds
    }

    /// The first table: where a row goes after `result`.
    static func afterAttempt(
        _ result: AttemptResult, claim: ClaimedRequest, policy: Policy, now: Date, using generator: inout some RandomNumberGenerator
    ) -> Step {
        let mayExist = orderMayExist(claim, result)
        switch result.outcome {
        case .accepted(let orderID):
            return .decided(Decision(transition: .accepted(orderID: orderID, orderStatus: "In progress"), breaker: .answered))
        case .rejected:
            // A refusal is final only if nothing under this tracking id can have made an order:
            // a lost earlier answer, or a copy libcurl resent by itself, may have, and Colt then
            // refuses the repeat because the numbers have moved on. (Even when a read just before
            // this send showed nothing: the lost request may have been processed since.)
            guard mayExist else { return .decided(Decision(transition: .rejected(coltCode: result.coltError?.code), breaker: .answered)) }
            return .readInventory
        case .unauthorized:
            let until = now.addingTimeInterval(policy.credentialsRetryInterval.seconds)
            let transition: AttemptRecord.Transition = mayExist
                ? .reconcile(at: until, countsAsAttempt: false) : .retry(at: until, countsAsAttempt: false)
            return .decided(Decision(transition: transition, credentialsPausedUntil: until))
        case .interrupted:
            return .decided(Decision(transition: interrupted(claim, now: now)))
        case .throttled, .serverError, .notSent, .timeout, .connectionLost, .badResponse:
            var decision = Decision(transition: .failed, breaker: .failed(retryAfter: result.retryAfter))
            if result.outcome == .throttled, let retryAfter = result.retryAfter {
                // Capped like a row's own wait: a gateway's skewed clock cannot stop everything for days.
                decision.holdUntil = now.addingTimeInterval(min(retryAfter, policy.retry.maxDelay).seconds)
            }
            var wait = policy.retry.delay(afterAttempt: claim.attempt, retryAfter: result.retryAfter, using: &generator)
            // A request that timed out or lost its connection may still be being processed at
            // Colt: the inventory is read no sooner than a whole request timeout later.
            if result.outcome == .timeout || result.outcome == .connectionLost {
                wait = max(wait, policy.requestTimeout)
            }
            let at = now.addingTimeInterval(wait.seconds)
            // An order may exist: never `failed` before the inventory has been read; the read
            // decides (and fails the row when the budget is spent and nothing was created).
            if mayExist {
                decision.transition = .reconcile(at: at, countsAsAttempt: true)
            } else if !budgetSpent(claim, policy: policy.retry, now: now) {
                decision.transition = .retry(at: at, countsAsAttempt: true)
            }
            return .decided(decision)
        }
    }

    /// After a refusal that may hide an order, and the reading it called for: nothing created
    /// makes the refusal final. The refused send spent its attempt.
    static func afterRefusal(
        _ verdict: ReconcileVerdict, claim: ClaimedRequest, code: String?, policy: Policy, now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> Decision {
        Decision(
            transition: afterVerdict(verdict, claim: claim, notCreated: .rejected(coltCode: code), countsAsAttempt: true,
                                     policy: policy.retry, now: now, using: &generator),
            breaker: .answered)
    }

    /// Before sending a row whose outcome is unknown, after reading the inventory: nothing
    /// created means send again now, unless the budget is spent (then `failed`). The read sends
    /// no order, so it spends no attempt.
    static func beforeResend(
        _ verdict: ReconcileVerdict, claim: ClaimedRequest, policy: RetryPolicy, now: Date, using generator: inout some RandomNumberGenerator
    ) -> AttemptRecord.Transition {
        // `attempt` is the number this send would be: the earlier ones are spent.
        let spent = claim.attempt > policy.maxAttempts || now.timeIntervalSince(claim.firstAttemptAt) >= policy.maxAge.seconds
        return afterVerdict(verdict, claim: claim, notCreated: spent ? .failed : .resendNow, countsAsAttempt: false,
                            policy: policy, now: now, using: &generator)
    }

    /// The second table: where a reading of the inventory leaves a row (invariant 9).
    static func afterVerdict(
        _ verdict: ReconcileVerdict, claim: ClaimedRequest, notCreated: AttemptRecord.Transition, countsAsAttempt: Bool,
        policy: RetryPolicy, now: Date, using generator: inout some RandomNumberGenerator
    ) -> AttemptRecord.Transition {
        switch verdict {
        case .adopt(let id, let status):
            return .accepted(orderID: id, orderStatus: status ?? "In progress")
        case .done(let id, let status):
            return .completed(orderID: id, orderStatus: status ?? "Completed")
        case .notCreated:
            return notCreated
        case .unclear:
            if now.timeIntervalSince(claim.firstAttemptAt) >= policy.maxAge.seconds { return .unresolved }
            let wait = policy.delay(afterAttempt: claim.lookups + 1, retryAfter: nil, using: &generator)
            return .reconcile(at: now.addingTimeInterval(wait.seconds), countsAsAttempt: countsAsAttempt)
        }
    }

    /// The daemon stopped before Colt answered: the inventory is read at the next start, before
    /// anything is sent again. The attempt is spent, as crash recovery spends it.
    static func interrupted(_ claim: ClaimedRequest, now: Date) -> AttemptRecord.Transition {
        .reconcile(at: now, countsAsAttempt: true)
    }

    /// No token, so nothing was sent: the row waits out the pause and spends no attempt.
    static func noToken(_ claim: ClaimedRequest, pause: Duration, now: Date) -> AttemptRecord.Transition {
        let at = now.addingTimeInterval(pause.seconds)
        return claim.outcomeUnknown ? .reconcile(at: at, countsAsAttempt: false) : .retry(at: at, countsAsAttempt: false)
    }
}
