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
    private struct Active: Sendable {
        var id: Int64
        var pause: PauseFlag
    }

    private let control: ControlService
    private let verifyServers: [ListenAddress]
    private let logger: Logger
    private let active = Mutex<[String: Active]>([:])

    public init(control: ControlService, verifyServers: [ListenAddress], logger: Logger) {
        self.control = control
        self.verifyServers = verifyServers
        self.logger = logger
    }

    private var journal: Journal { control.journal }

    func inventory(for cluster: String) throws -> (Inventory, Generation) {
        guard let current = control.current else { throw ControlServiceError.notReady }
        guard let inventory = current.inventories.first(where: { $0.cluster(named: cluster) != nil }) else {
            let known = current.inventories.flatMap { $0.clusters.map(\.name) }.sorted()
            throw ControlError("no cluster named \(cluster)", remedy: "use one of: \(known.joined(separator: ", "))")
        }
        return (inventory, current.generation)
    }

    /// The plan a cutover would run (pure: nothing changes).
    public func plan(_ options: CutoverOptions) throws -> CutoverPlan {
        let (inventory, generation) = try inventory(for: options.cluster)
        return try Planner.plan(options: options, inventory: inventory, state: generation.state)
    }

    /// The plan a rollback would run.
    public func rollbackPlan(_ body: AdminAPI.RollbackBody) throws -> CutoverPlan {
        let (inventory, generation) = try inventory(for: body.cluster)
        guard let cluster = inventory.cluster(named: body.cluster) else { throw ControlServiceError.notReady }
        let target: Generation
        if let number = body.toGeneration {
            guard let found = try journal.generation(number) else {
                throw ControlError("generation \(number) is not in the journal", remedy: "see `switchyard history --cluster \(body.cluster)`")
            }
            target = found
        } else {
            // The state before the cluster's last K changes.
            let steps = max(1, body.steps ?? 1)
            let suffix = ".\(cluster.name).\(cluster.origin)"
            let history = try journal.history(limit: 10_000, nameSuffix: suffix)
            guard history.count >= steps, let before = try journal.generation(history[steps - 1].number - 1) else {
                throw ControlError("cluster \(body.cluster) has only \(history.count) changes in the journal", remedy: "use a smaller --steps or --to-generation")
            }
            target = before
        }
        var options = body.options ?? CutoverOptions(cluster: body.cluster, toPool: "")
        options.cluster = body.cluster
        return try Planner.rollback(from: generation.state, to: target.state, inventory: inventory, options: options)
    }

    /// Starts a run of `plan` in the background; fails if the cluster already has one.
    public func start(_ plan: CutoverPlan) throws -> AdminAPI.RunStatus {
        let (_, generation) = try inventory(for: plan.cluster)
        if let existing = try journal.activeRun(cluster: plan.cluster) {
            throw ControlConflict("a run is already active for cluster \(plan.cluster): run \(existing.id) (\(existing.status))",
                                  remedy: "`switchyard cutover resume \(plan.cluster)` to continue it, or wait for it to finish")
        }
        var progress = try CutoverRunner.begin(runID: "pending", plan: plan, currentState: generation.state, currentGeneration: generation.number)
        let id = try journal.createRun(cluster: plan.cluster, status: progress.status.rawValue, record: progress)
        progress.runID = String(id)
        try journal.updateRun(id: id, status: progress.status.rawValue, record: progress)
        launch(id: id, progress: progress, current: generation)
        return AdminAPI.RunStatus(id: id, cluster: plan.cluster, status: progress.status.rawValue, active: true, progress: progress)
    }

    /// Continues a paused, failed or interrupted run from the journal.
    public func resume(cluster: String) throws -> AdminAPI.RunStatus {
        if let running = active.withLock({ $0[cluster] }) {
            throw ControlConflict("a run is already active for cluster \(cluster): run \(running.id) is running", remedy: "wait, or pause it first")
        }
        guard let summary = try journal.runs(limit: 1, cluster: cluster).first,
              let stored = try journal.run(id: summary.id, as: CutoverProgress.self) else {
            throw ControlError("cluster \(cluster) has no cutover to resume", remedy: "plan one with `switchyard cutover plan`")
        }
        let (_, generation) = try inventory(for: cluster)
        let progress = try CutoverRunner.resume(progress: stored.record, current: generation)
        try journal.updateRun(id: summary.id, status: progress.status.rawValue, record: progress)
        launch(id: summary.id, progress: progress, current: generation)
        return AdminAPI.RunStatus(id: summary.id, cluster: cluster, status: progress.status.rawValue, active: true, progress: progress)
    }

    /// Asks the running run to stop at the next step boundary.
    public func pause(cluster: String) throws -> AdminAPI.RunStatus {
        guard let running = active.withLock({ $0[cluster] }) else {
            throw ControlError("cluster \(cluster) has no running cutover", remedy: "see `switchyard status`")
        }
        running.pause.set()
        return try status(cluster: cluster) ?? AdminAPI.RunStatus(id: running.id, cluster: cluster, status: "running", active: true, progress: nil)
    }

    public func status(cluster: String) throws -> AdminAPI.RunStatus? {
        guard let summary = try journal.runs(limit: 1, cluster: cluster).first else { return nil }
        return try runStatus(summary.id)
    }

    public func recentRuns(limit: Int = 10) throws -> [AdminAPI.RunStatus] {
        try journal.runs(limit: limit).compactMap { try runStatus($0.id) }
    }

    private func runStatus(_ id: Int64) throws -> AdminAPI.RunStatus? {
        guard let stored = try journal.run(id: id, as: CutoverProgress.self) else { return nil }
        let running = active.withLock { $0[stored.cluster]?.id == id }
        return AdminAPI.RunStatus(id: id, cluster: stored.cluster, status: stored.status, active: running, progress: stored.record)
    }

    private func launch(id: Int64, progress: CutoverProgress, current: Generation) {
        let pause = PauseFlag()
        active.withLock { $0[progress.cluster] = Active(id: id, pause: pause) }
        let effects = ServerCutoverEffects(runID: id, names: progress.plan.names, control: control, verifyServers: verifyServers, pause: pause, logger: logger)
        let runner = CutoverRunner(effects: effects, sliceSeconds: 1)
        let cluster = progress.cluster
        logger.info("cutover run started", metadata: ["run": "\(id)", "cluster": "\(cluster)", "next_step": "\(progress.nextStep)"])
        Task.detached { [self, logger] in
            let final = await runner.run(progress, current: current)
            active.withLock { _ = $0.removeValue(forKey: cluster) }
            logger.info("cutover run stopped", metadata: ["run": "\(id)", "status": "\(final.status.rawValue)", "message": "\(final.message)"])
        }
    }
}

/// Set by `pause`, read by the runner at step boundaries.
final class PauseFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
