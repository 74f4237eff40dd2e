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

/// Which hosts are loopback, for the rules that allow plain HTTP or an unauthenticated
/// endpoint only there.
public enum LoopbackHost {
    /// Only literal loopback addresses (127.0.0.0/8 in canonical dotted decimal, `::1`, bracketed or not)
    /// and `localhost`: never a DNS name that merely starts with `127.` (`127.0.0.1.nip.io`,
    /// `127.evil.example` resolve anywhere).
    public static func isLoopback(_ host: String) -> Bool {
        var bare = host.lowercased()
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        if bare == "localhost" || bare == "::1" || bare == "0:0:0:0:0:0:0:1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        // Canonical dotted decimal only: a leading zero (`127.0.0.010`) is octal to some
        // resolvers and a name to others.
        return parts.allSatisfy { part in
            (1...3).contains(part.utf8.count) && part.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                && (Int(part) ?? 256) <= 255 && (part == "0" || part.first != "0")
        }
    }
}
