import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A tiny scripted HTTP/1.1 server on 127.0.0.1 over plain POSIX sockets: one thread accepts,
/// one thread per connection serves. Each request is answered by the script, which can also
/// misbehave (hang, close, lie about lengths, send 10 MB).
final class LoopbackServer: Sendable {
    /// What to do with one request.
    enum Reply: Sendable {
        /// A normal answer; `Content-Length` is added unless given.
        case respond(status: Int, headers: [(String, String)], body: [UInt8])
        /// These bytes as is, then close.
        case raw([UInt8])
        /// Never answer (until the client goes away or the server stops).
        case hang
        /// Close the connection without a byte.
        case close
        /// Declare `declaredLength` body bytes, send `sent`, close.
        case partial(status: Int, declaredLength: Int, sent: [UInt8])
        /// A body of `bytes` zeros, streamed until the client stops reading.
        case huge(status: Int, bytes: Int)
        /// `reply` after a pause.
        indirect case delayed(Duration, Reply)

        static func json(_ status: Int, _ body: String, headers: [(String, String)] = []) -> Reply {
            .respond(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8))
        }
    }

    /// One request as received.
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        /// The request's bytes as they arrived.
        var raw: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
        var bodyText: String { String(decoding: body, as: UTF8.self) }
    }

    private struct State {
        var requests: [Request] = []
        var connections = 0
        var openSockets: Set<Int32> = []
        var stopped = false
    }

    let port: Int
    private let listener: Int32
    private let state = Mutex(State())
    private let script: @Sendable (Request) -> Reply

    /// Starts listening on 127.0.0.1 at a free port.
    init(backlog: Int32 = 1024, _ script: @escaping @Sendable (Request) -> Reply) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { state.withLock { $0.requests } }
    var connectionCount: Int { state.withLock { $0.connections } }

    /// Stops accepting and closes every connection.
    func stop() {
        // Under the lock: a connection thread removes its socket under it before closing, so
        // every number in the set is still our open socket (not a reused descriptor).
        state.withLock { state in
            state.stopped = true
            shutdown(listener, Int32(SHUT_RDWR))
            for socket in state.openSockets { shutdown(socket, Int32(SHUT_RDWR)) }
        }
    }

    deinit {
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.connections += 1
                state.openSockets.insert(client)
                return true
            }
            guard accepted else {
                close(client)
                return
            }
            let thread = Thread { [self] in
                serve(client)
                _ = state.withLock { $0.openSockets.remove(client) }
                close(client)
            }
            thread.start()
        }
    }

    private func serve(_ socket: Int32) {
        var buffer: [UInt8] = []
        while true {
            guard let request = readRequest(socket, &buffer) else { return }
            state.withLock { $0.requests.append(request) }
            guard answer(script(request), to: socket, request: request) else { return }
        }
    }

    /// Answers; returns whether the connection stays open.
    private func answer(_ reply: Reply, to socket: Int32, request: Request) -> Bool {
        switch reply {
        case let .respond(status, headers, body):
            var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            if !headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                head += "Content-Length: \(body.count)\r\n"
            }
            head += "\r\n"
            guard write(socket, Array(head.utf8) + body) else { return false }
            return request.header("connection")?.lowercased() != "close"
        case let .raw(bytes):
            _ = write(socket, bytes)
            return false
        case .hang:
            var scratch = [UInt8](repeating: 0, count: 4096)
            while recv(socket, &scratch, scratch.count, 0) > 0 {}
            return false
        case .close:
            return false
        case let .partial(status, declaredLength, sent):
            let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(declaredLength)\r\n\r\n"
            _ = write(socket, Array(head.utf8) + sent)
            return false
        case let .huge(status, bytes):
            let head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(bytes)\r\n\r\n"
            guard write(socket, Array(head.utf8)) else { return false }
            let chunk = [UInt8](repeating: 0x41, count: 64 * 1024)
            var left = bytes
            while left > 0 {
                guard write(socket, Array(chunk.prefix(left))) else { return false }
                left -= min(left, chunk.count)
            }
            return false
        case let .delayed(pause, reply):
            Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
            return answer(reply, to: socket, request: request)
        }
    }

    private func write(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {
                if n < 0, errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Reads one whole request (headers and a Content-Length body); a TLS ClientHello counts as
    /// a request of method `TLS`. `nil` when the peer closed.
    private func readRequest(_ socket: Int32, _ buffer: inout [UInt8]) -> Request? {
        var scratch = [UInt8](repeating: 0, count: 65536)
        while true {
            if let first = buffer.first, first == 0x16 {
                let raw = buffer
                buffer = []
                return Request(method: "TLS", target: "", headers: [], body: [], raw: raw)
            }
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let requestLine = lines.removeFirst().split(separator: " ")
                let headers = lines.compactMap { line -> (name: String, value: String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (
                        name: String(line[..<colon]),
                        value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    )
                }
                let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
                if buffer.count >= end + 4 + length {
                    let raw = Array(buffer[..<(end + 4 + length)])
                    let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                    buffer.removeFirst(end + 4 + length)
                    return Request(
                        method: requestLine.first.map(String.init) ?? "",
                        target: requestLine.count > 1 ? String(requestLine[1]) : "",
                        headers: headers, body: body, raw: raw)
                }
            }
            let n = recv(socket, &scratch, scratch.count, 0)
            if n <= 0 { return nil }
            buffer.append(contentsOf: scratch[..<n])
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// A TCP port on 127.0.0.1 that nobody listens on (bound, then closed).
func unusedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A listening socket that never accepts, its accept queue filled: connecting to it hangs.
final class SaturatedListener {
    let port: Int
    private var sockets: [Int32] = []

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        listen(fd, 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        sockets.append(fd)
        // Fill the queue: non-blocking connects until one stays pending.
        for _ in 0..<4 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            sockets.append(client)
        }
    }

    deinit {
        for socket in sockets { close(socket) }
    }
}
