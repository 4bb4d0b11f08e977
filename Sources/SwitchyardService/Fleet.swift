import Foundation
import Logging
import Synchronization
import SwitchyardControl
import SwitchyardJournal
import SwitchyardServer

/// This server's part in a fleet sharing one PostgreSQL journal: it follows generations
/// committed anywhere (LISTEN, plus a poll as a safety net), registers where it answers DNS
/// with a heartbeat, renews the leases of the runs it owns, hears pauses asked of them through
/// other servers, and takes over (or, with a pause pending, marks paused) runs whose owner
/// died. Only PostgreSQL journals have a fleet; with SQLite there is none of this.
public final class Fleet: Sendable {
    public struct Settings: Sendable {
        /// This server's name in the fleet (unique per server).
        public var name: String
        public var dnsAddresses: [ListenAddress]
        public var adminAddress: String
        /// A member silent for longer is not live: steps are not verified against it.
        public var memberTimeout: Double
        /// How long a run's lease lasts without renewal; renewed every third of it.
        public var leaseSeconds: Double
        /// Whether to resume, by itself, a run whose owner's lease expired.
        public var takeOver: Bool

        public init(name: String, dnsAddresses: [ListenAddress], adminAddress: String, memberTimeout: Double = 5,
                    leaseSeconds: Double = 10, takeOver: Bool = true) {
            self.name = name; self.dnsAddresses = dnsAddresses; self.adminAddress = adminAddress
            self.memberTimeout = memberTimeout; self.leaseSeconds = leaseSeconds; self.takeOver = takeOver
        }
    }

    /// What `/healthz` and `/metrics` say about following the journal.
    public struct Health: Sendable, Equatable {
        /// Connected to the journal and caught up with it since the last (re)connect.
        public var following = false
        public var problem: String? = "not connected to the journal yet"
        public var since = Date()
        /// Generations adopted from other servers.
        public var followed = 0
        /// Times the listening connection was lost.
        public var disconnects = 0
        /// The listening connection is up (announcements arrive).
        var listening = false
        /// Live members serving other zone data or inventories than this server, as of the
        /// last heartbeat (kept as last seen while the journal is unreachable).
        public var diverging: [FleetDivergence] = []
    }

    public let settings: Settings
    public let postgres: PostgresBackend
    private let control: ControlService
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let state = Mutex(Health())
    /// Called with the running runs that lost their owner (set by `CutoverService`).
    private let orphanHandler = Mutex<(@Sendable ([OrphanedRun]) -> Void)?>(nil)
    /// Called every heartbeat to renew the leases of the runs this server owns.
    private let leaseRenewer = Mutex<(@Sendable () -> Void)?>(nil)
    /// Called (on a Dispatch thread) with the run id of each pause request announced.
    private let pauseListener = Mutex<(@Sendable (Int64) -> Void)?>(nil)

    public init(settings: Settings, postgres: PostgresBackend, control: ControlService, logger: Logger) {
        self.settings = settings
        self.postgres = postgres
        self.control = control
        self.logger = logger
    }

    public var health: Health { state.withLock { $0 } }

    /// Starts following and the heartbeat, each on a thread of its own.
    public func start() {
        Thread.detachNewThread { [self] in
            postgres.follow(stopped: { [self] in stopping.load(ordering: .relaxed) }, onChange: { [self] number in
                // nil: (re)connected; whatever was announced meanwhile is read by the catch-up.
                if number == nil { state.withLock { $0.listening = true } }
                wake.signal()
            }, onPauseRequest: { [self] run in
                // Off the NIO thread: the listener reads the journal.
                if let listener = pauseListener.withLock({ $0 }) { DispatchQueue.global().async { listener(run) } }
            }, onLost: { [self] problem in lost("journal unreachable: \(problem)", listening: false) })
        }
        Thread.detachNewThread { [self] in followLoop() }
        Thread.detachNewThread { [self] in heartbeatLoop() }
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        try? postgres.leave(settings.name)
    }

    func onOrphanedRuns(_ handler: @escaping @Sendable ([OrphanedRun]) -> Void) { orphanHandler.withLock { $0 = handler } }
    func onHeartbeat(_ renew: @escaping @Sendable () -> Void) { leaseRenewer.withLock { $0 = renew } }
    func onPauseRequest(_ listener: @escaping @Sendable (Int64) -> Void) { pauseListener.withLock { $0 = listener } }

    /// Catches up on every announcement, and at least every second (an announcement is lost
    /// while the listening connection is down). Reports itself following only after a
    /// successful catch-up, so a server back from an outage is healthy only once it serves
    /// the journal's latest generation.
    private func followLoop() {
        while !stopping.load(ordering: .relaxed) {
            _ = wake.wait(timeout: .now() + 1)
            guard !stopping.load(ordering: .relaxed) else { return }
            do {
                let adopted = try control.catchUp()
                state.withLock { health in
                    if adopted != nil { health.followed += 1 }
                    if !health.following && health.listening {
                        health.following = true
                        health.problem = nil
                        health.since = Date()
                    }
                }
            } catch let error as JournalError {
                lost("journal unreachable: \(error)", listening: nil)
            } catch {
                // Reachable, but its latest generation does not serve here (this server's
                // inventories differ from the committer's): say so, not "unreachable".
                lost("cannot serve the journal's latest generation: \(error)", listening: nil)
            }
        }
    }

    private func lost(_ problem: String, listening: Bool?) {
        let first = state.withLock { health -> Bool in
            let first = health.following
            if first { health.disconnects += 1; health.since = Date() }
            health.following = false
            health.problem = problem
            if let listening { health.listening = listening }
            return first
        }
        if first {
            logger.error("lost the journal; answering from the last generation until it is back",
                         metadata: ["generation": "\(control.current?.generation.number ?? 0)", "error": "\(problem)"])
        }
    }

    private func heartbeatLoop() {
        while !stopping.load(ordering: .relaxed) {
            let member = FleetMember(name: settings.name, dnsAddresses: settings.dnsAddresses.map(\.description),
                                     adminAddress: settings.adminAddress, generation: control.current?.generation.number ?? 0,
                                     servedData: control.servedData)
            do {
                try postgres.heartbeat(member)
                leaseRenewer.withLock { $0 }?()
                // Also with --no-takeover: an orphan with a pause pending is marked paused.
                let orphans = try postgres.orphanedRuns()
                if !orphans.isEmpty { orphanHandler.withLock { $0 }?(orphans) }
                // Last: a failure to read the members must not hold up the runs above.
                noteDivergences(try divergences())
            } catch {
                logger.debug("fleet heartbeat failed", metadata: ["error": "\(error)"])
            }
            Thread.sleep(forTimeInterval: min(1, settings.leaseSeconds / 3))
        }
    }

    /// Live members (heard from within `--fleet-timeout`) serving other zone data or
    /// inventories than this server, read from the journal now; only zone `origin` is
    /// compared when given. Empty before this server has loaded its zones.
    public func divergences(origin: String? = nil) throws -> [FleetDivergence] {
        guard let own = control.servedData else { return [] }
        let members = try postgres.liveMembers(within: settings.memberTimeout)
        return FleetData.divergences(own: own, me: settings.name, members: members.map { ($0.name, $0.servedData) }, origin: origin)
    }

    /// Keeps the divergences for `/healthz` and `/metrics` (which must answer without the
    /// database) and logs each change of them once.
    private func noteDivergences(_ found: [FleetDivergence]) {
        let before = state.withLock { health in
            defer { health.diverging = found }
            return health.diverging
        }
        guard before != found else { return }
        if found.isEmpty {
            logger.notice("every live fleet member serves the same zone data and inventories as this server again")
        } else {
            logger.warning("live fleet members serve other zone data or inventories than this server: the NS set answers differently; cutover and rollback runs are refused until they agree",
                           metadata: ["diverging": "\(found.map(\.description).joined(separator: "; "))"])
        }
    }

    /// Where a cutover step must be seen: this server's addresses and every live member's.
    /// A member that lags behind the step fails its verification.
    public func verificationTargets(own: [ListenAddress]) -> [ListenAddress] {
        var targets = own
        let members = (try? postgres.liveMembers(within: settings.memberTimeout)) ?? []
        for member in members where member.name != settings.name {
            for text in member.dnsAddresses {
                if let address = ListenAddress(text), !targets.contains(address) { targets.append(address) }
            }
        }
        return targets
    }
}
