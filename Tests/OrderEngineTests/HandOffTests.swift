import ColtModel
import Foundation
@testable import OrderEngine
@testable import OrderStore
import Testing

/// An answer hands its place in flight straight to the oldest row of the claim window
/// (``EngineState/answered(takeNext:now:clock:)``), unless the plan forbids a request now.
@Suite struct HandOffTests {
    func claim(_ id: Int64) -> ClaimedRequest {
        let request = try! OrderRequest(action: "return", country: "GB", rangeStart: "+442071000\(100 + id)", rangeEnd: nil, serviceProfile: nil)
        return ClaimedRequest(id: id, request: request, trackingID: TrackingID("co-\(id)")!, attempt: 1, journalID: id,
                              outcomeUnknown: false, firstAttemptAt: Date())
    }

    /// Two places, a high rate, one request in flight and rows 1 and 2 in the window.
    func state() async -> EngineState {
        var configuration = EngineConfiguration()
        configuration.maxInFlight = 2
        configuration.ratePerSecond = 1000
        let state = EngineState(configuration: configuration, wakeup: Wakeup())
        await state.started(1, clock: .now)
        await state.addToWindow([claim(1), claim(2)], at: .now)
        return state
    }

    @Test func theOldestWaitingRowTakesThePlaceAndTheLoopIsNotWoken() async {
        let state = await state()
        let next = await state.answered(takeNext: true, now: Date(), clock: .now)
        #expect(next?.id == 1)
        #expect(await state.inFlight == 1)
        #expect(await state.unfinished == 2, "the answer is still being recorded")
        #expect(await state.windowCount == 1)
        #expect(!state.takeCompletion())
        #expect(await state.answered(takeNext: true, now: Date(), clock: .now)?.id == 2)
        // The window is empty: the place is freed and the loop told.
        #expect(await state.answered(takeNext: true, now: Date(), clock: .now) == nil)
        #expect(await state.inFlight == 0)
        #expect(state.takeCompletion())
    }

    @Test func noHandOffWhenCancelledStoppingFailedOrPaused() async {
        for stop in ["cancelled", "stopping", "failed", "paused"] {
            let state = await state()
            var takeNext = true
            switch stop {
            case "cancelled": takeNext = false
            case "stopping": state.requestStop()
            case "failed": await state.fail(CancellationError())
            default: await state.pauseAll(until: Date().addingTimeInterval(60))
            }
            _ = state.takeCompletion()
            #expect(await state.answered(takeNext: takeNext, now: Date(), clock: .now) == nil, "\(stop)")
            #expect(await state.inFlight == 0, "\(stop)")
            #expect(await state.windowCount == 2, "\(stop): the rows stay for the loop to send or put back")
            #expect(state.takeCompletion(), "\(stop): the loop is told the place is free")
        }
    }

    @Test func theLoopTakesWhatThePlanAllowsAndNothingOnceStopping() async {
        let state = await state()
        #expect(await state.takeFromWindow(now: Date(), clock: .now).map(\.id) == [1], "one place is free")
        #expect(await state.inFlight == 2)
        #expect(await state.takeFromWindow(now: Date(), clock: .now).isEmpty, "every place is busy")
        await state.finished()
        state.requestStop()
        #expect(await state.takeFromWindow(now: Date(), clock: .now).isEmpty)
        #expect(await state.expireWindow(at: .now, force: true).map(\.id) == [2])
    }
}
