import Foundation
import Logging
import Synchronization
import SwitchyardControl
import SwitchyardCore
import SwitchyardInventory
import SwitchyardJournal
import SwitchyardServer

/// Runs cutover and rollback plans inside the server, one per cluster at a time, with the
/// journal as the only record of progress: a run survives a restart of the CLI (it never
/// ran there) and of the server (`resume` picks it up from the journal).
public final class CutoverService: Sendable {
    struct Active: Sendable {
        var id: Int64
        var pause: PauseFlag
    }

    private let control: ControlService
    private let verifyServers: [ListenAddress]
    let logger: Logger
    /// The runs this process executes, by cluster.
    let active = Mutex<[String: Active]>([:])
    /// How runs that stopped here ended when the journal refused that last write (a full or
    /// read-only disk): the journal still says `running`, and status shows this instead of
    /// "interrupted", with the reason, until the run is resumed.
    private let unjournaledEnds = Mutex<[Int64: CutoverProgress]>([:])
    /// Held while a run is checked and started (or resumed), so two requests for one
    /// cluster can never both pass the check.
    let startLock = Mutex(())
    /// What Kafka gates last saw at each target (in memory, since the server started).
    public let kafkaSightings = KafkaSightings()
    /// The fleet this server belongs to (PostgreSQL journal), if any: runs are leased.
    let fleet = Mutex<Fleet?>(nil)

    public init(control: ControlService, verifyServers: [ListenAddress], logger: Logger) {
        self.control = control
        self.verifyServers = verifyServers
        self.logger = logger
    }

    var journal: Journal { control.journal }

    /// Joins `fleet`: every run started or resumed here is leased to this server, renewed on
    /// the fleet's heartbeat, verified against every live member, paused when asked through
    /// any server, and a run whose owner died is taken over (when the fleet's settings say
    /// so) or, with a pause pending, marked paused.
    public func join(_ fleet: Fleet) {
        self.fleet.withLock { $0 = fleet }
        fleet.onHeartbeat { [weak self] in self?.renewLeases() }
        fleet.onOrphanedRuns { [weak self] orphans in self?.handleOrphans(orphans) }
        fleet.onPauseRequest { [weak self] _ in self?.notePauseRequests(heard: "NOTIFY") }
    }

    /// Leases this server's runs for another term; a run whose lease another server took
    /// (this one was cut off longer than the lease) is stopped here.
    private func renewLeases() {
        guard let fleet = fleet.withLock({ $0 }) else { return }
        for (cluster, run) in active.withLock({ $0 }) {
            do {
                if try !fleet.postgres.renewLease(run: run.id, owner: fleet.settings.name, seconds: fleet.settings.leaseSeconds) {
                    logger.error("lost the lease of a cutover run to another server; stopping it here", metadata: ["run": "\(run.id)", "cluster": "\(cluster)"])
                    run.pause.set()
                }
            } catch {
                logger.warning("could not renew a cutover run's lease", metadata: ["run": "\(run.id)", "error": "\(error)"])
            }
        }
        // The safety net under NOTIFY (lost while the listening connection is down).
        notePauseRequests(heard: "heartbeat")
    }

    /// Takes run `id`'s lease for this server (dropping its pending pause with it, when asked),
    /// or says who holds it.
    func lease(_ id: Int64, cluster: String, droppingPauseRequest: Bool = false) throws {
        guard let fleet = fleet.withLock({ $0 }) else { return }
        let lease = try fleet.postgres.acquireLease(run: id, owner: fleet.settings.name, seconds: fleet.settings.leaseSeconds,
                                                    droppingPauseRequest: droppingPauseRequest)
        guard lease.owner == fleet.settings.name else {
            throw ControlConflict("run \(id) of cluster \(cluster) is being run by server \(lease.owner) (its lease holds for \(String(format: "%.1f", lease.remaining)) s more)",
                                  remedy: "wait for it, or pause it through any server (`switchyard cutover pause \(cluster) --wait`) and resume once it shows paused; "
                                      + "if that server died, resume once the lease expired (or let takeover continue it)")
        }
    }

    func inventory(for cluster: String) throws -> (Inventory, Generation) {
        guard let current = control.current else { throw ControlServiceError.notReady }
        guard let inventory = current.inventories.first(where: { $0.cluster(named: cluster) != nil }) else {
            let known = current.inventories.flatMap { $0.clusters.map(\.name) }.sorted()
            throw ControlError("no cluster named \(cluster)", remedy: "use one of: \(known.joined(separator: ", "))")
        }
        return (inventory, current.generation)
    }

    /// The plan a cutover would run (nothing changes). `cutover plan` and `cutover apply` both
    /// come here, so the plan printed waits as the plan applied does (measured at its own now).
    public func plan(_ options: CutoverOptions) throws -> CutoverPlan {
        let (inventory, generation) = try inventory(for: options.cluster)
        // An unknown cluster is the planner's to explain.
        let caches = try inventory.cluster(named: options.cluster).map { try cacheContext(for: $0, live: generation) }
        return withServerHooks(try Planner.plan(options: options, inventory: inventory, state: generation.state, caches: caches))
    }

    /// The plan lists what this server runs after every step, besides the plan's own hooks.
    private func withServerHooks(_ plan: CutoverPlan) -> CutoverPlan {
        var plan = plan
        let settings = control.invalidation
        let configured = settings.notify.map { "DNS NOTIFY for \(plan.origin) to \($0)" }
            + settings.hooks.map { "command `\($0)` (\(settings.attempts) attempts, \(Int(settings.hookTimeout)) s timeout each)" }
        plan.hooks = plan.hooks.filter { !configured.contains($0) } + configured
        return plan
    }

    /// The plan a rollback would run: back to the state before a cutover run (`run`, or
    /// with no selector the cluster's last cutover run), or to a generation (`toGeneration`,
    /// or the state before the cluster's last `steps` changes).
    public func rollbackPlan(_ body: AdminAPI.RollbackBody) throws -> CutoverPlan {
        try rollback(body).plan
    }

    private func rollback(_ body: AdminAPI.RollbackBody) throws -> (plan: CutoverPlan, undoing: Int64?) {
        let (inventory, generation) = try inventory(for: body.cluster)
        guard let cluster = inventory.cluster(named: body.cluster) else { throw ControlServiceError.notReady }
        var options = body.options ?? CutoverOptions(cluster: body.cluster, toPool: "")
        options.cluster = body.cluster
        let selectors = [body.run != nil, body.toGeneration != nil, body.steps != nil].filter { $0 }.count
        guard selectors <= 1 else {
            throw ControlError("give at most one of --run, --to-generation and --steps", remedy: "--run undoes a cutover run; the other two undo generations")
        }
        if body.toGeneration != nil || body.steps != nil {
            let target = try generationTarget(body, cluster: cluster)
            let caches = try cacheContext(for: cluster, live: generation)
            return (withServerHooks(try Planner.rollback(from: generation.state, to: target.state, inventory: inventory, options: options,
                                                         caches: caches)), nil)
        }
        let (id, run) = try cutoverRun(body.run, cluster: cluster.name)
        // Back to where the run started for the cluster's names; TTLs go back to their
        // baseline (a lowered TTL is never one), other names keep their live setting.
        var target = generation.state
        for name in run.plan.names {
            target.brokerPools[name] = run.plan.startState.brokerPools[name]
            target.weights[name] = run.plan.startState.weights[name]
            target.loweredTTLs[name] = nil
        }
        let caches = try cacheContext(for: cluster, live: generation)
        let plan = try Planner.rollback(from: generation.state, to: target, inventory: inventory, options: options, caches: caches)
        return (withServerHooks(plan), id)
    }

    /// The cutover run to undo: `id`, or the cluster's newest cutover (not rollback) run.
    private func cutoverRun(_ id: Int64?, cluster: String) throws -> (Int64, CutoverProgress) {
        if let id {
            guard let stored = try journal.run(id: id, as: CutoverProgress.self), stored.cluster == cluster else {
                throw ControlError("cluster \(cluster) has no run \(id)", remedy: "see `switchyard status` or `switchyard cutover status \(cluster)`")
            }
            return (id, stored.record)
        }
        for summary in try journal.runs(limit: 1_000, cluster: cluster) {
            if let stored = try journal.run(id: summary.id, as: CutoverProgress.self), stored.record.plan.purpose == .cutover {
                return (summary.id, stored.record)
            }
        }
        throw ControlError("cluster \(cluster) has no cutover run to roll back",
                           remedy: "undo generations with `switchyard rollback \(cluster) --steps K` or `--to-generation N`")
    }

    private func generationTarget(_ body: AdminAPI.RollbackBody, cluster: Cluster) throws -> Generation {
        if let number = body.toGeneration {
            guard let found = try journal.generation(number) else {
                throw ControlError("generation \(number) is not in the journal", remedy: "see `switchyard history --cluster \(body.cluster)`")
            }
            return found
        }
        // The state before the cluster's last K changes.
        let steps = body.steps ?? 1
        guard steps >= 1 else { throw ControlError("--steps \(steps) undoes nothing", remedy: "give 1 or more") }
        // A generation with none before it (the journal's first, the initial state) cannot be undone,
        // so one more than asked is read.
        let history = try journal.history(limit: steps + 1, nameSuffix: ".\(cluster.name).\(cluster.origin)").filter { $0.number > 1 }
        guard history.count >= steps, let before = try journal.generation(history[steps - 1].number - 1) else {
            guard let oldest = history.last else {
                throw ControlError("cluster \(body.cluster) has no generation to undo: no change since the journal's initial state",
                                   remedy: "see `switchyard history --cluster \(body.cluster)`")
            }
            let count = history.count == 1 ? "1 generation" : "\(history.count) generations"
            throw ControlError("--steps \(steps): cluster \(body.cluster) has \(count) to undo (back to generation \(oldest.number - 1))",
                               remedy: "use --steps \(history.count) or less, or --to-generation N")
        }
        return before
    }

    /// Starts a cutover (`options`) or rollback (`rollback`) run in the background. The check
    /// that the cluster has no active run and the start happen under one lock; a rollback of
    /// a paused or failed cutover run marks that run rolled back in the same transaction.
    public func start(_ body: AdminAPI.RunBody) throws -> AdminAPI.RunStatus {
        try startLock.withLock { _ in
            // A run already going comes first: planned from the state it is changing, a new run
            // could only be told "nothing to do" (e.g. `cutover apply` while a rollback runs).
            // (A rollback may undo a paused run, so only a cutover checks the journal here.)
            if let cluster = body.options?.cluster ?? body.rollback?.cluster, let running = active.withLock({ $0[cluster] }) {
                throw ControlConflict("a run is already active for cluster \(cluster): run \(running.id) is running",
                                      remedy: "wait for it, or `switchyard cutover pause \(cluster)` first")
            }
            if let cluster = body.options?.cluster, let existing = try journal.activeRun(cluster: cluster) {
                let record = try journal.run(id: existing.id, as: CutoverProgress.self)?.record
                throw Self.activeRunConflict(existing, isRollback: record?.plan.purpose == .rollback, cluster: cluster)
            }
            let plan: CutoverPlan, undoing: Int64?
            if let options = body.options {
                (plan, undoing) = (try self.plan(options), nil)
            } else if let rollback = body.rollback {
                (plan, undoing) = try self.rollback(rollback)
            } else {
                throw ControlError("the request names neither a cutover nor a rollback", remedy: "send options or rollback")
            }
            if let running = active.withLock({ $0[plan.cluster] }) {
                throw ControlConflict("a run is already active for cluster \(plan.cluster): run \(running.id) is running",
                                  remedy: "wait for it, or `switchyard cutover pause \(plan.cluster)` first")
            }
            try refuseWhileFleetDiverges(body.options != nil ? "cutover apply" : "rollback", cluster: plan.cluster, origin: plan.origin)
            let (_, generation) = try inventory(for: plan.cluster)
            var progress = try CutoverRunner.begin(runID: "pending", plan: plan, currentState: generation.state, currentGeneration: generation.number)
            let id: Int64 = try journal.write { transaction in
                if let undoing, var undone = try transaction.run(id: undoing, as: CutoverProgress.self)?.record, !undone.isFinished {
                    // In a fleet the run may still be running on another server: marking it
                    // rolled back here would start the rollback beside it, and its next step
                    // would write its status back. Only a stopped run, or one whose server died, is undone.
                    if let fleet = fleet.withLock({ $0 }), undone.status == .running,
                       let lease = try transaction.lease(run: undoing), lease.owner != fleet.settings.name, lease.remaining > 0 {
                        throw ControlConflict("run \(undoing) of cluster \(plan.cluster) is running on server \(lease.owner)",
                                              remedy: "pause it first (from any server: `switchyard cutover pause \(plan.cluster) --wait`), then roll back")
                    }
                    undone.status = .rolledBack
                    undone.message += " — rolled back by the run that follows"
                    try transaction.updateRun(id: undoing, status: undone.status.rawValue, record: undone)
                    if fleet.withLock({ $0 }) != nil { try transaction.clearPauseRequest(run: undoing) }
                }
                if let existing = try transaction.activeRun(cluster: plan.cluster) {
                    let isRollback = try transaction.run(id: existing.id, as: CutoverProgress.self)?.record.plan.purpose == .rollback
                    throw Self.activeRunConflict(existing, isRollback: isRollback, cluster: plan.cluster)
                }
                let id = try transaction.createRun(cluster: plan.cluster, status: progress.status.rawValue, record: progress)
                progress.runID = String(id)
                try transaction.updateRun(id: id, status: progress.status.rawValue, record: progress)
                // Leased in the same transaction: committed running without a lease, the run is
                // an orphan to every other server's next heartbeat, which would take it over
                // while this start goes on (or fails after the commit, the run going on anyway).
                if let fleet = fleet.withLock({ $0 }) {
                    _ = try transaction.acquireLease(run: id, owner: fleet.settings.name, seconds: fleet.settings.leaseSeconds)
                }
                return id
            }
            launch(id: id, progress: progress, current: generation)
            if let warnings = plan.warnings {
                logger.warning("run started with warnings", metadata: ["run": "\(id)", "cluster": "\(plan.cluster)", "warnings": "\(warnings.joined(separator: "; "))"])
            }
            return AdminAPI.RunStatus(id: id, cluster: plan.cluster, status: progress.status.rawValue, active: true, progress: progress,
                                      warnings: plan.warnings)
        }
    }

    /// In a fleet, refuses to start (or resume) a staged run of `cluster` while a live member
    /// serves other zone data or inventory for its zone `origin` than this server: each step
    /// would be verified against servers that answer the cluster's names differently (and
    /// the shifted targets would differ by server). Silent members do not count. Plain
    /// `shift` is not gated: it is the operator's direct lever, also for moving a name back
    /// in an incident while a rollout of zone files is half done, and it verifies nothing.
    func refuseWhileFleetDiverges(_ action: String, cluster: String, origin: String) throws {
        guard let fleet = fleet.withLock({ $0 }) else { return }
        let divergent = try fleet.divergences(origin: origin)
        guard divergent.isEmpty else {
            logger.warning("staged run refused: fleet members serve other data", metadata: [
                "action": "\(action)", "cluster": "\(cluster)", "diverging": "\(divergent.map(\.description).joined(separator: "; "))"])
            throw FleetData.refusal(action: action, cluster: cluster, origin: origin, divergent: divergent)
        }
    }

    /// The refusal of a new run while `existing` (running elsewhere, or paused) holds the cluster.
    /// A plain `rollback CLUSTER` undoes the last *cutover* run: offered for a stopped rollback it
    /// would only be refused again, so that run is named instead.
    static func activeRunConflict(_ existing: (id: Int64, status: String), isRollback: Bool, cluster: String) -> ControlConflict {
        let undo = isRollback ? "`switchyard rollback \(cluster) --run \(existing.id)` to undo that rollback"
                              : "`switchyard rollback \(cluster)` to undo it"
        return ControlConflict("a run is already active for cluster \(cluster): run \(existing.id) (\(isRollback ? "a rollback, " : "")\(existing.status))",
                               remedy: "`switchyard cutover resume \(cluster)` to continue it, or \(undo)")
    }

    /// Continues a paused, failed or interrupted run from the journal. In a fleet, on any
    /// server: it takes the run's lease here (refused while another server's lease is live).
    public func resume(cluster: String) throws -> AdminAPI.RunStatus {
        try resume(cluster: cluster, takingOver: false)
    }

    /// `takingOver`: this server resumes, by itself, a run whose server died; a pause asked of
    /// that run is honoured instead (the run is marked paused), never overridden.
    func resume(cluster: String, takingOver: Bool) throws -> AdminAPI.RunStatus {
        try startLock.withLock { _ in
            if let running = active.withLock({ $0[cluster] }) {
                throw ControlConflict("a run is already active for cluster \(cluster): run \(running.id) is running", remedy: "wait, or pause it first")
            }
            guard let summary = try journal.runs(limit: 1, cluster: cluster).first,
                  let stored = try journal.run(id: summary.id, as: CutoverProgress.self) else {
                _ = try inventory(for: cluster)
                throw ControlError("cluster \(cluster) has no cutover to resume", remedy: "plan one with `switchyard cutover plan`")
            }
            let fleet = fleet.withLock { $0 }
            // A takeover continues a run already under way whose server died: left alone it
            // would stay stranded, and its steps' verification still fails where members differ.
            if !takingOver { try refuseWhileFleetDiverges("cutover resume", cluster: cluster, origin: stored.record.plan.origin) }
            let lastOwner: String? = if takingOver { try fleet?.postgres.lease(run: summary.id)?.owner } else { nil }
            // Resuming by hand is the newest word on the run: a pause asked before it (of a
            // server that died before honouring it) is dropped as the lease is taken; one asked
            // after sees this server's lease and is honoured by the run at its first boundary.
            // A takeover drops nothing: a pending pause marks the run paused instead.
            try lease(summary.id, cluster: cluster, droppingPauseRequest: !takingOver)
            if takingOver, let fleet, try markPausedIfRequested(summary.id, lastOwner: lastOwner, fleet: fleet) != nil {
                try? fleet.postgres.releaseLease(run: summary.id, owner: fleet.settings.name)
                return try runStatus(summary.id) ?? AdminAPI.RunStatus(id: summary.id, cluster: cluster, status: "paused", active: false, progress: nil)
            }
            // Read again, now that the lease is held here: the run's last owner, cut off past its
            // lease but alive, may have saved the run (paused it, finished it, committed a step)
            // between the read above and the lease changing hands. Resuming the older record
            // would undo that; a takeover would override a pause someone asked for.
            guard let held = try journal.run(id: summary.id, as: CutoverProgress.self) else {
                throw ControlError("run \(summary.id) of cluster \(cluster) is no longer in the journal", remedy: "see `switchyard status`")
            }
            if takingOver, held.status != CutoverProgress.Status.running.rawValue, let fleet {
                try? fleet.postgres.releaseLease(run: summary.id, owner: fleet.settings.name)
                logger.notice("did not take over a cutover run: its last server stopped it before the lease changed hands",
                              metadata: ["run": "\(summary.id)", "cluster": "\(cluster)", "status": "\(held.status)"])
                throw ControlConflict("run \(summary.id) of cluster \(cluster) is \(held.status) now: its last server stopped it before the lease changed hands",
                                      remedy: "nothing to take over; `switchyard cutover resume \(cluster)` continues it by hand")
            }
            // In a fleet another server may have committed since this one last caught up.
            _ = try control.catchUp()
            let (inventory, generation) = try inventory(for: cluster)
            var progress = try CutoverRunner.resume(progress: held.record, current: generation)
            // The journal is read again: what was served while the run stood still counts too.
            if let found = inventory.cluster(named: cluster) {
                progress = Planner.resumed(progress, caches: try cacheContext(for: found, live: generation))
            }
            try journal.write { transaction in
                if let fleet { try transaction.requireLease(run: summary.id, owner: fleet.settings.name) }
                try transaction.updateRun(id: summary.id, status: progress.status.rawValue, record: progress)
            }
            unjournaledEnds.withLock { _ = $0.removeValue(forKey: summary.id) }
            launch(id: summary.id, progress: progress, current: generation)
            return AdminAPI.RunStatus(id: summary.id, cluster: cluster, status: progress.status.rawValue, active: true, progress: progress)
        }
    }

    /// The cluster's latest run; nil when it has none. A name that is no cluster of the
    /// inventory (and has no runs in the journal) throws, naming the clusters: a misspelt
    /// cluster must not read as "no runs".
    public func status(cluster: String) throws -> AdminAPI.RunStatus? {
        guard let summary = try journal.runs(limit: 1, cluster: cluster).first else {
            do {
                _ = try inventory(for: cluster)
            } catch let unknown as ControlError {
                // Asked for a resource: an unknown cluster is not found (404), by name.
                throw ControlNotFound(unknown.problem, remedy: unknown.remedy)
            }
            return nil
        }
        return try runStatus(summary.id)
    }

    /// Generations newest first (only those that changed `cluster`'s names when given), each
    /// with its run and the drain commands run for it.
    public func history(limit: Int, cluster: String?) throws -> [AdminAPI.HistoryEntry] {
        let generations: [Generation]
        if let cluster {
            let (inventory, _) = try inventory(for: cluster)
            guard let found = inventory.cluster(named: cluster) else { throw ControlServiceError.notReady }
            generations = try journal.history(limit: limit, nameSuffix: ".\(found.name).\(found.origin)")
        } else {
            generations = try journal.history(limit: limit)
        }
        var drainsByRun: [Int64: [DrainRecord]] = [:]
        return try generations.map { generation in
            let run = AdminAPI.HistoryEntry.run(of: generation.actor)
            if let run, drainsByRun[run] == nil {
                drainsByRun[run] = try journal.run(id: run, as: CutoverProgress.self)?.record.drains ?? []
            }
            let drains = run.flatMap { drainsByRun[$0] }?.filter { $0.generation == generation.number } ?? []
            return AdminAPI.HistoryEntry(generation: generation, run: run, drains: drains)
        }
    }

    /// The clusters of the latest runs, newest first, and whether this server runs each now:
    /// what /metrics shows, read without decoding any run's record (plan and progress).
    public func recentRunActivity(limit: Int = 10) throws -> [(cluster: String, active: Bool)] {
        let running = active.withLock { $0 }
        return try journal.runs(limit: limit).map { ($0.cluster, running[$0.cluster]?.id == $0.id) }
    }

    public func recentRuns(limit: Int = 10) throws -> [AdminAPI.RunStatus] {
        try journal.runs(limit: limit).compactMap { try runStatus($0.id) }
    }

    func runStatus(_ id: Int64) throws -> AdminAPI.RunStatus? {
        guard var stored = try journal.run(id: id, as: CutoverProgress.self) else { return nil }
        let running = active.withLock { $0[stored.cluster]?.id == id }
        // In a fleet a run marked running may run on another server, and a pause may be
        // pending for it: say which, so no one takes it for interrupted.
        var runningOn: String?, pauseRequest: PauseRequest?
        if let fleet = fleet.withLock({ $0 }), stored.status == CutoverProgress.Status.running.rawValue {
            let claims = try fleet.postgres.claims(run: id)
            runningOn = claims.lease.flatMap { $0.remaining > 0 ? $0.owner : nil }
            pauseRequest = claims.pauseRequest
        }
        // How the run ended here when the journal could not take it; not while a server holds
        // its lease (it was resumed or taken over since: it is that server's run now).
        if !running, runningOn == nil, stored.status == CutoverProgress.Status.running.rawValue, let end = unjournaledEnds.withLock({ $0[id] }) {
            stored = (stored.cluster, end.status.rawValue, end)
        }
        let sightings = kafkaSightings.list(stored.record.plan.kafkaTargets)
        return AdminAPI.RunStatus(id: id, cluster: stored.cluster, status: stored.status, active: running, progress: stored.record,
                                  loweredTTLs: try loweredTTLs(of: stored.record.plan), kafka: sightings.isEmpty ? nil : sightings,
                                  runningOn: runningOn, pauseRequest: pauseRequest)
    }

    /// The plan's names whose TTL is lowered now, each with the run whose generation lowered it:
    /// the newest generation that lowered each, looked up newest first (changes only) and no
    /// further back than needed, since this is asked at every `cutover status` poll.
    private func loweredTTLs(of plan: CutoverPlan) throws -> [AdminAPI.LoweredTTL] {
        guard let state = control.current?.generation.state else { return [] }
        let lowered = plan.names.compactMap { name in state.loweredTTLs[name].map { (name, $0) } }
        guard !lowered.isEmpty else { return [] }
        var unattributed = Set(lowered.map(\.0))
        var runs: [String: Int64?] = [:]
        try journal.walkChanges { entry in
            for change in entry.changes
            where unattributed.contains(change.name) && change.after.loweredTTL != nil && change.before.loweredTTL != change.after.loweredTTL {
                runs[change.name] = AdminAPI.HistoryEntry.run(of: entry.actor)
                unattributed.remove(change.name)
            }
            return !unattributed.isEmpty
        }
        return lowered.map { name, ttl in AdminAPI.LoweredTTL(name: name, ttl: ttl, run: runs[name] ?? nil) }
    }

    private func launch(id: Int64, progress: CutoverProgress, current: Generation) {
        let pause = PauseFlag()
        active.withLock { $0[progress.cluster] = Active(id: id, pause: pause) }
        let fleet = fleet.withLock { $0 }
        let own = verifyServers
        var effects = LiveCutoverEffects(runID: id, plan: progress.plan, control: control,
                                         servers: { fleet?.verificationTargets(own: own) ?? own }, pause: pause, logger: logger,
                                         kafka: kafkaSightings)
        effects.leaseOwner = fleet?.settings.name
        let leaseLost = effects.leaseLost
        let runner = CutoverRunner(effects: effects, sliceSeconds: 1)
        let cluster = progress.cluster
        logger.info("cutover run started", metadata: ["run": "\(id)", "cluster": "\(cluster)", "next_step": "\(progress.nextStep)"])
        Task.detached { [self, logger] in
            let final = await runner.run(progress, current: current)
            // The run went on elsewhere: its last words here (a failure to write them) are not
            // how it ended, and status must show what the journal and its owner say.
            if leaseLost.isSet {
                active.withLock { _ = $0.removeValue(forKey: cluster) }
                logger.notice("stopped running a cutover run here: another server took its lease over and runs it",
                              metadata: ["run": "\(id)", "cluster": "\(cluster)", "left_at_step": "\(final.nextStep)"])
                return
            }
            // Only a failure can go unjournaled here (a full disk, the database gone).
            if final.status == .failed, (try? journal.run(id: id, as: CutoverProgress.self))??.status != final.status.rawValue {
                unjournaledEnds.withLock { $0[id] = final }
            }
            active.withLock { _ = $0.removeValue(forKey: cluster) }
            if let fleet { try? fleet.postgres.releaseLease(run: id, owner: fleet.settings.name) }
            // A run that stopped short (a failed gate or verify, a journal it could not write)
            // needs the operator: say so above info level.
            let level: Logger.Level = final.isFinished || final.status == .paused ? .info : .warning
            logger.log(level: level, "cutover run stopped", metadata: ["run": "\(id)", "status": "\(final.status.rawValue)", "message": "\(final.message)"])
        }
    }
}

/// Set by `pause`, read by the runner at step boundaries.
final class PauseFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
