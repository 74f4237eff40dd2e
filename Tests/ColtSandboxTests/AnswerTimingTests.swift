@testable import ColtSandbox
import Foundation
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// The injected latency, timed on the event loop by ``AnswerTiming``.
@Suite("Answer timing")
struct AnswerTimingTests {
    static let body = orderBody("+442081324758", country: "GB", serviceProfile: "ANH")

    /// A response head that asks to be written at `answerAt`, as the responder makes it.
    static func response(_ status: HTTPResponse.Status, answerAt: NIODeadline) -> HTTPResponse {
        var response = HTTPResponse(status: status)
        response.headerFields[AnswerTiming.answerAtHeader] = String(answerAt.uptimeNanoseconds)
        return response
    }

    @Test("a response that names its instant is held, with what follows it, until then; the header is removed")
    func heldUntilTheInstant() throws {
        let channel = EmbeddedChannel(handler: AnswerTiming())
        let answerAt = NIODeadline.now() + .seconds(10)
        let response = Self.response(.ok, answerAt: answerAt)
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.write(HTTPResponsePart.head(response), promise: nil)
        channel.write(HTTPResponsePart.body(ByteBuffer(string: "{}")), promise: nil)
        channel.writeAndFlush(HTTPResponsePart.end(nil), promise: written)
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)

        channel.embeddedEventLoop.advanceTime(to: answerAt)
        guard case .head(let head)? = try channel.readOutbound(as: HTTPResponsePart.self) else {
            Issue.record("no head written at the instant")
            return
        }
        #expect(head.status == .ok)
        #expect(head.headerFields[AnswerTiming.answerAtHeader] == nil)
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == .body(ByteBuffer(string: "{}")))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == .end(nil))
        #expect(throws: Never.self) { try written.futureResult.wait() }
        _ = try channel.finish()
    }

    @Test("an instant already past, or none, is written at once")
    func pastOrNoInstant() throws {
        let channel = EmbeddedChannel(handler: AnswerTiming())
        let late = Self.response(.ok, answerAt: NIODeadline.now() - .milliseconds(5))
        try channel.writeOutbound(HTTPResponsePart.head(late))
        guard case .head(let head)? = try channel.readOutbound(as: HTTPResponsePart.self) else {
            Issue.record("a past instant was waited for")
            return
        }
        #expect(head.headerFields[AnswerTiming.answerAtHeader] == nil)
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .created)))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == .head(HTTPResponse(status: .created)))
        _ = try channel.finish()
    }

    @Test("what is held when the connection closes fails, and is never written")
    func closedWhileHeld() throws {
        let channel = EmbeddedChannel(handler: AnswerTiming())
        let answerAt = NIODeadline.now() + .seconds(10)
        let response = Self.response(.ok, answerAt: answerAt)
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(HTTPResponsePart.head(response), promise: written)
        channel.pipeline.fireChannelInactive()
        #expect(throws: ChannelError.self) { try written.futureResult.wait() }
        channel.embeddedEventLoop.advanceTime(to: answerAt)
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)
    }

    @Test("a close asked for while an answer is held waits for it: the answer is written, then the connection closes",
          arguments: [CloseMode.output, .all])
    func closeWaitsForTheHeldAnswer(mode: CloseMode) throws {
        let channel = EmbeddedChannel(handler: AnswerTiming())
        let answerAt = NIODeadline.now() + .seconds(10)
        let response = Self.response(.created, answerAt: answerAt)
        channel.write(HTTPResponsePart.head(response), promise: nil)
        channel.write(HTTPResponsePart.body(ByteBuffer(string: "{}")), promise: nil)
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(HTTPResponsePart.end(nil), promise: written)
        let closed = channel.eventLoop.makePromise(of: Void.self)
        var closeDone = false
        closed.futureResult.assumeIsolated().whenComplete { _ in closeDone = true }
        channel.close(mode: mode, promise: closed)
        #expect(!closeDone, "the close went through before the answer was written")
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)

        channel.embeddedEventLoop.advanceTime(to: answerAt)
        guard case .head(let head)? = try channel.readOutbound(as: HTTPResponsePart.self) else {
            Issue.record("the held answer was not written before the close")
            return
        }
        #expect(head.status == .created)
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == .body(ByteBuffer(string: "{}")))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == .end(nil))
        #expect(throws: Never.self) { try written.futureResult.wait() }
        channel.embeddedEventLoop.run()
        #expect(closeDone, "the close was never forwarded")
        _ = try? channel.finish()
    }

    @Test("each request head gets its arrival; a client's own value is replaced")
    func arrivalStamped() throws {
        let channel = EmbeddedChannel(handler: AnswerTiming())
        var request = HTTPRequest(method: .post, scheme: "http", authority: "sandbox", path: "/numberManagement/v1/return/order")
        request.headerFields[AnswerTiming.arrivedHeader] = "0"
        let before = NIODeadline.now().uptimeNanoseconds
        try channel.writeInbound(HTTPRequestPart.head(request))
        guard case .head(let head)? = try channel.readInbound(as: HTTPRequestPart.self) else {
            Issue.record("no head read")
            return
        }
        let arrived = try #require(head.headerFields[AnswerTiming.arrivedHeader].flatMap { UInt64($0) })
        #expect(arrived >= before && arrived <= NIODeadline.now().uptimeNanoseconds)
        _ = try channel.finish()
    }

    @Test("over HTTP: the order is made at the end of the latency, not on arrival; no timing header reaches the client, and a client cannot shorten the wait")
    func overHTTP() async throws {
        try await withSandbox({ $0.faults = [.latency(milliseconds: 600, path: .order)] }) { sandbox in
            let token = try await accessToken(sandbox)
            let clock = ContinuousClock()
            let start = clock.now
            async let answer = postOrder(sandbox, body: Self.body, token: token, extra: ["-H", "x-sandbox-arrived: 0"])
            try await Task.sleep(for: .milliseconds(550))
            #expect(await sandbox.orders().isEmpty, "the order was made before the end of the latency (600 ms)")
            let result = try await answer
            #expect(clock.now - start >= .milliseconds(600))
            #expect(result.status == 201 || result.status == 200, "\(result.status) \(result.text)")
            #expect(result.orderID != nil)
            #expect(result.headers["x-sandbox-answer-at"] == nil)
            #expect(result.headers["x-sandbox-arrived"] == nil)
            #expect(await sandbox.orders().count == 1)
        }
    }
}
