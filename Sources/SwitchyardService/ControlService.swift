import Foundation
import Logging
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardInventory
import SwitchyardJournal
import SwitchyardServer
import SwitchyardTransfer
import SwitchyardZones

/// Where caches are told about a new generation (SPEC "Cache invalidation").
public struct InvalidationSettings: Sendable {
    /// Secondaries that get a DNS NOTIFY (RFC 1996) for every zone whose serial moved.
    public var notify: [ListenAddress]
    /// Commands with `{zone}`, `{name}` and `{generation}` placeholders, e.g.
    /// `unbound-control flush_zone {zone}`. One run per changed name when `{name}` is used,
    /// else one per changed zone.
    public var hooks: [String]
    public var hookTimeout: Double
    public var attempts: Int
    /// The TSIG key to sign NOTIFY with, by secondary address (`--notify ADDR:PORT,key=NAME`).
    public var notifyKeys: [String: TSIGKey]

    public init(notify: [ListenAddress] = [], hooks: [String] = [], hookTimeout: Double = 10, attempts: Int = 3,
                notifyKeys: [String: TSIGKey] = [:]) {
        self.notify = notify; self.hooks = hooks; self.hookTimeout = hookTimeout; self.attempts = attempts
        self.notifyKeys = notifyKeys
    }
}

/// The one writer of serving state: every change, whether a shift, a cutover or rollback
/// step, or fitting the journal to reloaded zones, is a function of the current state applied
/// under one commit lock. It becomes a journaled generation (synced to disk) before the
/// snapshot that serves it is swapped in; then discovery files are re-published. Caches are
/// invalidated separately (``invalidate(after:)``), by whoever asked for the change.
public final class ControlService: ZoneInstaller, Sendable {
    private struct State {
        var inventories: [Inventory]
        var generation: Generation
        /// Serials the zone files declare, per origin.
        var fileSerials: [String: UInt32]
        /// Serials being served, per origin.
        var servedSerials: [String: UInt32]
        /// Per origin, the first generation served with the zone file's current data: IXFR
        /// differences reach back no further (older generations had other zone data).
        var dataSince: [String: UInt64] = [:]
        /// What the local copy records this state was served with (PostgreSQL fleet only).
        var servedWith: LocalGenerationCopy.ServedWith?
        /// The zone data and inventories served, as fleet members compare them.
        var servedData: ServedData?
    }

    public let journal: Journal
    /// Where the last generation served is copied to (a PostgreSQL fleet member), with the
    /// zones directory it is served with; nil keeps no copy.
    public let localCopy: LocalCopySettings?
    let store: SnapshotStore
    let logger: Logger
    private let discovery: DiscoverySync?
    public let invalidation: InvalidationSettings
    private let state: Mutex<State?> = Mutex(nil)
    /// Serializes commits (journal append + swap) without holding `state` during I/O.
    private let commitLock = Mutex(())
    /// One writer of the local copy at a time (it has one temporary file name); holds the
    /// last error writing it, so each distinct one is logged once.
    private let localCopyLock = Mutex<String?>(nil)
    /// Set while serving the local copy a start fell back to, until the journal answers.
    private let localCopyServed = Mutex<String?>(nil)
    /// Why `/healthz` is degraded while the local copy serves (nil once the journal answered).
    public var servingLocalCopy: String? { localCopyServed.withLock { $0 } }
    private let hookFailures = Atomic<Int>(0)
    private let notifiesSent = Atomic<Int>(0)
    private let notifiesAcknowledged = Atomic<Int>(0)
    /// NOTIFY messages sent (every attempt) and acknowledged by a secondary.
    public var notifyCounts: (sent: Int, acknowledged: Int) {
        (notifiesSent.load(ordering: .relaxed), notifiesAcknowledged.load(ordering: .relaxed))
    }

    public init(journal: Journal, store: SnapshotStore, discovery: DiscoverySync?, invalidation: InvalidationSettings,
                localCopy: LocalCopySettings? = nil, logger: Logger) {
        self.journal = journal
        self.localCopy = localCopy
        self.store = store
        self.discovery = discovery
        self.invalidation = invalidation
        self.logger = logger
        discovery?.observeRetries { [weak self] generation, attempt, results in
            for result in results {
                self?.record(generation: generation ?? 0, kind: .discovery, target: result.command, result: result, attempt: attempt)
            }
        }
    }

    /// The current generation and inventories.
    public var current: (generation: Generation, inventories: [Inventory])? {
        state.withLock { $0.map { ($0.generation, $0.inventories) } }
    }

    public var failedHookCount: Int { hookFailures.load(ordering: .relaxed) }
    /// Whether the journal takes writes (probed again while it does not); see ``JournalHealth``.
    public var journalHealth: JournalHealth { journal.health() }
    public var discoveryFailure: String? { discovery?.failure }

    /// Fits the journal's latest generation to freshly loaded zones and inventories (on
    /// start and on every reload) and swaps in the snapshot that serves it, under the commit
    /// lock, so a reload and a concurrent shift never lose each other's work. A generation
    /// is appended when the state had to change (first start, names added or removed).
    public func install(_ loaded: ZoneLoader.Configuration, down: Set<HealthKey>) throws {
        // One write transaction: in a fleet another server may commit between reading the
        // latest generation and appending after it.
        let reloaded: (generation: Generation, moved: Bool)
        do {
            reloaded = try installFromJournal(loaded, down: down)
            // After the transaction: its fsyncs must not hold the fleet's write lock.
            writeLocalCopy()
        } catch let error as JournalError {
            guard case .unavailable = error, let localCopy, state.withLock({ $0 == nil }) else { throw error }
            try installLocalCopy(loaded, down: down, from: localCopy, unreachable: error)
            return
        }
        publishDiscovery(reloaded.generation)
        if reloaded.moved && !invalidation.notify.isEmpty {
            // A reload runs on the signal thread: NOTIFY (with its retries) must not hold it.
            let generation = reloaded.generation
            Thread.detachNewThread { [self] in _ = self.notifySecondaries(generation) }
        }
    }

    /// Serves `generation` from the local copy without the journal (nothing can be written
    /// to it): every origin's data counts as new from this generation, so IXFR sends whole zones.
    func serveLocalCopy(_ generation: Generation, loaded: ZoneLoader.Configuration, down: Set<HealthKey>,
                        servedWith: LocalGenerationCopy.ServedWith) throws {
        try commitLock.withLock { _ in
            let snapshot = try buildSnapshot(loaded.snapshot, inventories: loaded.inventories, state: generation.state, down: down, serials: generation.serials)
            store.replace(with: snapshot)
            state.withLock {
                $0 = State(inventories: loaded.inventories, generation: generation, fileSerials: servedWith.fileSerials,
                           servedSerials: generation.serials, dataSince: generation.serials.mapValues { _ in generation.number },
                           servedWith: servedWith, servedData: Self.servedData(loaded))
            }
        }
    }

    func noteServingLocalCopy(_ description: String) { localCopyServed.withLock { $0 = description } }

    var servedDataNow: ServedData? { state.withLock { $0?.servedData } }

    /// The generation served and what it is served with, for the local copy.
    var servedState: (generation: Generation, servedWith: LocalGenerationCopy.ServedWith?)? { state.withLock { $0.map { ($0.generation, $0.servedWith) } } }

    func withLocalCopyLock(_ body: (inout String?) -> Void) { localCopyLock.withLock { body(&$0) } }

    /// ``install(_:down:)`` as one write transaction of the journal.
    private func installFromJournal(_ loaded: ZoneLoader.Configuration, down: Set<HealthKey>) throws -> (generation: Generation, moved: Bool) {
        try commitLock.withLock { _ in try journal.write { transaction in
            let latest = try transaction.latest()
            let inventories = loaded.inventories
            let fileSerials = Dictionary(uniqueKeysWithValues: loaded.snapshot.zones.map { ($0.origin.description.lowercased(), $0.serial) })
            var served: [String: UInt32] = [:]
            for (origin, fileSerial) in fileSerials {
                // Never serve a serial older than one already served (RFC 1982 order).
                if let old = latest?.serials[origin], !SerialNumber.isAfter(fileSerial, old) { served[origin] = old } else { served[origin] = fileSerial }
            }
            let previous = state.withLock { $0 }
            // A zone whose file serial moved on a reload, or whose inventory changed (targets,
            // pools, TTLs: what secondaries get flattened), has new data: it gets a serial after
            // every one served so far, so secondaries transfer it (journaled below).
            var filesChanged: [String] = []
            if let previous {
                func inventory(_ list: [Inventory], _ origin: String) -> Inventory? { list.first { $0.origin == origin } }
                for (origin, fileSerial) in fileSerials
                where previous.fileSerials[origin] != fileSerial || inventory(previous.inventories, origin) != inventory(inventories, origin) {
                    filesChanged.append(origin)
                    if let old = latest?.serials[origin], served[origin] == old { served[origin] = SerialNumber.next(after: old, atLeast: fileSerial) }
                }
            }
            let generation: Generation
            if let latest {
                let fitted = try fit(latest, to: inventories, baseline: try previous.map { ServingState.initial($0.inventories) } ?? transaction.inventoryBaseline())
                if fitted.state == latest.state && !filesChanged.isEmpty && served != latest.serials {
                    generation = try transaction.append(state: latest.state, actor: "switchyard", reason: "zone data reloaded: " + filesChanged.sorted().joined(separator: ", "),
                                                    serials: served, at: Date())
                } else if fitted.state != latest.state {
                    served = served.mapValues { SerialNumber.next(after: $0, atLeast: $0) }
                    generation = try transaction.append(state: fitted.state, actor: "switchyard", reason: "reconciled with the inventory: " + fitted.notes.joined(separator: "; "),
                                                    serials: served, at: Date())
                } else {
                    generation = latest
                }
            } else {
                generation = try transaction.append(state: ServingState.initial(inventories), actor: "switchyard", reason: "initial state from the inventory",
                                                serials: served, at: Date())
            }
            let snapshot = try buildSnapshot(loaded.snapshot, inventories: inventories, state: generation.state, down: down, serials: served)
            // Written only when it changed: a reload of unchanged files then needs no write,
            // so it still succeeds while the state directory is full or read-only.
            let baseline = ServingState.initial(inventories)
            if try transaction.inventoryBaseline() != baseline { try transaction.setInventoryBaseline(baseline, at: Date()) }
            store.replace(with: snapshot)
            var dataSince: [String: UInt64] = [:]
            for origin in fileSerials.keys {
                let unchanged = previous != nil && !filesChanged.contains(origin)
                dataSince[origin] = unchanged ? previous?.dataSince[origin] ?? generation.number : generation.number
            }
            let copyKey = localCopy.map { servedWith(loaded, fileSerials: fileSerials, settings: $0) }
            let data = Self.servedData(loaded)
            state.withLock { $0 = State(inventories: inventories, generation: generation, fileSerials: fileSerials, servedSerials: served,
                                        dataSince: dataSince, servedWith: copyKey, servedData: data) }
            logger.info("serving generation", metadata: ["generation": "\(generation.number)", "serials": "\(describeSerials(served))"])
            return (generation, previous != nil && previous?.servedSerials != served)
        } }
    }

    /// The journal's `latest` state fitted to `inventories`: names that left the inventory are
    /// dropped (a warning when they carried cutover state), and a name whose inventory setting
    /// was edited since the last load (also while the server was down) takes the edit: the
    /// operator meant it.
    private func fit(_ latest: Generation, to inventories: [Inventory], baseline: ServingState?) throws -> (state: ServingState, notes: [String]) {
        let declared = ServingState.initial(inventories)
        var (fitted, notes) = latest.state.reconciled(with: inventories)
        let known = Set(declared.brokerPools.keys).union(declared.weights.keys)
        for name in latest.state.names.subtracting(known).sorted() {
            // Live cutover state: anything the inventory did not declare (a flip, weights, a
            // lowered or overridden TTL). Dropping that is worth a warning; the rest a notice.
            let setting = latest.state.setting(of: name)
            let declaredBefore = baseline?.setting(of: name)
            let hasCutoverState = declaredBefore != setting
            let metadata: Logger.Metadata = ["name": "\(name)", "generation": "\(latest.number)", "state": "\(setting)"]
            if hasCutoverState {
                logger.warning("stable name with live cutover state left the inventory; its state is dropped", metadata: metadata)
            } else {
                logger.notice("stable name left the inventory", metadata: metadata)
            }
        }
        if let before = baseline {
            for name in known.sorted()
            where before.setting(of: name) != declared.setting(of: name) && before.setting(of: name) != NameSetting() {
                fitted.brokerPools[name] = declared.brokerPools[name]
                fitted.weights[name] = declared.weights[name]
                notes.append("\(name): inventory edited, now \(declared.setting(of: name))")
            }
        }
        for note in notes { logger.notice("journal state reconciled with the inventory", metadata: ["change": "\(note)"]) }
        return (fitted, notes)
    }

    private func buildSnapshot(_ base: Snapshot, inventories: [Inventory], state: ServingState, down: Set<HealthKey>,
                               serials: [String: UInt32]) throws -> Snapshot {
        let specs = ZoneLoader.stableNames(of: inventories, applying: state.overrides)
        do {
            return try base.updating(stableNames: specs, down: down, serials: Self.byOrigin(serials))
        } catch {
            throw ControlServiceError.notServable(error.description)
        }
    }

    private static func byOrigin(_ serials: [String: UInt32]) -> [DomainName: UInt32] {
        var result: [DomainName: UInt32] = [:]
        for (origin, serial) in serials { if let name = DomainName(origin) { result[name] = serial } }
        return result
    }

    /// What a commit did.
    public struct Commit: Sendable {
        /// The new generation, or the current one when nothing changed.
        public var generation: Generation
        /// `false` when the change left the state as it was: nothing was journaled.
        public var changed: Bool
    }

    /// The one commit path. `change` gets the journal's latest state and the inventories under
    /// the commit lock, inside the write transaction (serialized across a fleet), and returns
    /// the next state, so concurrent writers (a shift during a cutover, here or on another
    /// server) never overwrite each other's names. When `expecting` is given and the latest
    /// generation is another, nothing happens and ``ControlServiceError/generationMoved(expected:current:)``
    /// is thrown. A change to the same state journals nothing.
    ///
    /// `fence` runs first inside the write transaction and may refuse it (a cutover run checks
    /// that this server still holds its lease).
    public func commit(actor: String, reason: String, expecting: UInt64? = nil, fence: ((JournalTransaction) throws -> Void)? = nil,
                       _ change: (ServingState, [Inventory]) throws -> ServingState) throws -> Commit {
        let result: Commit = try commitLock.withLock { _ in
            guard let live = state.withLock({ $0 }) else { throw ControlServiceError.notReady }
            // Journaled (synced) before it is swapped in: when the append fails (a full or
            // read-only state directory, the database gone) nothing below runs, so the live
            // state, the snapshot and the serials stay at the last journaled generation.
            let outcome: (generation: Generation, next: Snapshot?)
            do {
                outcome = try journal.write { transaction in
                    try fence?(transaction)
                    return try append(change, to: live, in: transaction, actor: actor, reason: reason, expecting: expecting)
                }
            } catch let error as JournalError {
                logger.error("generation not committed; still serving the last one", metadata: [
                    "generation": "\(live.generation.number)", "actor": "\(actor)", "reason": "\(reason)", "error": "\(error)",
                ])
                throw error
            }
            guard let next = outcome.next else {
                if outcome.generation.number > live.generation.number { try adopt(outcome.generation, inventories: live.inventories) }
                return Commit(generation: outcome.generation, changed: false)
            }
            try swap(to: next, generation: outcome.generation)
            let generation = outcome.generation
            logger.info("generation committed", metadata: [
                "generation": "\(generation.number)", "actor": "\(actor)", "reason": "\(reason)",
                "changes": "\(generation.changes.map { "\($0.name) \($0.before) -> \($0.after)" }.joined(separator: "; "))",
            ])
            return Commit(generation: generation, changed: true)
        }
        if result.changed { publishDiscovery(result.generation) }
        return result
    }

    /// Inside a write transaction: applies `change` to the journal's latest generation (read in
    /// this transaction, so serialized across a fleet: another server may have committed since
    /// this one last served), builds the snapshot that serves the result and appends it.
    /// Returns the latest generation and no snapshot when the change changes nothing.
    private func append(_ change: (ServingState, [Inventory]) throws -> ServingState, to live: State, in transaction: JournalTransaction,
                        actor: String, reason: String, expecting: UInt64?) throws -> (generation: Generation, next: Snapshot?) {
        let latest = try transaction.latest() ?? live.generation
        if let expecting, expecting != latest.number {
            throw ControlServiceError.generationMoved(expected: expecting, current: latest.number)
        }
        let newState = try change(latest.state, live.inventories)
        guard newState != latest.state else { return (latest, nil) }
        var serials: [String: UInt32] = [:]
        for (origin, served) in live.servedSerials {
            let served = latest.serials[origin] ?? served
            serials[origin] = SerialNumber.next(after: served, atLeast: live.fileSerials[origin] ?? served)
        }
        // Built once, and before it is journaled, so the journal never holds a generation
        // that cannot be served.
        let next = try snapshot(serving: newState, serials: serials, inventories: live.inventories)
        return (try transaction.append(state: newState, actor: actor, reason: reason, serials: serials, at: Date()), next)
    }

    /// Serves the journal's latest generation when another server of the fleet committed it
    /// (called on every announcement and on a timer, and after a reconnect). Moves only
    /// forward: a generation older than the one served is never swapped in. Returns the
    /// generation adopted, if any.
    @discardableResult
    public func catchUp() throws -> Generation? {
        let adopted: Generation? = try commitLock.withLock { _ in
            guard let live = state.withLock({ $0 }) else { return nil }
            let latest = try journal.latest()
            localCopyServed.withLock { $0 = nil }
            guard let latest, latest.number > live.generation.number else { return nil }
            try adopt(latest, inventories: live.inventories)
            logger.info("following generation", metadata: ["generation": "\(latest.number)", "actor": "\(latest.actor)", "reason": "\(latest.reason)"])
            return latest
        }
        if let adopted { publishDiscovery(adopted) }
        return adopted
    }

    /// Serves `generation` (committed elsewhere); under the commit lock.
    private func adopt(_ generation: Generation, inventories: [Inventory]) throws {
        let next = try snapshot(serving: generation.state, serials: generation.serials, inventories: inventories)
        try swap(to: next, generation: generation)
    }

    private func snapshot(serving newState: ServingState, serials: [String: UInt32], inventories: [Inventory]) throws -> Snapshot {
        let specs = ZoneLoader.stableNames(of: inventories, applying: newState.overrides)
        do { return try store.snapshot.updating(stableNames: specs, serials: Self.byOrigin(serials)) } catch {
            throw ControlServiceError.notServable("\(error)")
        }
    }

    /// Swaps `next` in (keeping health marks made since it was built) and records what is served.
    private func swap(to next: Snapshot, generation: Generation) throws {
        // Only health changes the store outside the commit lock.
        try store.update { (live) throws(ZoneProblem) in live.down == next.down ? next : try next.updating(down: live.down) }
        state.withLock { $0?.generation = generation; $0?.servedSerials = generation.serials }
        writeLocalCopy()
    }

    private func publishDiscovery(_ generation: Generation) {
        guard let discovery, let inventories = current?.inventories else { return }
        for result in discovery.publish(inventories, generation: generation.number) {
            record(generation: generation.number, kind: .discovery, target: result.command, result: result, attempt: 1)
        }
    }

    /// DNS NOTIFY to the secondaries and the configured hooks, each retried; every attempt
    /// is recorded in the journal. Failures are reported, never thrown.
    public func invalidate(after generation: Generation) -> [HookResult] {
        var results = notifySecondaries(generation)
        let zones = generation.serials.keys.sorted()
        let changedNames = generation.changes.map(\.name)
        for template in invalidation.hooks {
            var commands: [String] = []
            if template.contains("{name}") {
                for name in changedNames {
                    let zone = zones.filter { name.hasSuffix("." + $0) || name == $0 }.max { $0.count < $1.count } ?? ""
                    commands.append(Placeholders.fill(template, ["name": name, "zone": zone, "generation": String(generation.number)]))
                }
            } else {
                for zone in zones {
                    commands.append(Placeholders.fill(template, ["zone": zone, "generation": String(generation.number)]))
                }
            }
            for command in Array(Set(commands)).sorted() {
                var attempt = 1
                while true {
                    let result = HookRunner.run(command, timeout: invalidation.hookTimeout)
                    record(generation: generation.number, kind: .hook, target: command, result: result, attempt: attempt)
                    if result.succeeded || attempt >= invalidation.attempts {
                        results.append(result)
                        break
                    }
                    attempt += 1
                    usleep(UInt32(200_000 * attempt))
                }
            }
        }
        return results
    }

    /// RFC 1996: NOTIFY every secondary of every zone, signed where a key is configured,
    /// retried until acknowledged or `attempts`; each attempt logged, counted and journaled.
    @discardableResult
    public func notifySecondaries(_ generation: Generation) -> [HookResult] {
        var results: [HookResult] = []
        for secondary in invalidation.notify {
            let key = invalidation.notifyKeys[secondary.description]
            for zone in generation.serials.keys.sorted() {
                guard let name = DomainName(zone) else { continue }
                for attempt in 1...max(1, invalidation.attempts) {
                    notifiesSent.add(1, ordering: .relaxed)
                    let ok = DNSClient.notify(zone: name, server: secondary, key: key, attempts: 1)
                    if ok { notifiesAcknowledged.add(1, ordering: .relaxed) }
                    logger.info("NOTIFY sent", metadata: ["zone": "\(zone)", "secondary": "\(secondary)", "attempt": "\(attempt)",
                                                          "serial": "\(generation.serials[zone] ?? 0)", "key": "\(key?.displayName ?? "none")",
                                                          "acknowledged": "\(ok)"])
                    let result = HookResult(command: "NOTIFY \(zone) to \(secondary)", exitCode: ok ? 0 : 1, output: ok ? "" : "no answer or not NOERROR", timedOut: false)
                    record(generation: generation.number, kind: .notify, target: result.command, result: result, attempt: attempt)
                    if ok { results.append(result); break }
                    if attempt == invalidation.attempts { results.append(result) }
                    usleep(UInt32(100_000 * attempt))
                }
            }
        }
        return results
    }

    private func record(generation: UInt64, kind: HookKind, target: String, result: HookResult, attempt: Int) {
        if !result.succeeded {
            hookFailures.add(1, ordering: .relaxed)
            logger.error("invalidation failed", metadata: ["target": "\(target)", "attempt": "\(attempt)", "result": "\(result)", "output": "\(result.output.prefix(300))"])
        }
        do {
            _ = try journal.recordHook(generation: generation, kind: kind, target: target, exitCode: result.timedOut ? nil : result.exitCode,
                                   output: result.output, attempt: attempt, at: Date())
        } catch {
            logger.error("could not journal a hook run", metadata: ["error": "\(error)"])
        }
    }
}

extension ControlService: TransferHistory {
    /// The stable names of the generation that served `origin` at `serial`, when the zone
    /// file's data has not changed since (else nil: the secondary gets the whole zone).
    public func stableNames(origin: DomainName, serial: UInt32) -> [StableNameSpec]? {
        let key = origin.description.lowercased()
        guard let live = state.withLock({ $0 }), let since = live.dataSince[key] else { return nil }
        do {
            // Newest first; a serial can repeat only across a file change, which `since` cuts off.
            // Only numbers and serials are read until the one generation is found (each state
            // holds every stable name; a secondary behind by thousands would read them all).
            if let generation = try journal.generation(serving: serial, origin: key, since: since) {
                return ZoneLoader.stableNames(of: live.inventories, applying: generation.state.overrides)
            }
        } catch {
            logger.error("journal not readable for IXFR; answering with the whole zone", metadata: ["error": "\(error)"])
        }
        return nil
    }
}

public enum ControlServiceError: Error, CustomStringConvertible {
    case notReady
    case notServable(String)
    /// The server cannot start: why, and what to do.
    case cannotStart(String)
    /// The caller's expected generation is no longer the live one (admin API: 409).
    case generationMoved(expected: UInt64, current: UInt64)

    public var description: String {
        switch self {
        case .notReady: return "the server has not loaded its zones yet; retry in a moment"
        case .notServable(let why): return "the new state cannot be served (\(why)); nothing was changed"
        case .cannotStart(let why): return why
        case .generationMoved(let expected, let current):
            return "the live generation is \(current), not \(expected) as expected; nothing was changed. Look at `switchyard status` and try again"
        }
    }
}

extension ServingState {
    var overrides: StableOverrides {
        StableOverrides(livePools: brokerPools, weights: weights, ttls: ttls.merging(loweredTTLs) { _, lowered in lowered })
    }
}

/// `kafka.example. 2026112102, other.example. 7` for a log line (origins sorted).
func describeSerials(_ serials: [String: UInt32]) -> String {
    serials.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
}
