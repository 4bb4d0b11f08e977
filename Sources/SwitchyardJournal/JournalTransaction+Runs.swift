import Foundation

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
        let row = try session.fetchOne(
            "INSERT INTO cutover_run (cluster, status, record, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            [.text(cluster), .text(status), .text(try JournalJSON.encode(record)), .real(date.timeIntervalSince1970), .real(date.timeIntervalSince1970)])
        guard let id = try row?.integer("id") else { throw JournalError.storage(path: path, detail: "INSERT … RETURNING gave no id") }
        return id
    }

    /// Replaces a run's status and record.
    public func updateRun<T: Encodable>(id: Int64, status: String, record: T, at date: Date = Date()) throws {
        guard let cluster = try session.fetchOne("SELECT cluster FROM cutover_run WHERE id = ?", [.integer(id)])?.text("cluster") else {
            throw JournalError.unknownRun(path: path, id: id)
        }
        try refuseSecondActiveRun(cluster: cluster, status: status, except: id)
        try session.execute(
            "UPDATE cutover_run SET status = ?, record = ?, updated_at = ? WHERE id = ?",
            [.text(status), .text(try JournalJSON.encode(record)), .real(date.timeIntervalSince1970), .integer(id)])
    }

    /// A run's cluster, status and record decoded as `T`, or `nil` when there is no such run.
    public func run<T: Decodable>(id: Int64, as type: T.Type) throws -> (cluster: String, status: String, record: T)? {
        guard let row = try session.fetchOne("SELECT cluster, status, record FROM cutover_run WHERE id = ?", [.integer(id)]) else {
            return nil
        }
        do {
            return (try row.text("cluster"), try row.text("status"), try JournalJSON.decode(type, from: try row.text("record")))
        } catch let error as DecodingError {
            throw JournalError.undecodableRow(path: path, table: "cutover_run", id: id, detail: JournalJSON.describe(error))
        } catch let error as SQLRowError {
            throw JournalError.undecodableRow(path: path, table: "cutover_run", id: id, detail: error.description)
        }
    }

    /// The cluster's running or paused run, if any.
    public func activeRun(cluster: String) throws -> (id: Int64, status: String)? {
        guard let row = try session.fetchOne(
            "SELECT id, status FROM cutover_run WHERE cluster = ? AND status IN ('running', 'paused') ORDER BY id DESC LIMIT 1",
            [.text(cluster)])
        else { return nil }
        return (try row.integer("id"), try row.text("status"))
    }

    /// Runs newest first, at most `limit`, optionally of one cluster.
    public func runs(limit: Int, cluster: String? = nil) throws -> [CutoverRunSummary] {
        let rows: [SQLRow]
        let columns = "id, cluster, status, created_at, updated_at"
        if let cluster {
            rows = try session.fetch("SELECT \(columns) FROM cutover_run WHERE cluster = ? ORDER BY id DESC LIMIT ?", [.text(cluster), .integer(Int64(limit))])
        } else {
            rows = try session.fetch("SELECT \(columns) FROM cutover_run ORDER BY id DESC LIMIT ?", [.integer(Int64(limit))])
        }
        return try rows.map { row in
            CutoverRunSummary(
                id: try row.integer("id"), cluster: try row.text("cluster"), status: try row.text("status"),
                createdAt: Date(timeIntervalSince1970: try row.real("created_at")),
                updatedAt: Date(timeIntervalSince1970: try row.real("updated_at")))
        }
    }

    /// Checked here for a clear error; the unique index enforces it regardless.
    private func refuseSecondActiveRun(cluster: String, status: String, except id: Int64?) throws {
        guard Journal.activeRunStatuses.contains(status), let active = try activeRun(cluster: cluster), active.id != id else { return }
        throw JournalError.runAlreadyActive(path: path, cluster: cluster, activeID: active.id)
    }
}
