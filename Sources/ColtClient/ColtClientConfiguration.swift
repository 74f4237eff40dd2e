/// Where and how the client talks to Colt.
public struct ColtClientConfiguration: Sendable {
    /// The API's base URL without a trailing slash, e.g. `https://sandbox.apis.colt.net`
    /// or `http://127.0.0.1:8080`. A trailing slash is tolerated and removed.
    public var baseURL: String {
        didSet { baseURL = Self.trimmed(baseURL) }
    }
    /// The OAuth client id.
    public var clientID: String
    /// The OAuth client secret; never printed.
    public var clientSecret: Secret
    /// A PEM bundle of trusted CA certificates (`CURLOPT_CAINFO`); `nil` uses the system's.
    /// Peer and host name verification are always on.
    public var caFile: String?
    /// The longest one HTTP exchange may take, connection included.
    public var requestTimeout: Duration = .seconds(30)
    /// The longest the TCP and TLS connection set-up may take.
    public var connectTimeout: Duration = .seconds(10)
    /// Answers with a larger body are cut off there, the transfer is aborted, and the answer is
    /// treated as unparseable.
    public var maxResponseBytes: Int = 1 << 20
    /// The `User-Agent` header sent with every request.
    public var userAgent: String = "colt-orders/0.1"

    /// A configuration with default timeouts and limits.
    public init(baseURL: String, clientID: String, clientSecret: Secret) {
        self.baseURL = Self.trimmed(baseURL)
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
