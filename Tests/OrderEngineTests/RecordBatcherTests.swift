import ColtModel
import CSQLite
import Foundation
import Logging
@testable import OrderEngine
@testable import OrderStore
import Synchronization
import Testing

/// Group commit, on a commit function that stands in for the database: what goes into which
/// transaction, a lock waited out, a failure reaching exactly the records of its batch.
@Suite struct RecordBatcherTests {
    /// The batches the stand-in committed, in order, by request id.
    final class Commits: Sendable {
        let batches = Mutex<[[Int64]]>([])
        var all: [[Int64]] { batches.withLock { $0 } }
    }

    static let request = try! OrderRequest(action: "return", country: "GB", rangeStart: "+442081324758", rangeEnd: nil, serviceProfile: nil)

    static func record(_ id: Int64) -> AttemptRecord {
        let claim = ClaimedRequest(id: id, request: request, trackingID: TrackingID("co-\(id)")!, attempt: 1, journalID: id,
                                   outcomeUnknown: false, firstAttemptAt: Date())
        return AttemptRecord(claim: claim, endedAt: Date(), httpStatus: 201, outcome: "accepted", detail: "", responseBody: nil,
                             durationMilliseconds: 1, mayHaveCreatedOrder: false, transition: .accepted(orderID: "O-\(id)", orderStatus: "In progress"))
    }

    /// A batcher whose commits take `take` and go through `body` (which may throw).
    static func batcher(_ commits: Commits, take: Duration = .milliseconds(20),
                        _ body: @escaping @Sendable ([Int64]) throws -> Void = { _ in }) throws -> RecordBatcher {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("batcher-\(UUID().uuidString).db").path
        let queue = RequestQueue(database: try Database(path: path))
        return RecordBatcher(queue: queue, lock: LockedDatabase(logger: Logger(label: "test")), logger: Logger(label: "test")) { batch in
            try await Task.sleep(for: take)
            let ids = batch.map(\.claim.id)
            try body(ids)
            commits.batches.withLock { $0.append(ids) }
            return []
        }
    }

    @Test func recordsArrivingDuringACommitGoTogetherIntoTheNext() async throws {
        let commits = Commits()
        let batcher = try Self.batcher(commits)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...40 as ClosedRange<Int64> { group.addTask { try await batcher.record(Self.record(id)) } }
            try await group.waitForAll()
        }
        let batches = commits.all
        // Every record committed exactly once, and each caller returned only after its commit.
        #expect(batches.flatMap(\.self).sorted() == Array(1...40))
        // The first to arrive leads; those arriving during a commit go in the next: a few
        // transactions (each 20 ms here), not 40.
        #expect(batches.count <= 6, "\(batches.map(\.count))")
    }

    @Test func aLockHeldByAnotherProcessIsWaitedOut() async throws {
        let commits = Commits()
        let tries = Atomic<Int>(0)
        let batcher = try Self.batcher(commits, take: .zero) { _ in
            if tries.add(1, ordering: .relaxed).newValue <= 2 {
                throw DatabaseError(code: SQLITE_BUSY, path: "orders.db", message: "database is locked")
            }
        }
        let start = ContinuousClock.now
        try await batcher.record(Self.record(1))
        #expect(tries.load(ordering: .relaxed) == 3)
        #expect(commits.all == [[1]])
        #expect(ContinuousClock.now - start >= LockedDatabase.retryInterval * 2)
    }

    @Test func aFailedCommitFailsExactlyTheRecordsOfItsBatch() async throws {
        struct DiskFull: Error {}
        let commits = Commits()
        let batcher = try Self.batcher(commits) { ids in if ids.contains(2) { throw DiskFull() } }
        // 1 commits alone; 2 and 3 arrive during it and share the next batch, which fails.
        async let first: Void = batcher.record(Self.record(1))
        try await Task.sleep(for: .milliseconds(5))
        async let second: Result<Void, any Error> = Result { try await batcher.record(Self.record(2)) }
        async let third: Result<Void, any Error> = Result { try await batcher.record(Self.record(3)) }
        try await first
        let (two, three) = await (second, third)
        #expect(throws: DiskFull.self) { try two.get() }
        #expect(throws: DiskFull.self) { try three.get() }
        #expect(commits.all == [[1]])
        // The batcher is not stuck: a later record commits.
        try await batcher.record(Self.record(4))
        #expect(commits.all == [[1], [4]])
    }
}
