import Foundation
import OrderEngine
import Synchronization

/// systemd's notify protocol (sd_notify(3)), spoken directly: one datagram per message to the
/// `AF_UNIX` socket named by `$NOTIFY_SOCKET` (a path, or an abstract socket when it starts
/// with `@`). No libsystemd.
///
/// As the engine's observer it sends `READY=1` when the engine is working, `STATUS=` with the
/// queue figures, `WATCHDOG=1` from the engine's own loop (at most every half of
/// `$WATCHDOG_USEC`, so a stuck loop stops the pings and systemd restarts the service), and
/// `STOPPING=1` on shutdown. The daemon adds `RELOADING=1` and `READY=1` around a SIGHUP reload.
///
/// Never throws and never blocks: the socket is non-blocking, and a message that cannot be
/// sent is dropped (systemd reads its socket at once; a dropped `WATCHDOG=1` is followed by
/// another within the interval).
final class SystemdNotifier: EngineObserver {
    // Sendable: `descriptor`, `address`, `addressLength` and `watchdogInterval` are immutable
    // after init; the last ping time is atomic.
    private let descriptor: Int32
    private let address: sockaddr_un
    private let addressLength: socklen_t
    /// Half of `$WATCHDOG_USEC`, in microseconds, or `nil` when systemd expects no pings.
    let watchdogInterval: Duration?
    private let lastPing = Atomic<UInt64>(0)
    private let failures = Atomic<Int>(0)

    /// The notifier for this process, or `nil` when `$NOTIFY_SOCKET` is unset (not run by
    /// systemd as `Type=notify`) or names no usable socket.
    init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty,
              let (address, length) = Self.socketAddress(path) else { return nil }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        self.address = address
        addressLength = length
        watchdogInterval = Self.watchdogInterval(environment)
    }

    deinit { close(descriptor) }

    /// `$WATCHDOG_USEC` / 2 when the watchdog is for this process (`$WATCHDOG_PID` unset or ours).
    static func watchdogInterval(_ environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], !pid.isEmpty, pid != "\(getpid())" { return nil }
        return .microseconds(Int64(clamping: microseconds / 2))
    }

    /// The systemd watchdog's full timeout (`$WATCHDOG_USEC`), if any.
    var watchdogTimeout: Duration? { watchdogInterval.map { $0 * 2 } }

    /// `sockaddr_un` for a `$NOTIFY_SOCKET` value: a filesystem path, or `@name` for the
    /// abstract namespace (a leading NUL byte, and a length that excludes any terminator).
    static func socketAddress(_ path: String) -> (sockaddr_un, socklen_t)? {
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        guard abstract || bytes.first == UInt8(ascii: "/") else { return nil }
        if abstract { bytes[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its terminating NUL; an abstract name does not have one.
        guard bytes.count + (abstract ? 0 : 1) <= capacity else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        return (address, socklen_t(offset + bytes.count + (abstract ? 0 : 1)))
    }

    /// Sends one notification (newline-separated `KEY=VALUE` assignments). Returns whether it went.
    @discardableResult
    func send(_ message: String) -> Bool {
        var address = self.address
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                    sendto(descriptor, text.baseAddress, text.count - 1, Int32(MSG_NOSIGNAL), socketAddress, addressLength)
                }
            }
        }
        if sent < 0 {
            // Say so once on stderr (the journal): nothing else can be done about it.
            if failures.add(1, ordering: .relaxed).newValue == 1 {
                let reason = String(cString: strerror(errno))
                FileHandle.standardError.write(Data("colt-orders: cannot notify systemd (\(reason)); continuing\n".utf8))
            }
            return false
        }
        return true
    }

    /// Microseconds on CLOCK_MONOTONIC, as systemd's `MONOTONIC_USEC=` wants them.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    // MARK: EngineObserver

    func ready() {
        send("READY=1\nSTATUS=ready: waiting for requests")
        ping(force: true)
    }

    /// From every turn of the engine's loop: a monotonic clock check, and `WATCHDOG=1` when
    /// half the watchdog interval has passed since the last one.
    func alive() { ping(force: false) }

    func figures(inFlight: Int, unsettled: Int) {
        send("STATUS=\(Self.status(inFlight: inFlight, unsettled: unsettled))")
    }

    func stopping() {
        send("STOPPING=1\nSTATUS=stopping: letting requests in flight finish")
    }

    /// Before a configuration reload (sd_notify(3): `RELOADING=1`, then `READY=1` when done).
    func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())\nSTATUS=reloading the configuration")
    }

    /// After a reload, whether the new configuration was taken or refused.
    func reloaded(_ status: String) {
        send("READY=1\nSTATUS=\(status)")
    }

    static func status(inFlight: Int, unsettled: Int) -> String {
        "\(inFlight) in flight, \(unsettled) unsettled (queued, submitting or retrying)"
    }

    private func ping(force: Bool) {
        guard let interval = watchdogInterval else { return }
        let now = Self.monotonicMicroseconds()
        let last = lastPing.load(ordering: .relaxed)
        let microseconds = UInt64(interval.components.seconds) * 1_000_000 + UInt64(interval.components.attoseconds / 1_000_000_000_000)
        guard force || last == 0 || now &- last >= microseconds else { return }
        lastPing.store(now, ordering: .relaxed)
        send("WATCHDOG=1")
    }
}
