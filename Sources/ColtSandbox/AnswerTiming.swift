import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Times the sandbox's injected latency on the connection's event loop, where a timer is
/// precise and the answer is written without a hop to another thread.
///
/// - Inbound, each request head gets its arrival, read off the event loop's clock, in
///   ``arrivedHeader`` (any value a client sent there is replaced).
/// - Outbound, a response head that carries ``answerAtHeader`` is held, with the parts that
///   follow it, until that instant; the header itself is removed. An instant already past is
///   not waited for.
///
/// A close asked for while an answer is held waits for it: the held parts are written and
/// flushed, then the close goes on, as it would have after an answer written at once.
///
/// Pipelined requests on one connection are not timed apart: while an answer is held, the
/// answers behind it wait with it (HTTP/1.1 answers in order anyway), so the second is written
/// no earlier than the first's instant. The daemon does not pipeline.
///
/// Measured before this handler: timed by a task's sleep and counted from when the handler
/// began, 100 ms of latency answered 101.5 ms (mean) after the request's bytes were read, so no
/// client could reach the 320/s that 32 in flight at 100 ms allow.
final class AnswerTiming: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// When the request's head was read: `NIODeadline.uptimeNanoseconds`, in decimal.
    static let arrivedHeader = HTTPField.Name("x-sandbox-arrived")!
    /// When to write the answer: `NIODeadline.uptimeNanoseconds`, in decimal.
    static let answerAtHeader = HTTPField.Name("x-sandbox-answer-at")!

    private var held: [(part: HTTPResponsePart, promise: EventLoopPromise<Void>?)] = []
    private var flushHeld = false
    private var release: Scheduled<Void>?
    /// Closes asked for while an answer was held, forwarded in order once it is written.
    private var pendingCloses: [(mode: CloseMode, promise: EventLoopPromise<Void>?)] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var part = unwrapInboundIn(data)
        if case .head(var head) = part {
            head.headerFields[Self.arrivedHeader] = String(NIODeadline.now().uptimeNanoseconds)
            part = .head(head)
        }
        context.fireChannelRead(wrapInboundOut(part))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var part = unwrapOutboundIn(data)
        if case .head(var head) = part, let answerAt = head.headerFields[Self.answerAtHeader] {
            head.headerFields[Self.answerAtHeader] = nil
            part = .head(head)
            if release == nil, let nanos = UInt64(answerAt), nanos > NIODeadline.now().uptimeNanoseconds {
                release = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(nanos)) {
                    self.releaseHeld(context: context)
                }
            }
        }
        if release != nil {
            held.append((part, promise))
        } else {
            context.write(wrapOutboundOut(part), promise: promise)
        }
    }

    func flush(context: ChannelHandlerContext) {
        if release != nil { flushHeld = true } else { context.flush() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if release != nil, mode != .input {
            pendingCloses.append((mode, promise))
        } else {
            context.close(mode: mode, promise: promise)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        dropHeld()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        dropHeld()
    }

    private func releaseHeld(context: ChannelHandlerContext) {
        release = nil
        let parts = held
        held = []
        for (part, promise) in parts { context.write(wrapOutboundOut(part), promise: promise) }
        if flushHeld {
            flushHeld = false
            context.flush()
        }
        let closes = pendingCloses
        pendingCloses = []
        for (mode, promise) in closes { context.close(mode: mode, promise: promise) }
    }

    /// The connection is gone: what was held can no longer be written.
    private func dropHeld() {
        release?.cancel()
        release = nil
        flushHeld = false
        let parts = held
        held = []
        for (_, promise) in parts { promise?.fail(ChannelError.ioOnClosedChannel) }
        let closes = pendingCloses
        pendingCloses = []
        for (_, promise) in closes { promise?.fail(ChannelError.alreadyClosed) }
    }
}
