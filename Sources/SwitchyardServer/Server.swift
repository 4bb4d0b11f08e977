import CNetShim
import Glibc
import Logging
import Synchronization
import SwitchyardCore
import SwitchyardInventory
import SwitchyardTransfer
import SwitchyardZones

/// The control plane's side of a (re)load: it fits its state to freshly loaded zones and
/// swaps the snapshot that serves them into the store, all or nothing. The server only
/// loads files and keeps health; what the names answer is the installer's business.
public protocol ZoneInstaller: Sendable {
    /// Throws (changing nothing) when the loaded data cannot be served with the current state.
    func install(_ loaded: ZoneLoader.Configuration, down: Set<HealthKey>) throws
}

/// How `switchyard serve` runs.
public struct ServerConfiguration: Sendable {
    public var zonesDirectory: String
    public var listen: [ListenAddress]
    /// UDP worker threads per listen address.
    public var threads: Int
    public var tcpIdleTimeout: Double
    public var tcpMaxConnections: Int
    public var maxUDPSize: Int
    /// UDP response-rate limiting; off when its rate is 0.
    public var rateLimit: RateLimitSettings
    /// TSIG and zone transfers out; nil answers as before (transfers REFUSED, TSIG ignored).
    public var transfers: TransferResponder?

    public init(zonesDirectory: String, listen: [ListenAddress], threads: Int, tcpIdleTimeout: Double,
                tcpMaxConnections: Int, maxUDPSize: Int, rateLimit: RateLimitSettings = RateLimitSettings(rate: 0),
                transfers: TransferResponder? = nil) {
        self.transfers = transfers
        self.zonesDirectory = zonesDirectory; self.listen = listen; self.threads = threads
        self.tcpIdleTimeout = tcpIdleTimeout; self.tcpMaxConnections = tcpMaxConnections; self.maxUDPSize = maxUDPSize
        self.rateLimit = rateLimit
    }

    /// CPUs this process may run on (respects taskset and cgroup CPU sets).
    public static var usableCPUs: Int { Int(sy_usable_cpus()) }
}

/// What the SIGHUP reloads since start came to; read by `/healthz` and `/metrics`.
public struct ReloadStatus: Equatable, Sendable {
    /// Reloads attempted and rejected since start.
    public var attempts = 0
    public var failures = 0
    /// The problems (file:line: message) of the last reload when it was rejected; nil when
    /// it succeeded (or none ran). The previous data kept serving either way.
    public var lastFailure: String?

    public init() {}
}

/// The DNS server: sockets, worker threads, and the snapshot they answer from.
///
/// Its mutable fields change only on the thread that starts, reloads and stops it (the
/// signal thread); what other threads read is behind the store's lock or `checked`.
public final class Server: @unchecked Sendable {
    private let configuration: ServerConfiguration
    private let store: SnapshotStore
    private let logger: Logger
    private let stopping = StopFlag()
    private var threads: [WorkerThread] = []
    private var udpSockets: [Int32] = []
    private var health: HealthMonitor?
    private let installer: any ZoneInstaller
    /// Queries answered, by zone, stable name, pool and rcode.
    public let queryMetrics = QueryMetrics()
    /// Transfers served and TSIG errors, when transfers are configured.
    public var transferStatistics: TransferStatistics? { configuration.transfers?.stats }
    /// Shared by every UDP worker; `nil` when response-rate limiting is off.
    public let rateLimiter: ResponseRateLimiter?
    /// The snapshot being served now.
    public var servingSnapshot: Snapshot { store.snapshot }
    /// Every health-checked endpoint.
    public var checkedTargets: Set<HealthKey> { checked.withLock { $0 } }
    private let checked = Mutex<Set<HealthKey>>([])
    /// How the reloads went, so a rejected one is visible beyond the log.
    public var reloadStatus: ReloadStatus { reloads.withLock { $0 } }
    private let reloads = Mutex(ReloadStatus())

    /// Opens no socket yet: `installer` puts the first snapshot into `store`.
    public init(configuration: ServerConfiguration, loaded: ZoneLoader.Configuration, store: SnapshotStore,
                installer: any ZoneInstaller, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.store = store
        self.installer = installer
        self.rateLimiter = ResponseRateLimiter(configuration.rateLimit)
        try installer.install(loaded, down: [])
        self.health = makeHealthMonitor(loaded.healthChecks, initiallyDown: [])
        checked.withLock { $0 = Set(loaded.healthChecks.keys) }
    }

    private func makeHealthMonitor(_ checks: [HealthKey: HealthCheck], initiallyDown: Set<HealthKey>) -> HealthMonitor? {
        guard !checks.isEmpty else { return nil }
        let store = self.store
        let logger = self.logger
        return HealthMonitor(checks: checks, initiallyDown: initiallyDown, logger: logger) { down in
            do {
                try store.update { (snapshot) throws(ZoneProblem) in try snapshot.updating(down: down) }
            } catch {
                logger.error("health change not applied", metadata: ["problem": "\(error)"])
            }
        }
    }

    /// Binds every socket first (so a bad address fails before anything serves), then
    /// starts the UDP workers and the TCP event loop.
    public func start() throws(SystemError) {
        var tcpListeners: [Int32: ListenAddress] = [:]
        var workers: [(UDPWorker, String)] = []
        do {
            for address in configuration.listen {
                try address.ensureNotInUse()
                for index in 0..<configuration.threads {
                    let fd = try address.bind(type: Int32(SOCK_DGRAM.rawValue))
                    udpSockets.append(fd)
                    // Wake up regularly to notice a stop request.
                    var timeout = timeval(tv_sec: 0, tv_usec: 250_000)
                    try systemCall("setsockopt(SO_RCVTIMEO)", address.description) {
                        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    }
                    let worker = UDPWorker(fd: fd, address: address, store: store, maxUDPSize: configuration.maxUDPSize,
                                           stopping: stopping, metrics: queryMetrics, limiter: rateLimiter, transfers: configuration.transfers, logger: logger)
                    workers.append((worker, "udp\(index)"))
                }
                tcpListeners[try address.bind(type: Int32(SOCK_STREAM.rawValue))] = address
            }
        } catch {
            for fd in udpSockets { close(fd) }
            for fd in tcpListeners.keys { close(fd) }
            udpSockets = []
            throw error
        }
        let tcp = try TCPServer(
            listeners: tcpListeners, store: store, maxUDPSize: configuration.maxUDPSize,
            settings: .init(idleTimeout: configuration.tcpIdleTimeout, maxConnections: configuration.tcpMaxConnections),
            stopping: stopping, metrics: queryMetrics, transfers: configuration.transfers, logger: logger)
        for (worker, name) in workers {
            threads.append(try WorkerThread(name: name) { worker.run() })
        }
        threads.append(try WorkerThread(name: "tcp") { tcp.run() })
        try health?.start()
        let snapshot = store.snapshot
        logger.info("serving", metadata: [
            "listen": "\(configuration.listen.map(\.description).joined(separator: " "))",
            "zones": "\(snapshot.zones.map(\.origin.description).joined(separator: " "))",
            "udp_threads_per_address": "\(configuration.threads)",
            "precompiled_answers": "\(snapshot.precompiledCount)",
            "stable_names": "\(snapshot.stableNames.count)",
        ])
    }

    /// Parses and validates every zone; swaps the new snapshot in only when all is well.
    /// The outcome is kept in ``reloadStatus``.
    @discardableResult
    public func reload() -> Bool {
        let problems = reloadProblems()
        reloads.withLock { status in
            status.attempts += 1
            if problems.isEmpty { status.lastFailure = nil } else {
                status.failures += 1
                status.lastFailure = problems.joined(separator: "; ")
            }
        }
        for problem in problems {
            logger.error("reload rejected, still serving the previous data", metadata: ["problem": "\(problem)"])
        }
        return problems.isEmpty
    }

    /// Reloads, returning what made it fail (nothing when the new data serves).
    private func reloadProblems() -> [String] {
        do {
            let loaded = try loadAtLowPriority()
            weak let previous = store.snapshot
            // Health carries over for endpoints that are still checked. The old monitor keeps
            // probing until the new data is in, so a rejected reload changes nothing.
            let down = (health?.down ?? []).intersection(loaded.healthChecks.keys)
            try installer.install(loaded, down: down)
            let snapshot = store.snapshot
            health?.stop()
            health = makeHealthMonitor(loaded.healthChecks, initiallyDown: down)
            checked.withLock { $0 = Set(loaded.healthChecks.keys) }
            do { try health?.start() } catch { logger.error("health checks not started", metadata: ["error": "\(error)"]) }
            logger.info("reloaded", metadata: [
                "zones": "\(snapshot.zones.map { "\($0.origin)(serial \($0.serial))" }.joined(separator: " "))",
                "stable_names": "\(snapshot.stableNames.count)",
            ])
            for warning in loaded.warnings { logger.warning("\(warning)") }
            // The old data goes once every worker has moved on (each looks between batches,
            // at least every 250 ms); only then are its pages free to hand back.
            for _ in 0..<100 where previous != nil { usleep(10_000) }
            _ = sy_malloc_trim()
            return []
        } catch let error as ZoneProblem {
            return ["\(error)"]
        } catch let error as ZoneProblems {
            return error.problems.map { "\($0)" }
        } catch {
            return ["\(error)"]
        }
    }

    /// Parsing a large zone takes seconds of CPU on the cores the workers answer on. It runs
    /// on its own thread at nice 19 (on Linux a thread's own), so it takes only what the
    /// workers leave and queries never queue behind it; the swap itself stays on this thread.
    private func loadAtLowPriority() throws -> ZoneLoader.Configuration {
        let outcome = Mutex<Result<ZoneLoader.Configuration, ZoneProblems>?>(nil)
        let directory = configuration.zonesDirectory
        let thread = try WorkerThread(name: "reload") {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            let loaded = Result { () throws(ZoneProblems) in try ZoneLoader.load(directory: directory) }
            outcome.withLock { $0 = loaded }
        }
        thread.join()
        return try outcome.withLock { $0 }!.get()
    }

    /// Stops the workers after their current batch and closes every socket.
    public func stop() {
        stopping.set()
        health?.stop()
        for thread in threads { thread.join() }
        threads = []
        for fd in udpSockets { close(fd) }
        udpSockets = []
        logger.info("stopped")
    }

    /// Routes SIGTERM, SIGINT and SIGHUP to `runUntilSignalled`; call before any thread
    /// that might otherwise take the default action is started, or at least before serving.
    public static func catchSignals() throws(SystemError) -> Int32 {
        try systemCall("sigaction", "SIGTERM, SIGINT, SIGHUP") { sy_signal_pipe() }
    }

    /// Serves until SIGTERM or SIGINT; SIGHUP reloads. The signal handler only writes to a
    /// pipe (whatever thread the kernel interrupts); the work happens here, in order.
    public func runUntilSignalled(signals: Int32) throws(SystemError) {
        try start()
        while true {
            var byte: UInt8 = 0
            let count = read(signals, &byte, 1)
            if count < 0 && errno == EINTR { continue }
            guard count == 1 else { throw SystemError(call: "read", context: "signal pipe", errno: errno) }
            let received = Int32(byte)
            if received == SIGHUP {
                logger.info("SIGHUP: reloading zones")
                reload()
                continue
            }
            logger.info("signal received, stopping", metadata: ["signal": "\(received)"])
            stop()
            return
        }
    }
}
