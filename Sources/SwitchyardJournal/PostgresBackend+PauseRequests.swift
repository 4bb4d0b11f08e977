import Foundation
import SwitchyardControl

/// Pauses asked of a fleet's run through a server that does not run it (table
/// `run_pause_request`). The request lives in the journal, not in a call to the run's server,
/// so it reaches that server whatever the network between the two allows, and outlives it:
/// a run whose server died with a request pending is marked paused, never taken over.
extension PostgresBackend {
    /// The channel a pause request is announced on (`NOTIFY`), payload the run's id, so the
    /// run's server hears it at once rather than at its next lease renewal.
    public static let pauseChannel = "switchyard_pause"

    /// Records a pause of run `runID` asked by `actor` through server `via`, and announces it,
    /// if the run is still running; the first request stands when several come in. Returns
    /// the pending request, or `nil` when the run is no longer running (it stopped meanwhile).
    /// One write transaction: it is serialized with the run's own progress writes, so a run
    /// that stops either does so before (nothing recorded) or after (its stop clears it).
    public func requestPause(run runID: Int64, by actor: String, via server: String) throws -> PauseRequest? {
        try write { session in
            let inserted = try session.execute("""
                INSERT INTO run_pause_request (run_id, requested_by, requested_via, requested_at)
                SELECT id, ?, ?, \(Self.now) FROM cutover_run WHERE id = ? AND status = 'running'
                ON CONFLICT (run_id) DO NOTHING
                """, [.text(actor), .text(server), .integer(runID)])
            guard let pending = try Self.pauseRequest(runID, session) else { return nil }
            // Delivered when the transaction commits, so the listener reads it already there.
            if inserted > 0 { try session.execute("SELECT pg_notify(?, ?)", [.text(Self.pauseChannel), .text(String(runID))]) }
            return pending
        }
    }

    /// The pause pending for run `runID`, if any.
    public func pauseRequest(run runID: Int64) throws -> PauseRequest? {
        try read { session in try Self.pauseRequest(runID, session) }
    }

    /// Run `runID`'s lease and pending pause, read together (for its status).
    public func claims(run runID: Int64) throws -> (lease: RunLease?, pauseRequest: PauseRequest?) {
        try read { session in (try Self.lease(runID, session), try Self.pauseRequest(runID, session)) }
    }

    static func pauseRequest(_ runID: Int64, _ session: any SQLSession) throws -> PauseRequest? {
        try session.fetchOne("SELECT requested_by, requested_via, requested_at FROM run_pause_request WHERE run_id = ?", [.integer(runID)])
            .flatMap { try pauseRequest(runID, from: $0) }
    }

    /// The request in a row with the columns `requested_by`, `requested_via` and
    /// `requested_at` (all null when there is none, as from a LEFT JOIN).
    static func pauseRequest(_ runID: Int64, from row: SQLRow) throws -> PauseRequest? {
        guard let by = try row.optionalText("requested_by") else { return nil }
        return PauseRequest(runID: runID, requestedBy: by, requestedVia: try row.text("requested_via"),
                            requestedAt: Date(timeIntervalSince1970: try row.real("requested_at")))
    }
}

extension JournalTransaction {
    /// The pause pending for run `runID` (PostgreSQL journals only).
    public func pauseRequest(run runID: Int64) throws -> PauseRequest? {
        try PostgresBackend.pauseRequest(runID, session)
    }

    /// Forgets run `runID`'s pending pause: the run stopped (the pause is honoured, or moot),
    /// or an operator resumed it (PostgreSQL journals only).
    public func clearPauseRequest(run runID: Int64) throws {
        try session.execute("DELETE FROM run_pause_request WHERE run_id = ?", [.integer(runID)])
    }
}
