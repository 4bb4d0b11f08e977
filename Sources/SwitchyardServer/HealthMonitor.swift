import Glibc
import Logging
import Synchronization
import SwitchyardCore
import SwitchyardZones

/// Probes health-checked endpoints with TCP connects on its own thread and reports the
/// set of endpoints that are down whenever it changes. Probes never touch the answer
/// path: the server turns a change into a new snapshot.
final class HealthMonitor: @unchecked Sendable {
    private struct State {
        var check: HealthCheck
        var up = true
        var failures = 0
        var successes = 0
        var nextProbe = 0.0
    }

    private var states: [HealthKey: State]
    private let logger: Logger
    private let onChange: @Sendable (Set<HealthKey>) -> Void
    private let stopping = StopFlag()
    private var thread: WorkerThread?
    private let downSet = Mutex<Set<HealthKey>>([])
    /// Connects in flight at once. Every pending probe holds a descriptor until it connects or
    /// times out; hundreds of unreachable targets (old VMs a cutover left) at once used up the
    /// process's descriptors (systemd's default soft limit is 1024), and every probe after that
    /// failed at `socket()` and marked a healthy target down.
    let maxInFlight: Int
    /// Whether the last round ran short of descriptors (logged once per episode).
    private var starved = false

    /// Endpoints in `initiallyDown` start down (carried over a reload); others start up,
    /// so a restart never drains a healthy fleet before the first probe.
    init(checks: [HealthKey: HealthCheck], initiallyDown: Set<HealthKey>, logger: Logger,
         onChange: @escaping @Sendable (Set<HealthKey>) -> Void) {
        var states: [HealthKey: State] = [:]
        for (key, check) in checks {
            var state = State(check: check)
            state.up = !initiallyDown.contains(key)
            states[key] = state
        }
        self.states = states
        self.logger = logger
        self.onChange = onChange
        maxInFlight = Self.probeWindow()
        downSet.withLock { $0 = initiallyDown.intersection(checks.keys) }
    }

    /// A quarter of the descriptors the process may open (sockets for DNS over TCP, the
    /// journal and the admin endpoint need the rest), between 16 and 512.
    static func probeWindow() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 512 }
        return max(16, min(512, Int(limit.rlim_cur / 4)))
    }

    var down: Set<HealthKey> { downSet.withLock { $0 } }

    func start() throws(SystemError) {
        guard !states.isEmpty else { return }
        thread = try WorkerThread(name: "health") { [self] in run() }
    }

    func stop() {
        stopping.set()
        thread?.join()
        thread = nil
    }

    private func run() {
        while !stopping.isSet {
            let now = monotonicSeconds()
            let due = states.filter { $0.value.nextProbe <= now }.map(\.key)
            if !due.isEmpty {
                let (results, unprobed) = probe(due)
                record(results, at: now)
                // Not probed for want of a descriptor: again in a second, not a whole interval later.
                for key in unprobed { states[key]?.nextProbe = now + 1 }
            }
            let next = states.values.map(\.nextProbe).min() ?? now + 1
            // Sleep in short steps so a stop request is noticed quickly.
            let wait = min(max(next - monotonicSeconds(), 0.01), 0.1)
            usleep(UInt32(wait * 1_000_000))
        }
    }

    private func record(_ results: [HealthKey: Bool], at now: Double) {
        var changed = false
        for (key, ok) in results {
            guard var state = states[key] else { continue }
            if ok {
                state.successes += 1; state.failures = 0
                if !state.up && state.successes >= state.check.successes {
                    state.up = true; changed = true
                    logger.notice("target up", metadata: ["target": "\(key)"])
                }
            } else {
                state.failures += 1; state.successes = 0
                if state.up && state.failures >= state.check.failures {
                    state.up = false; changed = true
                    logger.warning("target down", metadata: ["target": "\(key)"])
                }
            }
            state.nextProbe = now + state.check.interval.seconds
            states[key] = state
        }
        if changed {
            let down = Set(states.filter { !$0.value.up }.map(\.key))
            downSet.withLock { $0 = down }
            onChange(down)
        }
    }

    /// Connects to the endpoints (non-blocking), at most ``maxInFlight`` at a time, and waits
    /// for each up to its timeout, counted from its own connect. Endpoints that could not be
    /// probed (no descriptor) have no result and are returned apart: a probe that never left
    /// says nothing about the target.
    private func probe(_ keys: [HealthKey]) -> (results: [HealthKey: Bool], unprobed: [HealthKey]) {
        var results: [HealthKey: Bool] = [:]
        var unprobed: [HealthKey] = []
        var pending: [(key: HealthKey, fd: Int32, deadline: Double)] = []
        var queue = keys[...]
        var shortage: Int32 = 0
        while !queue.isEmpty || !pending.isEmpty {
            while pending.count < maxInFlight, let key = queue.popFirst() {
                switch TCPProbe.connect(key.target, port: key.port) {
                case .connected(let fd): close(fd); results[key] = true
                case .failed: results[key] = false
                case .inProgress(let fd): pending.append((key, fd, monotonicSeconds() + states[key]!.check.timeout.seconds))
                case .noDescriptor(let code): unprobed.append(key); shortage = code
                }
            }
            guard !pending.isEmpty else { continue }
            let now = monotonicSeconds()
            var fds = pending.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
            let wait = max(0, (pending.map(\.deadline).min() ?? now) - now)
            _ = poll(&fds, nfds_t(fds.count), Int32(wait * 1000) + 1)
            let after = monotonicSeconds()
            var still: [(key: HealthKey, fd: Int32, deadline: Double)] = []
            for (index, entry) in pending.enumerated() {
                if fds[index].revents != 0 {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    let ok = getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
                    results[entry.key] = ok
                    close(entry.fd)
                } else if after >= entry.deadline {
                    results[entry.key] = false
                    close(entry.fd)
                } else {
                    still.append(entry)
                }
            }
            pending = still
        }
        if !unprobed.isEmpty && !starved {
            logger.warning("health probes short of file descriptors; those targets keep their state until probed", metadata: [
                "unprobed": "\(unprobed.count)", "errno": "\(shortage == EMFILE ? "EMFILE" : "ENFILE")", "in_flight_limit": "\(maxInFlight)",
            ])
        }
        starved = !unprobed.isEmpty
        return (results, unprobed)
    }

}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
