import Foundation
import Logging
import SwitchyardControl
import SwitchyardJournal

/// Pausing a run from any server. With one server (or the fleet server that runs it) a pause
/// sets the run's flag, read at step boundaries. Through another server of a fleet it is
/// recorded in the shared journal (`run_pause_request`), because the operator may reach only
/// that server: the run's server hears it (NOTIFY, else its next heartbeat) and stops at its
/// next boundary as for a local pause; a run whose server died with a pause pending is marked
/// paused by whichever server notices first, never taken over.
extension CutoverService {
    /// Asks the cluster's running run to stop at its next step boundary. `requestedElsewhere`
    /// is true when another server of the fleet runs it and was asked through the journal (the
    /// admin API answers 202 Accepted); `status.message` says what happened in words.
    public func pause(cluster: String, actor: String? = nil) throws -> (status: AdminAPI.RunStatus, requestedElsewhere: Bool) {
        if let running = active.withLock({ $0[cluster] }) {
            running.pause.set()
            var status = try status(cluster: cluster) ?? AdminAPI.RunStatus(id: running.id, cluster: cluster, status: "running", active: true, progress: nil)
            status.message = "pause of run \(running.id) (cluster \(cluster)) requested; it stops at its next step boundary "
                + "(`switchyard cutover status \(cluster)` shows it, or `switchyard cutover pause \(cluster) --wait` waits for it)"
            return (status, false)
        }
        let notRunning = ControlError("cluster \(cluster) has no running cutover", remedy: "see `switchyard status`")
        let latest = try journal.runs(limit: 1, cluster: cluster).first
        // A misspelt cluster is named as such, not answered "no running cutover".
        if latest == nil { _ = try inventory(for: cluster) }
        // Pausing is idempotent: asked twice (or again with --wait), the answer is where it stands.
        if let latest, latest.status == CutoverProgress.Status.paused.rawValue, var status = try runStatus(latest.id) {
            status.message = "run \(latest.id) (cluster \(cluster)) is already paused; `switchyard cutover resume \(cluster)` continues it"
            return (status, false)
        }
        guard let fleet = fleet.withLock({ $0 }) else { throw notRunning }
        guard let summary = latest else { throw notRunning }
        let lease = try fleet.postgres.lease(run: summary.id)
        let me = fleet.settings.name
        let asker = actor ?? "the admin API"
        switch FleetPause.route(runsHere: false, status: summary.status, lease: lease.map { ($0.owner, $0.remaining) }, me: me) {
        case .here, .notRunning:
            throw notRunning
        case .askOwner(let owner):
            guard try fleet.postgres.requestPause(run: summary.id, by: asker, via: me) != nil else { throw notRunning }
            return (try requestedReply(summary.id, cluster: cluster, owner: owner, fleet: fleet), true)
        case .orphaned(let lastOwner):
            guard try fleet.postgres.requestPause(run: summary.id, by: asker, via: me) != nil else { throw notRunning }
            do {
                if try honourPendingPause(summary.id, cluster: cluster, fleet: fleet) != nil, var status = try runStatus(summary.id) {
                    status.message = "run \(summary.id) (cluster \(cluster)) is paused: \(FleetPause.ownerGone(lastOwner)), so server \(me) "
                        + "marked it paused where the journal left it; `switchyard cutover resume \(cluster)` continues it, on any server"
                    return (status, false)
                }
            } catch is ControlConflict {
                // Another server took the run over between the two reads: it runs it now and
                // honours the request at its first step boundary.
            }
            guard let owner = try fleet.postgres.lease(run: summary.id).flatMap({ $0.remaining > 0 ? $0.owner : nil }) else {
                guard let status = try runStatus(summary.id) else { throw notRunning }
                return (status, false)
            }
            return (try requestedReply(summary.id, cluster: cluster, owner: owner, fleet: fleet), true)
        }
    }

    private func requestedReply(_ id: Int64, cluster: String, owner: String, fleet: Fleet) throws -> AdminAPI.RunStatus {
        let admin = (try? fleet.postgres.members())?.first { $0.name == owner }?.adminAddress
        logger.notice("pause of a cutover run requested of the server that runs it", metadata: ["run": "\(id)", "cluster": "\(cluster)", "owner": "\(owner)"])
        var status = try runStatus(id) ?? AdminAPI.RunStatus(id: id, cluster: cluster, status: "running", active: false, progress: nil)
        status.message = FleetPause.requestedMessage(runID: id, cluster: cluster, owner: owner, ownerAdmin: admin, via: fleet.settings.name)
        return status
    }

    /// Sets the pause flag of every run this server executes that has a pause pending, asked
    /// through another server. Called when a request is announced and at every heartbeat
    /// (`heard`: which of the two, for the log).
    func notePauseRequests(heard: String) {
        guard let fleet = fleet.withLock({ $0 }) else { return }
        for (cluster, run) in active.withLock({ $0 }) where !run.pause.isSet {
            do {
                guard let request = try fleet.postgres.pauseRequest(run: run.id) else { continue }
                logger.notice("pausing a cutover run at its next step boundary, as asked through another server",
                              metadata: ["run": "\(run.id)", "cluster": "\(cluster)", "requested_by": "\(request.requestedBy)",
                                         "requested_via": "\(request.requestedVia)", "heard": "\(heard)"])
                run.pause.set()
            } catch {
                logger.warning("could not read the pause requests of a cutover run", metadata: ["run": "\(run.id)", "error": "\(error)"])
            }
        }
    }

    /// Runs whose server stopped renewing its lease: marked paused when a pause is pending,
    /// else resumed here when takeover is on. Only one server of the fleet wins each (the
    /// lease is taken in one statement); the others hear a conflict and leave it.
    func handleOrphans(_ orphans: [OrphanedRun]) {
        guard let fleet = fleet.withLock({ $0 }) else { return }
        for orphan in orphans where active.withLock({ $0[orphan.cluster] == nil }) {
            let action = FleetPause.orphanAction(pauseRequested: orphan.pauseRequest != nil, takeOver: fleet.settings.takeOver)
            do {
                switch action {
                case .leave:
                    continue
                case .markPaused:
                    if try honourPendingPause(orphan.id, cluster: orphan.cluster, fleet: fleet) != nil {
                        logger.notice("marked a cutover run paused: a pause was pending when its server stopped renewing its lease",
                                      metadata: ["run": "\(orphan.id)", "cluster": "\(orphan.cluster)", "last_owner": "\(orphan.lastOwner ?? "none")"])
                    }
                case .takeOver:
                    let status = try resume(cluster: orphan.cluster, takingOver: true)
                    logger.notice(status.status == "paused" ? "marked a cutover run paused instead of taking it over: a pause was pending"
                                                            : "took over a cutover run whose server stopped renewing its lease",
                                  metadata: ["run": "\(status.id)", "cluster": "\(orphan.cluster)"])
                }
            } catch let conflict as ControlConflict {
                logger.debug("another server holds the run", metadata: ["run": "\(orphan.id)", "detail": "\(conflict)"])
            } catch {
                logger.warning("could not take over a cutover run", metadata: ["run": "\(orphan.id)", "error": "\(error)"])
            }
        }
    }

    /// Marks run `id` paused where the journal left it, if it is still running with a pause
    /// pending and no server runs it: takes its lease (throwing ``ControlConflict`` when a live
    /// server holds it; that server honours the pause itself), marks it, gives the lease back.
    /// `nil` when there was nothing to mark.
    func honourPendingPause(_ id: Int64, cluster: String, fleet: Fleet) throws -> CutoverProgress? {
        try startLock.withLock { _ in
            guard active.withLock({ $0[cluster] == nil }) else { return nil }
            let lastOwner = try fleet.postgres.lease(run: id)?.owner
            try lease(id, cluster: cluster)
            // Given back at once: a paused run is resumed by whoever an operator asks.
            defer { try? fleet.postgres.releaseLease(run: id, owner: fleet.settings.name) }
            return try markPausedIfRequested(id, lastOwner: lastOwner, fleet: fleet)
        }
    }

    /// With run `id`'s lease held here: if it is running with a pause pending, marks it paused
    /// and clears the request, in one transaction fenced by the lease. Returns the paused
    /// progress, or `nil` when no pause is pending.
    func markPausedIfRequested(_ id: Int64, lastOwner: String?, fleet: Fleet) throws -> CutoverProgress? {
        try journal.write { transaction in
            try transaction.requireLease(run: id, owner: fleet.settings.name)
            guard let stored = try transaction.run(id: id, as: CutoverProgress.self), stored.status == CutoverProgress.Status.running.rawValue,
                  let request = try transaction.pauseRequest(run: id) else { return nil }
            let paused = stored.record.paused(honouring: request, lastOwner: lastOwner)
            try transaction.updateRun(id: id, status: paused.status.rawValue, record: paused)
            try transaction.clearPauseRequest(run: id)
            return paused
        }
    }
}
