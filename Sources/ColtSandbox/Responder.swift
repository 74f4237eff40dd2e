import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Request context that keeps the connection's channel (to drop or hold it for faults).
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Routes every request: Colt endpoints through faults and the state actor, `/_sandbox/` to control.
struct SandboxResponder: HTTPResponder {
    typealias Context = SandboxRequestContext

    let state: SandboxState
    let logger: Logger
    let stopping: StopSignal

    private static let maxBody = 1 << 20
    /// How long before the end of an injected latency the request is worked on, so that the
    /// answer is ready when AnswerTiming writes it (the work takes 0.3 ms median, 1 ms at the
    /// 90th percentile under load).
    private static let workAhead = TimeAmount.milliseconds(2)
    private static let trackingHeader = HTTPField.Name("x-tracking-id")!

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        let path = request.uri.path
        let method = request.method.rawValue
        let trackingID = request.headers[Self.trackingHeader]

        let reply: SandboxReply
        if path == "/_sandbox" || path.hasPrefix("/_sandbox/") {
            reply = await self.control(&request, path: path)
        } else {
            reply = await self.colt(&request, path: path, trackingID: trackingID)
        }

        var line = "\(method) \(path) x-tracking-id=\(trackingID ?? "-") "
        switch reply.disposition {
        case .respond: line += "status=\(reply.status)"
        case .hang: line += "status=none (hang)"
        case .drop: line += "status=none (dropped after processing as \(reply.status))"
        }
        if let fault = reply.fault { line += " fault=\(fault.rawValue)" }
        self.logger.info("\(line)")

        switch reply.disposition {
        case .respond:
            var response = Self.response(reply)
            if let answerAt = reply.answerAt {
                response.headers[AnswerTiming.answerAtHeader] = String(answerAt.uptimeNanoseconds)
            }
            return response
        case .drop:
            // Dropped when the answer would have been written, at the end of the latency.
            if let answerAt = reply.answerAt, case let wait = answerAt - .now(), wait > .zero {
                try? await Task.sleep(for: .nanoseconds(wait.nanoseconds), tolerance: .zero)
            }
            try? await context.channel.close()
            throw CancellationError()
        case .hang:
            await self.hold(context.channel)
            try? await context.channel.close()
            throw CancellationError()   // no response: the connection is gone
        }
    }

    /// Holds the connection without answering until the client goes away or the sandbox stops.
    private func hold(_ channel: any Channel) async {
        guard self.stopping.hold(channel) else { return }
        defer { self.stopping.release(channel) }
        // The server allows half-closed connections, so a client that gives up only shows as
        // "input closed": close the connection then, so the wait below ends.
        _ = try? await channel.pipeline.addHandler(CloseWhenInputCloses(), position: .first).get()
        await withTaskCancellationHandler {
            try? await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    private static func response(_ reply: SandboxReply) -> Response {
        var fields = HTTPFields()
        for (name, value) in reply.headers.sorted(by: { $0.key < $1.key }) {
            if let fieldName = HTTPField.Name(name) { fields[fieldName] = value }
        }
        return Response(
            status: HTTPResponse.Status(code: reply.status, reasonPhrase: SandboxReply.reasonPhrase(reply.status)),
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body))
        )
    }

    private func readBody(_ request: inout Request) async -> [UInt8]? {
        guard let buffer = try? await request.collectBody(upTo: Self.maxBody) else { return nil }
        return Array(buffer.readableBytesView)
    }

    // MARK: Colt endpoints

    private func colt(_ request: inout Request, path: String, trackingID: String?) async -> SandboxReply {
        let arrived = request.headers[AnswerTiming.arrivedHeader].flatMap { UInt64($0) }.map(NIODeadline.uptimeNanoseconds) ?? .now()
        await self.state.recordRequest(path: path, trackingID: trackingID)
        guard let endpoint = ColtEndpoint(rawValue: path) else {
            return .error(404, "404", "Not Found", "No resource at \(path)")
        }
        guard request.method.rawValue == endpoint.method else {
            return .error(405, "405", "Method Not Allowed", "\(path) answers \(endpoint.method) only",
                          headers: ["Allow": endpoint.method])
        }
        // Faults are drawn in the order requests arrive, before anything else is awaited.
        let (latency, fault) = await self.state.drawFaults(for: endpoint)
        // The body is read before the latency, as a server reads a request before working on
        // it: read after, it added 0.1 ms (median) to every answer.
        guard let body = await self.readBody(&request) else {
            return .error(413, "005", "Content Too Large", "The request body exceeds \(Self.maxBody) bytes")
        }
        // Counted from the request's arrival, so that 100 ms of latency is 100 ms however busy
        // the sandbox is: the benchmark's ideal throughput depends on it. The request is worked
        // on in the last ``workAhead`` of it, and AnswerTiming writes the answer at the instant.
        let answerAt = arrived + .milliseconds(Int64(latency))
        if latency > 0 {
            let wake = answerAt - Self.workAhead - .now()
            if wake > .zero { try? await Task.sleep(for: .nanoseconds(wake.nanoseconds), tolerance: .zero) }
        }
        var reply = await self.answer(endpoint, &request, body: body, fault: fault, trackingID: trackingID)
        if latency > 0 { reply.answerAt = answerAt }
        return reply
    }

    /// What the endpoint answers (or the fault), once the latency has passed.
    private func answer(_ endpoint: ColtEndpoint, _ request: inout Request, body: [UInt8], fault: FaultRule?,
                        trackingID: String?) async -> SandboxReply {
        if let fault {
            if fault.kind == .hang {
                return SandboxReply(status: 0, disposition: .hang, fault: .hang)
            }
            if let canned = SandboxReply.fault(fault) { return canned }
        }

        let headers = request.headers
        var reply: SandboxReply
        switch endpoint {
        case .token:
            reply = await self.state.issueToken(
                trackingID: trackingID, authorization: headers[.authorization],
                contentType: headers[.contentType], body: body)
        case .returnOrder, .reactivateOrder:
            reply = await self.state.submitOrder(
                endpoint: endpoint, trackingID: trackingID, authorization: headers[.authorization],
                contentType: headers[.contentType], body: body)
        case .number:
            let query = request.uri.queryParameters
            reply = await self.state.queryNumbers(
                authorization: headers[.authorization],
                start: query["numberRangeStart"].map(Self.e164Parameter),
                end: query["numberRangeEnd"].map(Self.e164Parameter),
                orderID: (query["orderID"] ?? query["orderId"]).map(String.init),
                offset: query["offset"].flatMap { Int($0) }, limit: query["limit"].flatMap { Int($0) })
        }

        switch fault?.kind {
        case .createThen504?:
            var gateway = SandboxReply.html(504, title: "Gateway Time-out")
            if let retryAfter = fault?.retryAfter { gateway.headers["Retry-After"] = retryAfter }
            gateway.fault = .createThen504
            return gateway
        case .createThenDrop?:
            reply.disposition = .drop
            reply.fault = .createThenDrop
            return reply
        default:
            return reply
        }
    }

    /// A number from a query string; a `+` that a form decoder turned into a space is restored.
    private static func e164Parameter(_ value: Substring) -> String {
        value.hasPrefix(" ") ? "+" + value.dropFirst() : String(value)
    }

    // MARK: Control API

    private func control(_ request: inout Request, path: String) async -> SandboxReply {
        let method = request.method.rawValue
        let query = request.uri.queryParameters
        switch (method, path) {
        case ("GET", "/_sandbox/orders"):
            if let trackingID = query["trackingId"] {
                return .json(200, await self.state.orders(forTrackingID: String(trackingID)))
            }
            if let number = query["number"] {
                return .json(200, await self.state.orders(forNumber: Self.e164Parameter(number)))
            }
            return .json(200, await self.state.orders())
        case ("GET", "/_sandbox/stats"):
            var stats = await self.state.stats()
            stats.heldConnections = self.stopping.heldCount
            return .json(200, stats)
        case ("GET", "/_sandbox/faults"):
            return .json(200, await self.state.currentFaults())
        case ("PUT", "/_sandbox/faults"):
            guard let body = await self.readBody(&request) else {
                return .error(413, "005", "Content Too Large", "Body too large")
            }
            do {
                let rules = try JSONDecoder().decode([FaultRule].self, from: Data(body))
                await self.state.setFaults(rules)
                return .json(200, rules)
            } catch {
                return .error(400, "005", "Invalid parameter", "Expected a JSON array of fault rules: \(error)")
            }
        case ("POST", "/_sandbox/expire-tokens"):
            await self.state.expireTokens()
            return .json(200, ["expired": true])
        case ("GET", "/_sandbox/numbers"):
            return .json(200, await self.state.inventorySnapshot())
        default:
            return .error(404, "404", "Not Found", "No sandbox control endpoint \(method) \(path)")
        }
    }
}

/// Closes a connection as soon as the peer closes its side (used for held connections).
final class CloseWhenInputCloses: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}
