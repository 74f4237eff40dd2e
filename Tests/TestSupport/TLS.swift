import Foundation

/// A throwaway private CA and a server certificate it signed, for 127.0.0.1 and localhost,
/// made with the openssl CLI.
public struct TestCertificates: Sendable {
    /// The CA's certificate: what a client must be told to trust (`api.ca_file`, `curl --cacert`).
    public let ca: String
    /// The server's certificate, signed by the CA.
    public let certificate: String
    /// The server certificate's private key.
    public let key: String

    /// Makes the CA and the server certificate in `directory`.
    public init(in directory: TemporaryDirectory) throws {
        let script = """
            set -e
            cd '\(directory.path)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=colt-orders test CA'
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1'
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf
            """
        let result = try run("/bin/bash", ["-c", script])
        guard result.status == 0 else { throw TestFailure("openssl failed: \(result.stderr)") }
        (ca, certificate, key) = (directory.file("ca.pem"), directory.file("server.pem"), directory.file("server.key"))
    }
}

/// HTTPS in front of a plain-HTTP server on loopback: `scripts/lib/tls-front.py`, a Python `ssl`
/// process that decrypts and forwards the bytes. The sandbox serves plain HTTP only, so the
/// tests that prove the daemon verifies certificates talk to it through one of these.
public final class TLSFront: Sendable {
    /// `https://127.0.0.1:PORT`, the address to give clients.
    public let baseURL: String
    private let process: DaemonProcess

    private init(baseURL: String, process: DaemonProcess) {
        self.baseURL = baseURL
        self.process = process
    }

    /// The script, found from this file's place in the repository.
    public static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/lib/tls-front.py").path

    /// Starts a front serving `certificates` and forwarding to `127.0.0.1:upstreamPort`; returns
    /// once it listens.
    public static func start(_ certificates: TestCertificates, upstreamPort: Int, directory: TemporaryDirectory) async throws -> TLSFront {
        let process = try DaemonProcess(
            command: ["/usr/bin/env", "python3", script, "--cert", certificates.certificate, "--key", certificates.key,
                      "--upstream", "127.0.0.1:\(upstreamPort)"],
            directory: directory, name: "tls-front")
        var port: Int?
        do {
            try await eventually(timeout: .seconds(10), "the TLS front listens") {
                guard process.process.isRunning else { throw TestFailure("tls-front.py exited: \(process.stderr)") }
                port = process.stdout.split(separator: "\n").first.flatMap { Int($0) }
                return port != nil
            }
        } catch {
            process.signal(SIGKILL)
            throw error
        }
        return TLSFront(baseURL: "https://127.0.0.1:\(port!)", process: process)
    }

    /// Stops the front (SIGTERM) and waits for it to exit.
    public func stop() async {
        process.signal(SIGTERM)
        _ = try? await process.wait(timeout: .seconds(5))
    }
}
