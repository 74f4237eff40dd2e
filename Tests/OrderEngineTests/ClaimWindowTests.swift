import ColtModel
import Foundation
@testable import OrderEngine
@testable import OrderStore
import Testing

@Suite struct ClaimWindowTests {
    func claim(_ id: Int64) -> ClaimedRequest {
        let request = try! OrderRequest(action: "return", country: "GB", rangeStart: "+442071000\(100 + id)", rangeEnd: nil, serviceProfile: nil)
        return ClaimedRequest(id: id, request: request, trackingID: TrackingID("co-\(id)")!, attempt: 1, journalID: id,
                              outcomeUnknown: false, firstAttemptAt: Date())
    }

    /// About 100 ms of sending at the rate limit, never more than the places in flight, none
    /// below 10 requests per second.
    @Test(arguments: [
        (32, 100_000.0, 32), (32, 100.0, 10), (4, 10.0, 1), (4, 9.99, 0), (8, 0.5, 0), (1, 2000.0, 1), (0, 2000.0, 0),
        (64, Double.greatestFiniteMagnitude, 64),
    ])
    func theLimitFollowsTheRateAndThePlacesInFlight(maxInFlight: Int, rate: Double, limit: Int) {
        #expect(ClaimWindow.limit(maxInFlight: maxInFlight, ratePerSecond: rate) == limit)
    }

    @Test func rowsLeaveInClaimOrder() {
        var window = ClaimWindow()
        let now = ContinuousClock.now
        window.add([claim(1), claim(2)], at: now)
        window.add([claim(3)], at: now + .milliseconds(10))
        #expect(window.take(2).map(\.id) == [1, 2])
        #expect(window.take(5).map(\.id) == [3])
        #expect(window.take(1).isEmpty)
        #expect(window.deadline == nil)
    }

    /// When the oldest row has waited a second, every row goes back; a stop puts them back at once.
    @Test func rowsThatWaitTooLongArePutBack() {
        var window = ClaimWindow()
        let now = ContinuousClock.now
        window.add([claim(1)], at: now)
        window.add([claim(2)], at: now + .milliseconds(500))
        #expect(window.deadline == now + ClaimWindow.maxWait)
        #expect(window.expire(at: now + .milliseconds(999)).isEmpty)
        #expect(window.expire(at: now + ClaimWindow.maxWait).map(\.id) == [1, 2])
        #expect(window.isEmpty)
        window.add([claim(3)], at: now)
        #expect(window.expire(at: now, force: true).map(\.id) == [3])
    }
}
