import CCurl
import Foundation
import Synchronization

/// The outcome of `curl_global_init`, run once per process on first use (a global's lazy
/// initialiser is thread-safe).
private let curlGlobalInit: CURLcode = colt_curl_global_init()

/// Things that can go wrong when creating a ``CurlTransport``.
public struct CurlTransportInitError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var description: String
}

/// libcurl's multi interface on one dedicated thread: many transfers in flight, none blocking
/// Swift's cooperative pool.
///
/// ``perform(_:)`` hands a transfer to the thread through a mailbox and wakes it with
/// `curl_multi_wakeup`; the thread sleeps in `curl_multi_poll` when there is nothing to do, so an
/// idle transport uses no CPU. Connections (and TLS sessions, DNS answers) are kept in the multi
/// handle and reused by later transfers to the same host.
public final class CurlTransport: Sendable {
    private let loop: CurlLoop

    /// Starts the transport's thread.
    ///
    /// - Parameters:
    ///   - maxConnectionsPerHost: a cap on simultaneous connections to one host
    ///     (`CURLMOPT_MAX_HOST_CONNECTIONS`); 0, the default, means no cap.
    ///   - maxTransfers: the most transfers the caller runs at once (the daemon: the largest
    ///     `submit.max_in_flight` a reload may set). As many idle connections are kept, and a few
    ///     more (token requests), so that a lull closes none of them: libcurl's default keeps
    ///     four per transfer still running and closes one at each transfer's end beyond that,
    ///     so each time the transfers in flight dipped (between two claims) most connections
    ///     closed, and the next transfers paid a new connection and TLS handshake each (a drain
    ///     opened one for every 25 orders). Colt, or libcurl after `CURLOPT_MAXAGE_CONN`
    ///     (118 s), closes the ones that stay idle.
    /// - Throws: ``CurlTransportInitError`` when libcurl cannot be initialised.
    public convenience init(maxConnectionsPerHost: Int = 0, maxTransfers: Int = 64) throws {
        try self.init(maxConnectionsPerHost: maxConnectionsPerHost, maxTransfers: maxTransfers, threadName: "colt-curl")
    }

    /// The designated initialiser; `threadName` (at most 15 bytes on Linux) names the thread.
    /// The delays are test hooks: the thread waits `cleanupDelay` before it reports its clean-up
    /// done (a slow close of a connection), and `exitDelay` after, before it returns (standing in
    /// for the per-thread destructors, OpenSSL's among them, that run at thread exit).
    init(maxConnectionsPerHost: Int, maxTransfers: Int = 64, threadName: String, cleanupDelay: Duration = .zero,
         exitDelay: Duration = .zero) throws {
        guard curlGlobalInit == CURLE_OK else {
            throw CurlTransportInitError(description: "curl_global_init failed (curl \(curlGlobalInit.rawValue))")
        }
        guard let multi = curl_multi_init() else {
            throw CurlTransportInitError(description: "curl_multi_init failed")
        }
        if maxConnectionsPerHost > 0 {
            _ = colt_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        }
        _ = colt_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, maxTransfers) + 16)
        loop = CurlLoop(multi: multi, threadName: String(threadName.prefix(15)), cleanupDelay: cleanupDelay, exitDelay: exitDelay)
        guard loop.startThread() else {
            _ = curl_multi_cleanup(multi)
            throw CurlTransportInitError(description: "pthread_create failed for the transport's thread")
        }
    }

    deinit {
        loop.stop()
        loop.detachUnlessJoined()
    }

    /// Performs one HTTP exchange. Never throws: every failure is an ``HTTPExchange`` whose
    /// `transportError` says what happened. Cancelling the calling task aborts the transfer,
    /// which then ends with a transport error of kind `.cancelled`.
    public func perform(_ request: HTTPRequest) async -> HTTPExchange {
        let start = ContinuousClock.now
        let transfer = Transfer(request: request)
        var exchange = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<HTTPExchange, Never>) in
                transfer.continuation = continuation
                if Task.isCancelled { transfer.cancelRequested.store(true, ordering: .relaxed) }
                if !loop.submit(transfer) {
                    transfer.continuation = nil
                    continuation.resume(returning: Transfer.cancelledExchange("the transport is shut down", sent: false))
                }
            }
        } onCancel: {
            loop.cancel(transfer)
        }
        exchange.duration = ContinuousClock.now - start
        return exchange
    }

    /// Stops the thread without waiting for it. Idempotent. Transfers still in flight, and any
    /// later ``perform(_:)``, complete at once with a transport error of kind `.cancelled`.
    public func shutdown() {
        loop.stop()
    }

    /// Stops the thread as ``shutdown()`` does, and returns once the thread has exited: every
    /// transfer completed, every connection closed, every libcurl handle freed, and the thread
    /// joined (so its exit-time destructors, OpenSSL's among them, have run too).
    ///
    /// Call it before the process exits. `exit` runs OpenSSL's own clean-up (an `atexit`
    /// handler), and that must not race the thread still closing TLS connections: under a slow
    /// CPU that race is the likely cause of the SIGABRT the VM test saw at `systemctl stop`.
    ///
    /// - Parameter timeout: how long to wait for the thread's clean-up (closing a connection can
    ///   hang on a dead peer or a stuck resolver); after it, `close` returns without joining.
    /// - Returns: `true` once the thread is joined, `false` after the timeout. Idempotent: a
    ///   second call returns `true` at once.
    @discardableResult
    public func close(timeout: Duration = .seconds(5)) async -> Bool {
        await loop.stopAndJoin(timeout: timeout)
    }
}

/// The state shared between callers and the transport's thread.
///
/// `@unchecked Sendable` because: `multi` is used from the loop thread only, except for
/// `curl_multi_wakeup`, which libcurl documents as callable from any thread and which is only
/// called under `mailbox`'s lock while the loop has not closed (the loop frees the handle only
/// after observing `stopping` under that same lock, after which nobody wakes it). `active` and
/// `pool` are touched by the loop thread only. `thread` is written once, by `startThread()` in
/// the transport's initialiser, before the loop is shared; joining or detaching it is guarded by
/// `joined`, under the lock. Everything else is in the `Mutex`.
private final class CurlLoop: @unchecked Sendable {
    struct Mailbox {
        var adds: [Transfer] = []
        var cancels: [Transfer] = []
        var wakeupPending = false
        var stopping = false
        /// Set by the thread once it has freed the multi handle; it then resumes `closeWaiters`.
        var finished = false
        /// Callers of ``stopAndJoin(timeout:)``, by number: resumed with `true` by the thread's
        /// clean-up, or with `false` by their own timeout, whichever takes them out first.
        var closeWaiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiter = 0
        /// Waiters whose timeout came before they were registered.
        var expired: Set<Int> = []
        /// Set by the first caller to join or detach the thread (that is done once).
        var joined = false
    }

    private let multi: UnsafeMutableRawPointer
    private let mailbox = Mutex(Mailbox())
    /// Transfers in the multi handle, keyed by easy handle. Loop thread only.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    /// Easy handles kept for reuse (`curl_easy_reset`). Loop thread only.
    private var pool: [UnsafeMutableRawPointer] = []
    private static let poolLimit = 256
    private let threadName: String
    private let cleanupDelay: Duration
    private let exitDelay: Duration
    /// The loop's thread; written once by ``startThread()`` before any other use.
    private var thread = pthread_t()

    init(multi: UnsafeMutableRawPointer, threadName: String, cleanupDelay: Duration, exitDelay: Duration) {
        self.multi = multi
        self.threadName = threadName
        self.cleanupDelay = cleanupDelay
        self.exitDelay = exitDelay
    }

    /// Starts the loop on its own joinable POSIX thread (Foundation's `Thread` cannot be joined).
    func startThread() -> Bool {
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            let loop = Unmanaged<CurlLoop>.fromOpaque(context!).takeRetainedValue()
            // The OS-level name, as top -H and /proc/PID/task/*/comm show it (Glibc's module
            // does not export pthread_setname_np).
            try? loop.threadName.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            loop.run()
            return nil
        }, context)
        if created != 0 { Unmanaged<CurlLoop>.fromOpaque(context).release() }
        return created == 0
    }

    /// Queues a transfer; `false` when the loop is stopping.
    func submit(_ transfer: Transfer) -> Bool {
        mailbox.withLock { box in
            guard !box.stopping else { return false }
            box.adds.append(transfer)
            wakeLocked(&box)
            return true
        }
    }

    /// Asks the loop to abort a transfer (it may not have been queued yet).
    func cancel(_ transfer: Transfer) {
        transfer.cancelRequested.store(true, ordering: .relaxed)
        mailbox.withLock { box in
            guard !box.stopping else { return }
            box.cancels.append(transfer)
            wakeLocked(&box)
        }
    }

    func stop() {
        mailbox.withLock { box in
            guard !box.stopping else { return }
            wakeLocked(&box)
            box.stopping = true
        }
    }

    /// Stops the loop, waits (at most `timeout`) until the thread has cleaned up, then joins it.
    func stopAndJoin(timeout: Duration) async -> Bool {
        let id: Int? = mailbox.withLock { box in
            if !box.stopping {
                wakeLocked(&box)
                box.stopping = true
            }
            guard !box.finished else { return nil }
            defer { box.nextWaiter += 1 }
            return box.nextWaiter
        }
        if let id {
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { expire(id) }
            }
            let cleanedUp = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = mailbox.withLock { box in
                    if box.finished { return true }
                    if box.expired.contains(id) { return false }
                    box.closeWaiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
            timer.cancel()
            guard cleanedUp else { return false }
        }
        let mustJoin = mailbox.withLock { box in
            defer { box.joined = true }
            return !box.joined
        }
        // Blocks this thread only as long as the loop's thread takes to return: its clean-up
        // is done, what is left is its exit-time destructors.
        if mustJoin { _ = pthread_join(thread, nil) }
        return true
    }

    /// A ``stopAndJoin(timeout:)`` caller's time is up: it returns `false`.
    private func expire(_ id: Int) {
        let waiter = mailbox.withLock { box in
            if box.closeWaiters[id] == nil { box.expired.insert(id) }
            return box.closeWaiters.removeValue(forKey: id)
        }
        waiter?.resume(returning: false)
    }

    /// Lets the system reclaim the thread when it ends, if nobody joined it (the transport is
    /// being freed, so nobody will).
    func detachUnlessJoined() {
        let mustDetach = mailbox.withLock { box in
            defer { box.joined = true }
            return !box.joined
        }
        if mustDetach { _ = pthread_detach(thread) }
    }

    private func wakeLocked(_ box: inout Mailbox) {
        guard !box.wakeupPending else { return }
        box.wakeupPending = true
        _ = curl_multi_wakeup(multi)
    }

    /// The thread's body.
    func run() {
        while true {
            let (adds, cancels, stopping) = mailbox.withLock { box in
                defer {
                    box.adds = []
                    box.cancels = []
                    box.wakeupPending = false
                }
                return (box.adds, box.cancels, box.stopping)
            }
            if stopping {
                terminate(adds)
                if cleanupDelay > .zero { usleep(UInt32(cleanupDelay / .microseconds(1))) }
                let waiters = mailbox.withLock { box in
                    box.finished = true
                    defer { box.closeWaiters = [:] }
                    return box.closeWaiters.values
                }
                for waiter in waiters { waiter.resume(returning: true) }
                if exitDelay > .zero { usleep(UInt32(exitDelay / .microseconds(1))) }
                return
            }
            for transfer in adds { start(transfer) }
            for transfer in cancels { abort(transfer) }

            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectFinished()

            var fds: Int32 = 0
            // Returns early on socket activity, libcurl's own timers, or curl_multi_wakeup.
            _ = curl_multi_poll(multi, nil, 0, 30_000, &fds)
        }
    }

    private func start(_ transfer: Transfer) {
        if transfer.cancelRequested.load(ordering: .relaxed) {
            transfer.finish(Transfer.cancelledExchange("cancelled before it was sent", sent: false))
            return
        }
        guard let easy = pool.popLast() ?? curl_easy_init() else {
            transfer.finish(Transfer.failure(.notSent, code: CURLE_FAILED_INIT, "curl_easy_init failed"))
            return
        }
        if let problem = transfer.configure(easy) {
            transfer.releaseHandle()
            recycle(easy)
            transfer.finish(problem)
            return
        }
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else {
            transfer.releaseHandle()
            recycle(easy)
            transfer.finish(
                Transfer.failure(.notSent, code: CURLE_FAILED_INIT, "curl_multi_add_handle failed (\(added.rawValue))"))
            return
        }
        active[easy] = transfer
    }

    private func abort(_ transfer: Transfer) {
        guard let easy = transfer.easy, active[easy] === transfer else { return }
        active[easy] = nil
        _ = curl_multi_remove_handle(multi, easy)
        let sent = transfer.requestMayHaveBeenSent(easy)
        transfer.releaseHandle()
        recycle(easy)
        transfer.finish(Transfer.cancelledExchange("cancelled", sent: sent, partial: transfer))
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard colt_curl_msg_is_done(message) != 0, let easy = colt_curl_msg_easy(message) else { continue }
            let result = colt_curl_msg_result(message)
            _ = curl_multi_remove_handle(multi, easy)
            guard let transfer = active.removeValue(forKey: easy) else {
                curl_easy_cleanup(easy)
                continue
            }
            let exchange = transfer.completedExchange(easy, result: result)
            transfer.releaseHandle()
            recycle(easy)
            transfer.finish(exchange)
        }
    }

    private func recycle(_ easy: UnsafeMutableRawPointer) {
        if pool.count < Self.poolLimit {
            curl_easy_reset(easy)
            pool.append(easy)
        } else {
            curl_easy_cleanup(easy)
        }
    }

    private func terminate(_ adds: [Transfer]) {
        for (easy, transfer) in active {
            _ = curl_multi_remove_handle(multi, easy)
            let sent = transfer.requestMayHaveBeenSent(easy)
            transfer.releaseHandle()
            curl_easy_cleanup(easy)
            transfer.finish(Transfer.cancelledExchange("the transport shut down", sent: sent, partial: transfer))
        }
        active = [:]
        for transfer in adds {
            transfer.finish(Transfer.cancelledExchange("the transport shut down", sent: false))
        }
        for easy in pool { curl_easy_cleanup(easy) }
        pool = []
        _ = curl_multi_cleanup(multi)
    }
}

/// One transfer's state, reachable from libcurl's callbacks through an unmanaged pointer.
///
/// `@unchecked Sendable` because: it is created by the caller, which sets `continuation` before
/// handing it to the loop through the mailbox's lock (a happens-before edge); from then on every
/// mutable field is touched by the loop thread only. The one exception, `cancelRequested`, is an
/// `Atomic`. The request itself is immutable.
private final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    let cancelRequested = Atomic<Bool>(false)
    var continuation: CheckedContinuation<HTTPExchange, Never>?

    // Loop thread only, from here on.
    var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var status: Int?
    private var headers: [(name: String, value: String)] = []
    private var headerBytes = 0
    private var body: [UInt8] = []
    private var truncated = false
    /// How many times libcurl sent the request: more than once when it resent it by itself on a
    /// fresh connection because the reused one had closed before any answer.
    private var sends = 0

    /// Limits on what the header callback keeps (libcurl limits single header lines itself).
    private static let maxHeaderBytes = 64 * 1024
    private static let maxHeaderCount = 200

    init(request: HTTPRequest) {
        self.request = request
        let size = colt_curl_error_size()
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
    }

    deinit {
        errorBuffer.deallocate()
        if let headerList { curl_slist_free_all(headerList) }
    }

    func finish(_ exchange: HTTPExchange) {
        let continuation = self.continuation
        self.continuation = nil
        continuation?.resume(returning: exchange)
    }

    /// Frees what was allocated for the easy handle (the handle itself goes back to the pool).
    func releaseHandle() {
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    // MARK: Setting up

    /// Sets every option; returns a failed exchange when one cannot be set.
    func configure(_ easy: UnsafeMutableRawPointer) -> HTTPExchange? {
        self.easy = easy
        let me = Unmanaged.passUnretained(self).toOpaque()
        var failed: (String, CURLcode)?
        func set(_ name: String, _ code: CURLcode) {
            if code != CURLE_OK, failed == nil { failed = (name, code) }
        }
        set("url", colt_curl_setopt_string(easy, CURLOPT_URL, request.url))
        set("nosignal", colt_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        set("protocols", colt_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        set("redir protocols", colt_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        set("followlocation", colt_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        set("verifypeer", colt_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        set("verifyhost", colt_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        if let caFile = request.caFile {
            set("cainfo", colt_curl_setopt_string(easy, CURLOPT_CAINFO, caFile))
        }
        set("accept-encoding", colt_curl_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""))
        set("keepalive", colt_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        set("keepidle", colt_curl_setopt_long(easy, CURLOPT_TCP_KEEPIDLE, 30))
        set("keepintvl", colt_curl_setopt_long(easy, CURLOPT_TCP_KEEPINTVL, 15))
        set("timeout", colt_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, request.timeout.milliseconds)))
        set(
            "connecttimeout",
            colt_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, request.connectTimeout.milliseconds)))
        set("errorbuffer", colt_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        set("private", colt_curl_setopt_pointer(easy, CURLOPT_PRIVATE, me))
        set("writefunction", colt_curl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, Transfer.onBody))
        set("writedata", colt_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, me))
        set("headerfunction", colt_curl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, Transfer.onHeader))
        set("headerdata", colt_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, me))
        set("prereqfunction", colt_curl_setopt_prereq_callback(easy, Transfer.onSend))
        set("prereqdata", colt_curl_setopt_prereq_data(easy, me))

        // Headers: the caller's, plus an empty Expect (never wait for 100-continue).
        var list: UnsafeMutablePointer<curl_slist>?
        // Byte comparisons: Foundation's String.contains and lowercased() were a measured 3% of
        // the daemon's CPU here, run for every header of every request.
        var lines = request.headers.map { "\($0.name): \($0.value)" }
        if !request.headers.contains(where: { $0.name.equalsIgnoringASCIICase("expect") }) {
            lines.append("Expect:")
        }
        for var line in lines where !line.withUTF8({ $0.contains(UInt8(ascii: "\r")) || $0.contains(UInt8(ascii: "\n")) }) {
            guard let appended = curl_slist_append(list, line) else {
                if let list { curl_slist_free_all(list) }
                return Self.failure(.notSent, code: CURLE_OUT_OF_MEMORY, "out of memory building headers")
            }
            list = appended
        }
        headerList = list
        set("httpheader", colt_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, list))

        // Method and body.
        let method = request.method.uppercased()
        if let body = request.body {
            set("post", colt_curl_setopt_long(easy, CURLOPT_POST, 1))
            set("postfieldsize", colt_curl_setopt_size(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            set(
                "copypostfields",
                body.withUnsafeBytes { raw in
                    colt_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(errorBuffer)))
                })
            if method != "POST" { set("customrequest", colt_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)) }
        } else if method == "GET" {
            set("httpget", colt_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
        } else if method == "HEAD" {
            set("nobody", colt_curl_setopt_long(easy, CURLOPT_NOBODY, 1))
        } else {
            set("customrequest", colt_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method))
        }

        if let (name, code) = failed {
            let kind: TransportError.Kind = .notSent
            return Self.failure(kind, code: code, "cannot set the \(name) option: \(String(cString: curl_easy_strerror(code))) (curl \(code.rawValue))")
        }
        return nil
    }

    // MARK: Callbacks (loop thread, inside curl_multi_perform)

    static let onBody: colt_curl_data_callback = { data, size, count, userdata in
        guard let userdata else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        let length = size &* count
        guard length > 0, let data else { return length }
        let room = transfer.request.maxResponseBytes - transfer.body.count
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        if length > room {
            if room > 0 { transfer.body.append(contentsOf: bytes.prefix(room)) }
            transfer.truncated = true
            return 0  // aborts the transfer with CURLE_WRITE_ERROR
        }
        transfer.body.append(contentsOf: bytes)
        return length
    }

    static let onSend: colt_curl_prereq_callback = { userdata, _, _, _, _ in
        if let userdata { Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue().sends += 1 }
        return 0  // CURL_PREREQFUNC_OK
    }

    static let onHeader: colt_curl_data_callback = { data, size, count, userdata in
        guard let userdata else { return 0 }
        let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
        let length = size &* count
        guard length > 0, let data else { return length }
        transfer.header(UnsafeRawBufferPointer(start: data, count: length))
        return length
    }

    private func header(_ line: UnsafeRawBufferPointer) {
        var bytes = line[...]
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes = bytes.dropLast() }
        if bytes.starts(with: "HTTP/".utf8) {
            // A new status line (1xx, a proxy's CONNECT answer, ...): only the final response counts.
            headers = []
            headerBytes = 0
            let parts = bytes.split(separator: 0x20, maxSplits: 2)
            status = parts.count >= 2 ? Int(String(decoding: parts[1], as: UTF8.self)) : nil
            return
        }
        guard !bytes.isEmpty, let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return }
        guard headers.count < Self.maxHeaderCount, headerBytes + bytes.count <= Self.maxHeaderBytes else { return }
        headerBytes += bytes.count
        // Header names are ASCII tokens; bytes are trimmed and lowercased without Foundation.
        let name = String(decoding: Self.trimmed(bytes[..<colon]).map(asciiLowercased), as: UTF8.self)
        let value = String(decoding: Self.trimmed(bytes[(colon + 1)...]), as: UTF8.self)
        headers.append((name: name, value: value))
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) }) else {
            return bytes[bytes.startIndex..<bytes.startIndex]
        }
        return bytes[first...last]
    }

    // MARK: Results

    func completedExchange(_ easy: UnsafeMutableRawPointer, result: CURLcode) -> HTTPExchange {
        var code = 0
        _ = colt_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        let status = code > 0 ? code : self.status
        var exchange = HTTPExchange(status: status, headers: headers, body: body, bodyTruncated: truncated)
        exchange.sends = sends
        if result != CURLE_OK || truncated {
            exchange.transportError = transportError(easy, result: result)
        }
        return exchange
    }

    /// Whether any byte of the request may have left: libcurl reached the pre-transfer stage
    /// (connection, TLS and proxy set-up all done) or counted request bytes.
    func requestMayHaveBeenSent(_ easy: UnsafeMutableRawPointer) -> Bool {
        var pretransfer: curl_off_t = 0
        var requestSize = 0
        _ = colt_curl_getinfo_off(easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer)
        _ = colt_curl_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &requestSize)
        return pretransfer > 0 || requestSize > 0
    }

    private func transportError(_ easy: UnsafeMutableRawPointer, result: CURLcode) -> TransportError {
        let sent = requestMayHaveBeenSent(easy)
        let curlText = String(cString: errorBuffer)
        let fallback = String(cString: curl_easy_strerror(result))
        let reason = curlText.isEmpty ? fallback : curlText
        let target = urlHostAndPort(request.url)
        let curl = "(curl \(result.rawValue): \(reason))"

        if truncated {
            return TransportError(
                kind: .tooLarge, curlCode: Int32(result.rawValue),
                message: "response body larger than \(request.maxResponseBytes) bytes, cut off", requestMayHaveBeenSent: true)
        }
        let kind: TransportError.Kind
        let message: String
        switch result {
        case CURLE_COULDNT_RESOLVE_HOST:
            (kind, message) = (.notSent, "cannot resolve host \(target.host) \(curl)")
        case CURLE_COULDNT_RESOLVE_PROXY:
            (kind, message) = (.notSent, "cannot resolve the proxy \(curl)")
        case CURLE_COULDNT_CONNECT:
            let refused = reason.lowercased().contains("refused") || reason.contains("Couldn't connect")
            (kind, message) = (.notSent, "\(refused ? "connection refused" : "cannot connect") to \(target.text) \(curl)")
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_FAILED_INIT, CURLE_NOT_BUILT_IN,
             CURLE_BAD_FUNCTION_ARGUMENT:
            (kind, message) = (.notSent, "cannot send to \(target.text) \(curl)")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
             CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_USE_SSL_FAILED, CURLE_SSL_CLIENTCERT:
            if sent && (result != CURLE_SSL_CONNECT_ERROR && result != CURLE_PEER_FAILED_VERIFICATION) {
                (kind, message) = (.connectionLost, "TLS failure with \(target.text) after sending \(curl)")
            } else {
                (kind, message) = (.tls, "TLS handshake with \(target.text) failed \(curl)")
            }
        case CURLE_OPERATION_TIMEDOUT:
            if sent {
                (kind, message) = (.timeout, "no answer within \(request.timeout.humanSeconds) (curl \(result.rawValue))")
            } else {
                (kind, message) = (.notSent, "could not connect to \(target.text) in time \(curl)")
            }
        case CURLE_ABORTED_BY_CALLBACK:
            (kind, message) = (.cancelled, "cancelled \(curl)")
        default:
            if sent {
                (kind, message) = (.connectionLost, "connection to \(target.text) lost \(curl)")
            } else {
                (kind, message) = (.notSent, "nothing sent to \(target.text) \(curl)")
            }
        }
        return TransportError(kind: kind, curlCode: Int32(result.rawValue), message: message, requestMayHaveBeenSent: sent)
    }

    static func failure(_ kind: TransportError.Kind, code: CURLcode, _ message: String) -> HTTPExchange {
        HTTPExchange(
            status: nil,
            transportError: TransportError(kind: kind, curlCode: Int32(code.rawValue), message: message))
    }

    static func cancelledExchange(_ message: String, sent: Bool, partial: Transfer? = nil) -> HTTPExchange {
        var exchange = HTTPExchange(
            status: nil,
            transportError: TransportError(kind: .cancelled, curlCode: 0, message: message, requestMayHaveBeenSent: sent))
        if let partial {
            exchange.status = partial.status
            exchange.headers = partial.headers
            exchange.body = partial.body
            exchange.bodyTruncated = partial.truncated
        }
        return exchange
    }
}

/// `host:port` of a URL, for messages (never the user-info part).
func urlHostAndPort(_ url: String) -> (host: String, text: String) {
    var rest = Substring(url)
    var defaultPort = "80"
    if let scheme = rest.range(of: "://") {
        if rest[..<scheme.lowerBound].lowercased() == "https" { defaultPort = "443" }
        rest = rest[scheme.upperBound...]
    }
    if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
    if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
    var host = rest
    var port = defaultPort
    if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
        host = rest[..<colon]
        port = String(rest[rest.index(after: colon)...])
    }
    return (String(host), "\(host):\(port)")
}
