@testable import ColtClient
import Foundation
import Testing

@Suite("CurlTransport over loopback")
struct TransportTests {
    @Test func plainExchangeReturnsStatusHeadersAndBody() async throws {
        let server = try LoopbackServer { _ in .respond(status: 201, headers: [("X-Thing", " a b ")], body: Array("hello".utf8)) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, server.baseURL + "/x")
        #expect(exchange.status == 201)
        #expect(exchange.transportError == nil)
        #expect(exchange.body == Array("hello".utf8))
        #expect(exchange.header("X-THING") == "a b")
        #expect(exchange.headers.allSatisfy { $0.name == $0.name.lowercased() })
        #expect(exchange.duration > .zero)
    }

    @Test func onlyTheFinalResponsesHeadersAreKept() async throws {
        let raw = "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\nHTTP/1.1 201 Created\r\nX-Final: 2\r\nContent-Length: 2\r\n\r\nok"
        let server = try LoopbackServer { _ in .raw(Array(raw.utf8)) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, server.baseURL + "/")
        #expect(exchange.status == 201)
        #expect(exchange.header("x-final") == "2")
        #expect(exchange.header("x-early") == nil)
        #expect(exchange.body == Array("ok".utf8))
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}") }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        for _ in 0..<20 {
            let exchange = await get(transport, server.baseURL + "/")
            #expect(exchange.status == 200)
        }
        #expect(server.requests.count == 20)
        #expect(server.connectionCount == 1)
    }

    /// A lull (one transfer at a time after many at once) closes none of the idle connections:
    /// the next burst reuses them all. libcurl's default cache (four idle connections per
    /// running transfer) closed one at each transfer's end in the lull, and the burst after it
    /// opened 28 anew.
    @Test func aLullKeepsTheIdleConnectionsForTheNextBurst() async throws {
        // The burst's answers wait, so that its transfers overlap; the lull's come at once.
        let server = try LoopbackServer { request in
            request.path.hasPrefix("/burst") ? .delayed(.milliseconds(300), .json(200, "{}")) : .json(200, "{}")
        }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        func burst() async -> Int {
            await withTaskGroup(of: Int.self) { group in
                for i in 0..<32 { group.addTask { await get(transport, server.baseURL + "/burst\(i)").status == 200 ? 1 : 0 } }
                return await group.reduce(0, +)
            }
        }
        #expect(await burst() == 32)
        let opened = server.connectionCount
        #expect(opened == 32, "the burst's transfers overlap, one connection each: \(opened)")
        for i in 0..<40 { #expect(await get(transport, server.baseURL + "/lull\(i)").status == 200) }
        #expect(await burst() == 32)
        #expect(server.connectionCount == opened, "connections opened again after the lull: \(server.connectionCount - opened)")
    }

    @Test func manyConcurrentTransfers() async throws {
        let server = try LoopbackServer { request in .json(200, "{\"path\":\"\(request.path)\"}") }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let statuses = await withTaskGroup(of: (Int, Int?, String).self) { group in
            for i in 0..<300 {
                group.addTask {
                    let exchange = await get(transport, server.baseURL + "/n\(i)")
                    let text = exchange.transportError?.message ?? String(decoding: exchange.body, as: UTF8.self)
                    return (i, exchange.status, text)
                }
            }
            var all: [(Int, Int?, String)] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(statuses.count == 300)
        for (i, status, body) in statuses where status != 200 || body != "{\"path\":\"/n\(i)\"}" {
            Issue.record("request \(i): \(status.map(String.init) ?? "-") \(body)")
        }
    }

    @Test func hugeBodyIsCutAtTheLimit() async throws {
        let server = try LoopbackServer { _ in .huge(status: 200, bytes: 10 << 20) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, server.baseURL + "/", max: 1 << 20)
        #expect(exchange.status == 200)
        #expect(exchange.body.count == 1 << 20)
        #expect(exchange.bodyTruncated)
        #expect(exchange.transportError?.kind == .tooLarge)
        #expect(AttemptResult.classify(exchange).outcome == .badResponse)
    }

    @Test func hangingServerTimesOut() async throws {
        let server = try LoopbackServer { _ in .hang }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let started = ContinuousClock.now
        let exchange = await get(transport, server.baseURL + "/", timeout: .milliseconds(500))
        #expect(ContinuousClock.now - started < .seconds(20), "it gave up instead of waiting for ever")
        #expect(exchange.status == nil)
        #expect(exchange.transportError?.kind == .timeout)
        #expect(exchange.transportError?.curlCode == 28)
        #expect(exchange.transportError?.message == "no answer within 0.5 s (curl 28)")
        #expect(AttemptResult.classify(exchange).outcome == .timeout)
    }

    @Test func closeWithoutAnswerIsConnectionLost() async throws {
        let server = try LoopbackServer { _ in .close }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, server.baseURL + "/")
        #expect(exchange.transportError?.kind == .connectionLost)
        #expect(exchange.transportError?.curlCode == 52)
        #expect(AttemptResult.classify(exchange).outcome == .connectionLost)
    }

    @Test func partialBodyIsConnectionLost() async throws {
        let server = try LoopbackServer { _ in .partial(status: 201, declaredLength: 100, sent: Array("{\"order\":".utf8)) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, server.baseURL + "/")
        #expect(exchange.status == 201)
        #expect(exchange.transportError?.kind == .connectionLost)
        #expect(exchange.transportError?.curlCode == 18)
        #expect(AttemptResult.classify(exchange).outcome == .connectionLost)
    }

    @Test func connectionRefusedIsNotSent() async throws {
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let port = unusedPort()
        let exchange = await get(transport, "http://127.0.0.1:\(port)/")
        let error = try #require(exchange.transportError)
        #expect(error.kind == .notSent)
        #expect(error.curlCode == 7)
        #expect(!error.requestMayHaveBeenSent)
        #expect(error.message.hasPrefix("connection refused to 127.0.0.1:\(port)"))
        #expect(AttemptResult.classify(exchange).outcome == .notSent)
    }

    @Test func dnsFailureIsNotSent() async throws {
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, "http://colt-orders-test.invalid/")
        let error = try #require(exchange.transportError)
        #expect(error.kind == .notSent)
        #expect(error.curlCode == 6)
        #expect(error.message.contains("colt-orders-test.invalid"))
        #expect(AttemptResult.classify(exchange).outcome == .notSent)
    }

    @Test func tlsToAPlainHTTPPortFailsAsTLS() async throws {
        let server = try LoopbackServer { _ in .raw(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, "https://127.0.0.1:\(server.port)/")
        let error = try #require(exchange.transportError)
        #expect(error.kind == .tls)
        #expect(error.curlCode == 35)
        #expect(!error.requestMayHaveBeenSent)
        #expect(server.requests.first?.method == "TLS")
        #expect(AttemptResult.classify(exchange).outcome == .notSent)
    }

    @Test func connectTimeoutIsNotSent() async throws {
        let listener = SaturatedListener()
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await transport.perform(
            HTTPRequest(
                method: "POST", url: "http://127.0.0.1:\(listener.port)/", body: Array("x".utf8),
                timeout: .seconds(5), connectTimeout: .milliseconds(300)))
        let error = try #require(exchange.transportError)
        #expect(error.curlCode == 28)
        #expect(error.kind == .notSent)
        #expect(AttemptResult.classify(exchange).outcome == .notSent)
        withExtendedLifetime(listener) {}
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try LoopbackServer { _ in .respond(status: 302, headers: [("Location", "/elsewhere")], body: []) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let exchange = await get(transport, server.baseURL + "/")
        #expect(exchange.status == 302)
        #expect(server.requests.count == 1)
        #expect(AttemptResult.classify(exchange).outcome == .badResponse)
    }

    @Test func cancellationAbortsTheTransfer() async throws {
        let server = try LoopbackServer { _ in .hang }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let task = Task { await get(transport, server.baseURL + "/", timeout: .seconds(20)) }
        // Wait until the request reached the server, then cancel.
        let deadline = ContinuousClock.now + .seconds(5)
        while server.requests.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let started = ContinuousClock.now
        task.cancel()
        let exchange = await task.value
        #expect(ContinuousClock.now - started < .seconds(2))
        let error = try #require(exchange.transportError)
        #expect(error.kind == .cancelled)
        #expect(error.requestMayHaveBeenSent)
        #expect(AttemptResult.classify(exchange).outcome == .connectionLost)
    }

    @Test func alreadyCancelledTaskSendsNothing() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}") }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let task = Task {
            while !Task.isCancelled { await Task.yield() }
            return await get(transport, server.baseURL + "/")
        }
        task.cancel()
        let exchange = await task.value
        #expect(exchange.transportError?.kind == .cancelled)
        #expect(exchange.transportError?.requestMayHaveBeenSent == false)
        #expect(AttemptResult.classify(exchange).outcome == .notSent)
        try await Task.sleep(for: .milliseconds(100))
        #expect(server.requests.isEmpty)
    }

    @Test func shutdownCancelsPendingAndLaterTransfers() async throws {
        let server = try LoopbackServer { _ in .hang }
        defer { server.stop() }
        let transport = try CurlTransport()
        let task = Task { await get(transport, server.baseURL + "/", timeout: .seconds(20)) }
        let deadline = ContinuousClock.now + .seconds(5)
        while server.requests.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        transport.shutdown()
        transport.shutdown()  // idempotent
        let exchange = await task.value
        #expect(exchange.transportError?.kind == .cancelled)
        let later = await get(transport, server.baseURL + "/")
        #expect(later.transportError?.kind == .cancelled)
        #expect(later.transportError?.requestMayHaveBeenSent == false)
    }

    /// `close()` returns only once libcurl has closed every connection: the daemon calls it
    /// before exiting, so that no TLS clean-up races OpenSSL's own `atexit` handler (which ended
    /// the daemon on SIGABRT at a `systemctl stop` in the VM test).
    @Test func closeReturnsOnceEveryConnectionIsClosedAndTheThreadHasExited() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}") }
        defer { server.stop() }
        // The thread lingers 300 ms after its clean-up, as exit-time destructors could: a close()
        // that did not join the thread would return while it still runs.
        let transport = try CurlTransport(maxConnectionsPerHost: 0, threadName: "colt-curl-join", exitDelay: .milliseconds(300))
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<16 { group.addTask { _ = await get(transport, server.baseURL + "/n\(i)") } }
        }
        #expect(openSockets(toPort: server.port) > 0)  // kept alive for reuse
        #expect(threads(named: "colt-curl-join") == 1)  // named by now: it has served 16 requests
        #expect(await transport.close())
        // At once, without a wait: close() itself waited for the transport's thread.
        #expect(openSockets(toPort: server.port) == 0)
        #expect(threads(named: "colt-curl-join") == 0)
        let later = await get(transport, server.baseURL + "/")
        #expect(later.transportError?.kind == .cancelled)
        #expect(await transport.close())  // idempotent: returns at once
        transport.shutdown()
    }

    @Test func closeGivesUpAfterItsTimeout() async throws {
        // The clean-up takes 3 s (a connection slow to close); close waits 300 ms of it.
        let transport = try CurlTransport(maxConnectionsPerHost: 0, threadName: "colt-curl-slow", cleanupDelay: .seconds(3))
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await transport.close(timeout: .milliseconds(300)) == false)
        let gaveUp = clock.now - start
        #expect(gaveUp >= .milliseconds(300) && gaveUp < .seconds(2))
        #expect(threads(named: "colt-curl-slow") == 1)  // still cleaning up
        #expect(await transport.close(timeout: .seconds(30)))  // a second close waits it out and joins
        #expect(threads(named: "colt-curl-slow") == 0)
    }

    /// How many of this process's threads are named `name`.
    func threads(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter {
            (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) == name
        }.count
    }

    @Test func hostAndPortNeverShowUserInfo() {
        #expect(urlHostAndPort("https://user:pw@example.com/x").text == "example.com:443")
        #expect(urlHostAndPort("http://127.0.0.1:8080/a?b").text == "127.0.0.1:8080")
    }
}

@Suite("CurlTransport resource use")
struct TransportResourceTests {
    /// CPU ticks (user + system) used so far by the threads named `name`.
    func cpuTicks(ofThreadsNamed name: String) throws -> (threads: Int, ticks: Int) {
        var threads = 0
        var ticks = 0
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
            threads += 1
            ticks += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
        }
        return (threads, ticks)
    }

    @Test func anIdleTransportSleeps() async throws {
        let server = try LoopbackServer { _ in .json(200, "{}") }
        defer { server.stop() }
        let transport = try CurlTransport(maxConnectionsPerHost: 0, threadName: "colt-curl-idle")
        defer { transport.shutdown() }
        _ = await get(transport, server.baseURL + "/")  // leaves a kept-alive connection behind
        let before = try cpuTicks(ofThreadsNamed: "colt-curl-idle")
        try await Task.sleep(for: .seconds(1))
        let after = try cpuTicks(ofThreadsNamed: "colt-curl-idle")
        #expect(before.threads == 1)
        #expect(after.ticks - before.ticks <= 1)  // ticks are 10 ms: a busy loop would use ~100
    }

    /// Many concurrent requests all succeed over a handful of reused connections.
    /// (How fast is for scripts/bench to say, not a test.)
    @Test func concurrentRequestsReuseConnections() async throws {
        let server = try LoopbackServer { _ in .json(201, #"{"order":{"id":"ORD-1"}}"#) }
        defer { server.stop() }
        let transport = try CurlTransport()
        defer { transport.shutdown() }
        let total = 3000
        let accepted = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<50 {
                group.addTask {
                    var ok = 0
                    for i in stride(from: worker, to: total, by: 50) {
                        let exchange = await get(transport, server.baseURL + "/o\(i)")
                        let result = AttemptResult.classify(exchange)
                        if result.outcome == .accepted(orderID: "ORD-1") { ok += 1 } else { Issue.record("\(i): \(result.detail)") }
                    }
                    return ok
                }
            }
            return await group.reduce(0, +)
        }
        #expect(accepted == total)
        #expect(server.connectionCount <= total / 4, "connections are reused, not one per request: \(server.connectionCount)")
    }
}

/// This process's sockets connected to 127.0.0.1:`port` (each descriptor in /proc/self/fd
/// whose peer is that address): the client ends of connections to a ``LoopbackServer``.
private func openSockets(toPort port: Int) -> Int {
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return descriptors.compactMap { Int32($0) }.count { fd in
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return named == 0 && address.sin_family == sa_family_t(AF_INET) && Int(UInt16(bigEndian: address.sin_port)) == port
    }
}
