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
    }

    /// The connection is gone: what was held can no longer be written.
    private func dropHeld() {
        release?.cancel()
        release = nil
        flushHeld = false
        let parts = held
        held = []
        for (_, promise) in parts { promise?.fail(ChannelError.ioOnClosedChannel) }
    }
}
