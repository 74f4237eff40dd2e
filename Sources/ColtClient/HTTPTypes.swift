/// One HTTP request for ``CurlTransport``.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, ...
    public var method: String
    /// The absolute `http` or `https` URL.
    public var url: String
    /// Request headers, in order. Values of `Authorization` never appear in any error text.
    public var headers: [(name: String, value: String)]
    /// The request body; `nil` for none.
    public var body: [UInt8]?
    /// The longest the whole exchange may take.
    public var timeout: Duration
    /// The longest the connection set-up (TCP and TLS) may take.
    public var connectTimeout: Duration
    /// A PEM file of trusted CAs (`CURLOPT_CAINFO`); `nil` uses the system's trust store.
    public var caFile: String?
    /// The largest response body accepted; a larger one is cut off and the transfer aborted.
    public var maxResponseBytes: Int

    /// A request with the given parts and default limits (30 s, 10 s to connect, 1 MiB).
    public init(
        method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(10), caFile: String? = nil,
        maxResponseBytes: Int = 1 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.caFile = caFile
        self.maxResponseBytes = maxResponseBytes
    }
}

/// What one HTTP request produced: a response, part of one, or a transport error.
public struct HTTPExchange: Sendable {
    /// The final response's status code; `nil` when no HTTP status line arrived.
    public var status: Int?
    /// The final response's headers, names lowercased, in arrival order.
    public var headers: [(name: String, value: String)]
    /// The response body, at most the request's `maxResponseBytes`.
    public var body: [UInt8]
    /// Whether the body was cut off at `maxResponseBytes`.
    public var bodyTruncated: Bool
    /// Why the exchange did not complete; `nil` when a whole response arrived.
    public var transportError: TransportError?
    /// How long the exchange took, from ``CurlTransport/perform(_:)`` to its answer.
    public var duration: Duration
    /// How many times the request went out: 2 when libcurl resent it by itself on a fresh
    /// connection because the reused one had closed before any answer (it does so even for
    /// a POST). The same bytes and tracking id, but the first copy may have been processed.
    public var sends = 1

    /// An exchange made of the given parts (for tests and tools).
    public init(
        status: Int?, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
        bodyTruncated: Bool = false, transportError: TransportError? = nil, duration: Duration = .zero
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyTruncated = bodyTruncated
        self.transportError = transportError
        self.duration = duration
    }

    /// The first value of the header `name` (case-insensitive), or `nil`.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }
}

extension String {
    /// Equal byte for byte, ASCII letters compared without case: how HTTP header names compare.
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        utf8.elementsEqual(other.utf8) { asciiLowercased($0) == asciiLowercased($1) }
    }
}

/// `byte` with an ASCII capital letter made small.
func asciiLowercased(_ byte: UInt8) -> UInt8 {
    (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
}

/// Why an HTTP exchange did not complete.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// The class of failure, which decides whether the request may have reached the server.
    public enum Kind: String, Sendable {
        /// The request certainly never reached the server: DNS failure, connection refused,
        /// connect timeout, proxy failure, bad URL.
        case notSent
        /// No complete answer in time after the request was (or may have been) sent.
        case timeout
        /// The connection broke after the request was (or may have been) sent.
        case connectionLost
        /// The TLS handshake failed (certificate, protocol): the request was never sent.
        case tls
        /// The response body exceeded `maxResponseBytes`; the transfer was aborted.
        case tooLarge
        /// The caller's task was cancelled or the transport shut down.
        case cancelled
    }

    /// The class of failure.
    public var kind: Kind
    /// libcurl's `CURLcode` (0 when the failure did not come from libcurl).
    public var curlCode: Int32
    /// One human line, e.g. `connection refused to 127.0.0.1:9 (curl 7)`; never contains a secret.
    public var message: String
    /// Whether any byte of the request may have left this process. Always `false` for
    /// `.notSent` and `.tls`; for `.cancelled` it tells whether the server may have seen it.
    public var requestMayHaveBeenSent: Bool

    /// A transport error of the given parts.
    public init(kind: Kind, curlCode: Int32, message: String, requestMayHaveBeenSent: Bool? = nil) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
        switch kind {
        case .notSent, .tls: self.requestMayHaveBeenSent = false
        default: self.requestMayHaveBeenSent = requestMayHaveBeenSent ?? true
        }
    }

    /// The message.
    public var description: String { message }
}

extension Duration {
    /// Whole milliseconds, at least 1 for a positive duration; clamped to `Int.max`.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        if seconds > Int64(Int.max / 1000 - 1) { return Int.max }
        let ms = Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        return ms == 0 && attoseconds > 0 ? 1 : ms
    }

    /// Seconds as a short text: `30 s`, `0.5 s`.
    var humanSeconds: String {
        let ms = milliseconds
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        var fraction = String(ms % 1000)
        while fraction.count < 3 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(ms / 1000).\(fraction) s"
    }
}
