import Foundation

/// A pause asked of a fleet's cutover run through a server that does not run it, as the
/// shared journal keeps it until the run's server honours it (or the run stops).
public struct PauseRequest: Codable, Sendable, Equatable, CustomStringConvertible {
    public var runID: Int64
    /// Who asked, as the request said (`cli:alice`).
    public var requestedBy: String
    /// The server the request came to.
    public var requestedVia: String
    /// When, by the database's clock.
    public var requestedAt: Date

    public init(runID: Int64, requestedBy: String, requestedVia: String, requestedAt: Date) {
        self.runID = runID; self.requestedBy = requestedBy; self.requestedVia = requestedVia; self.requestedAt = requestedAt
    }

    public var description: String {
        "pause requested by \(requestedBy) through server \(requestedVia) at \(requestedAt.formatted(.iso8601))"
    }
}

/// What a pause asked of one server of a fleet does, decided from what the shared journal
/// says (pure, so every case is a unit test; `CutoverService` does the I/O).
public enum FleetPause {
    public enum Route: Equatable, Sendable {
        /// This server runs it: it stops at its next step boundary, as with one server.
        case here
        /// Another server runs it (its lease is live): the request is recorded in the journal
        /// and that server stops the run at its next step boundary.
        case askOwner(String)
        /// Marked running, but nobody holds a live lease: its server died (or stopped without
        /// journaling the end). Nobody will reach a boundary, so it is marked paused here.
        case orphaned(lastOwner: String?)
        /// The cluster's latest run is not running (or there is none): nothing to pause.
        case notRunning
    }

    /// - Parameters:
    ///   - runsHere: this process is executing the cluster's run.
    ///   - status: the journal's status of the cluster's latest run (`nil`: no run).
    ///   - lease: who holds that run's lease and for how many seconds more (negative: expired).
    ///   - me: this server's name. Its own lease on a run it does not execute is left over (a
    ///     resume that failed after taking it) or about to be used (a resume in progress): the
    ///     orphan path waits for such a resume and marks the run paused otherwise.
    public static func route(runsHere: Bool, status: String?, lease: (owner: String, remaining: Double)?, me: String) -> Route {
        if runsHere { return .here }
        guard status == "running" else { return .notRunning }
        guard let lease, lease.remaining > 0, lease.owner != me else { return .orphaned(lastOwner: lease?.owner) }
        return .askOwner(lease.owner)
    }

    /// What a server does with a run whose lease expired.
    public enum OrphanAction: Equatable, Sendable {
        /// A pause was requested: honour it (whatever `--no-takeover` says; pausing is what
        /// the operator asked for, and it changes nothing that is served).
        case markPaused
        /// Resume it here (takeover is on).
        case takeOver
        /// Leave it for an operator's `cutover resume` (`--no-takeover`).
        case leave
    }

    public static func orphanAction(pauseRequested: Bool, takeOver: Bool) -> OrphanAction {
        if pauseRequested { return .markPaused }
        return takeOver ? .takeOver : .leave
    }

    /// Why a run marked running needs someone else to mark it paused.
    public static func ownerGone(_ lastOwner: String?) -> String {
        lastOwner.map { "its server \($0) had stopped renewing its lease" } ?? "no server held its lease"
    }

    /// The reply to a pause asked through `via` of a run that `owner` runs.
    public static func requestedMessage(runID: Int64, cluster: String, owner: String, ownerAdmin: String?, via: String) -> String {
        "pause of run \(runID) (cluster \(cluster)) requested of server \(owner)" + (ownerAdmin.map { " (admin \($0))" } ?? "")
            + ", which runs it; recorded in the journal through server \(via). "
            + "It stops at its next step boundary (`switchyard cutover status \(cluster)` shows it, or `switchyard cutover pause \(cluster) --wait` waits for it)"
    }
}

extension CutoverProgress {
    /// The run marked paused where the journal left it, honouring `request` when the server
    /// that ran it (`lastOwner`) is gone: `resume` treats it like any interrupted run (a step
    /// committed but not yet verified is verified again first).
    public func paused(honouring request: PauseRequest, lastOwner: String?) -> CutoverProgress {
        var paused = self
        paused.status = .paused
        paused.message = "paused with \(min(nextStep, plan.steps.count))/\(plan.steps.count) steps done (\(request)); "
            + "\(FleetPause.ownerGone(lastOwner)), so it was marked paused where the journal left it; "
            + "`switchyard cutover resume \(plan.cluster)` continues from there"
        return paused
    }
}
