@testable import ColtClient
import ColtModel
import Logging

/// A client configuration pointing at a loopback server, with short timeouts.
func configuration(_ baseURL: String, timeout: Duration = .seconds(5)) -> ColtClientConfiguration {
    var configuration = ColtClientConfiguration(
        baseURL: baseURL, clientID: "client-id-1", clientSecret: Secret("client-s3cret-value"))
    configuration.requestTimeout = timeout
    configuration.connectTimeout = .seconds(2)
    return configuration
}

/// A Colt API over a fresh transport; shut the transport down after use.
func makeAPI(_ baseURL: String, timeout: Duration = .seconds(5)) throws -> (ColtAPI, CurlTransport) {
    let transport = try CurlTransport()
    let api = ColtAPI(
        configuration: configuration(baseURL, timeout: timeout), transport: transport,
        logger: Logger(label: "colt-client-tests"))
    return (api, transport)
}

let testToken = BearerToken(value: "tok-SECRET-4711-abcdef", expiresAt: .now + .seconds(1800))

func order(_ action: String = "return", serviceProfile: String? = "ANH", end: String? = nil) throws -> OrderRequest {
    try OrderRequest(
        action: action, country: "GB", rangeStart: "+442081324758", rangeEnd: end, serviceProfile: serviceProfile)
}

/// A plain GET through a transport.
func get(_ transport: CurlTransport, _ url: String, timeout: Duration = .seconds(5), max: Int = 1 << 20) async
    -> HTTPExchange
{
    await transport.perform(
        HTTPRequest(method: "GET", url: url, timeout: timeout, connectTimeout: .seconds(2), maxResponseBytes: max))
}
