import Foundation
import GRDB

/// A cutover run without its record, for listings.
public struct CutoverRunSummary: Equatable, Sendable {
    public var id: Int64
    public var cluster: String
    public var status: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Int64, cluster: String, status: String, createdAt: Date, updatedAt: Date) {
        self.id = id; self.cluster = cluster; self.status = status
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

extension Journal {
    /// Statuses in which a run holds its cluster: at most one per cluster (a unique index).
    public static let activeRunStatuses: Set<String> = ["running", "paused"]
}

extension JournalTransaction {
    /// Records a new cutover run; `record` is the caller's progress, stored as JSON. Fails with
    /// ``JournalError/runAlreadyActive(path:cluster:activeID:)`` when `status` is running or
    /// paused and the cluster already has such a run.
    public func createRun<T: Encodable>(cluster: String, status: String, record: T, at date: Date = Date()) throws -> Int64 {
        try refuseSecondActiveRun(cluster: cluster, status: status, except: nil)
        try db.execute(
            sql: "INSERT INTO cutover_run (cluster, status, record, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [cluster, status, try JournalJSON.encode(record), date.timeIntervalSince1970, date.timeIntervalSince1970])
        return db.lastInsertedRowID
    }

    /// Replaces a run's status and record.
    public func updateRun<T: Encodable>(id: Int64, status: String, record: T, at date: Date = Date()) throws {
        guard let cluster = try String.fetchOne(db, sql: "SELECT cluster FROM cutover_run WHERE id = ?", arguments: [id]) else {
            throw JournalError.unknownRun(path: path, id: id)
        }
        try refuseSecondActiveRun(cluster: cluster, status: status, except: id)
        try db.execute(
            sql: "UPDATE cutover_run SET status = ?, record = ?, updated_at = ? WHERE id = ?",
            arguments: [status, try JournalJSON.encode(record), date.timeIntervalSince1970, id])
    }

    /// A run's cluster, status and record decoded as `T`, or `nil` when there is no such run.
    public func run<T: Decodable>(id: Int64, as type: T.Type) throws -> (cluster: String, status: String, record: T)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT cluster, status, record FROM cutover_run WHERE id = ?", arguments: [id]) else {
            return nil
        }
        do {
            return (row["cluster"], row["status"], try JournalJSON.decode(type, from: row["record"]))
        } catch let error as DecodingError {
            throw JournalError.undecodableRow(path: path, table: "cutover_run", id: id, detail: JournalJSON.describe(error))
        }
    }

    /// The cluster's running or paused run, if any.
    public func activeRun(cluster: String) throws -> (id: Int64, status: String)? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT id, status FROM cutover_run WHERE cluster = ? AND status IN ('running', 'paused') ORDER BY id DESC LIMIT 1",
            arguments: [cluster])
        else { return nil }
        return (row["id"], row["status"])
    }

    /// Runs newest first, at most `limit`, optionally of one cluster.
    public func runs(limit: Int, cluster: String? = nil) throws -> [CutoverRunSummary] {
        let rows: [Row]
        if let cluster {
            rows = try Row.fetchAll(db, sql: "SELECT * FROM cutover_run WHERE cluster = ? ORDER BY id DESC LIMIT ?", arguments: [cluster, limit])
        } else {
            rows = try Row.fetchAll(db, sql: "SELECT * FROM cutover_run ORDER BY id DESC LIMIT ?", arguments: [limit])
        }
        return rows.map { row in
            CutoverRunSummary(
                id: row["id"], cluster: row["cluster"], status: row["status"],
                createdAt: Date(timeIntervalSince1970: row["created_at"]),
                updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
        }
    }

    /// Checked here for a clear error; the unique index enforces it regardless.
    private func refuseSecondActiveRun(cluster: String, status: String, except id: Int64?) throws {
        guard Journal.activeRunStatuses.contains(status), let active = try activeRun(cluster: cluster), active.id != id else { return }
        throw JournalError.runAlreadyActive(path: path, cluster: cluster, activeID: active.id)
    }
}
