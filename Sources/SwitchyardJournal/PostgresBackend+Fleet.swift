import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import SwitchyardControl

/// One server of a fleet, as it registered itself in the journal.
public struct FleetMember: Equatable, Sendable, Codable {
    public var name: String
    /// Where it answers DNS (`ADDR:PORT`): a cutover step is verified against every one.
    public var dnsAddresses: [String]
    public var adminAddress: String
    /// The generation it serves.
    public var generation: UInt64
    /// Seconds since its last heartbeat, by the database's clock.
    public var silentFor: Double
    /// The zone data and inventories it serves from its own zones directory, as of its last
    /// heartbeat; nil when it did not say (a switchyard from before, or not loaded yet).
    public var servedData: ServedData?

    public init(name: String, dnsAddresses: [String], adminAddress: String, generation: UInt64, silentFor: Double = 0,
                servedData: ServedData? = nil) {
        self.name = name; self.dnsAddresses = dnsAddresses; self.adminAddress = adminAddress
        self.generation = generation; self.silentFor = silentFor; self.servedData = servedData
    }
}

/// Who holds a cutover run.
public struct RunLease: Equatable, Sendable {
    public var runID: Int64
    public var owner: String
    /// Seconds until it expires (negative: expired), by the database's clock.
    public var remaining: Double
}

/// A run marked running whose lease expired (or that never had one).
public struct OrphanedRun: Equatable, Sendable {
    public var id: Int64
    public var cluster: String
    /// The server that held its lease last, if the lease is still on record.
    public var lastOwner: String?
    /// A pause asked of it and not honoured yet.
    public var pauseRequest: PauseRequest?
}

extension PostgresBackend {
    /// The database's clock in seconds since 1970: every lease and heartbeat is measured
    /// against it, so the servers' own clocks need not agree.
    static let now = "EXTRACT(EPOCH FROM clock_timestamp())::float8"

    // MARK: Members

    /// Registers `member` (or refreshes it) with a heartbeat now, and what it serves.
    public func heartbeat(_ member: FleetMember) throws {
        let addresses = String(decoding: try JSONEncoder().encode(member.dnsAddresses), as: UTF8.self)
        let served = try member.servedData.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) } ?? ""
        _ = try withConnection { connection in
            // One clock reading for the heartbeat and the data it carries: equal, they say the
            // data is this heartbeat's (an older binary's heartbeat moves heartbeat_at only).
            try PostgresSession(backend: self, connection: connection).execute("""
                INSERT INTO fleet_member (name, dns_addresses, admin_address, generation, started_at, heartbeat_at, served_data, served_data_at)
                SELECT ?, ?, ?, ?, clock.now, clock.now, ?, clock.now FROM (SELECT \(Self.now) AS now) AS clock
                ON CONFLICT (name) DO UPDATE SET dns_addresses = excluded.dns_addresses, admin_address = excluded.admin_address,
                    generation = excluded.generation, heartbeat_at = excluded.heartbeat_at,
                    served_data = excluded.served_data, served_data_at = excluded.served_data_at
                """, [.text(member.name), .text(addresses), .text(member.adminAddress), .integer(Int64(member.generation)), .text(served)])
        }
    }

    /// Members whose last heartbeat is at most `within` seconds old, by name.
    public func liveMembers(within seconds: Double) throws -> [FleetMember] {
        try members().filter { $0.silentFor <= seconds }
    }

    /// Every member that ever registered, by name.
    public func members() throws -> [FleetMember] {
        try read { session in
            try session.fetch("""
                SELECT name, dns_addresses, admin_address, generation, \(Self.now) - heartbeat_at AS silent,
                    CASE WHEN served_data_at = heartbeat_at THEN served_data ELSE '' END AS served_data
                FROM fleet_member ORDER BY name
                """, [])
                .map { row in
                    FleetMember(
                        name: try row.text("name"),
                        dnsAddresses: try JSONDecoder().decode([String].self, from: Data(try row.text("dns_addresses").utf8)),
                        adminAddress: try row.text("admin_address"),
                        generation: UInt64(try row.integer("generation")),
                        silentFor: try row.real("silent"),
                        // Written by a newer switchyard in a shape this one does not read: unknown, not an error.
                        servedData: try? JSONDecoder().decode(ServedData.self, from: Data(try row.text("served_data").utf8)))
                }
        }
    }

    /// Forgets a member (a server leaving the fleet for good, or stopping cleanly).
    public func leave(_ name: String) throws {
        try write { session in _ = try session.execute("DELETE FROM fleet_member WHERE name = ?", [.text(name)]) }
    }

    // MARK: Leases

    /// Takes the lease of run `runID` for `owner` for `seconds`: granted when nobody holds it,
    /// when `owner` already does, or when the holder's lease expired (its server died or lost
    /// the database). Returns the lease as it stands afterwards. `droppingPauseRequest`: when
    /// granted, the run's pending pause is dropped in the same transaction (a resume by hand
    /// overrides a pause asked before it; one asked after sees the new lease and stands).
    public func acquireLease(run runID: Int64, owner: String, seconds: Double, droppingPauseRequest: Bool = false) throws -> RunLease {
        try write { session in
            try Self.acquireLease(runID, owner: owner, seconds: seconds, droppingPauseRequest: droppingPauseRequest, session)
        }
    }

    static func acquireLease(_ runID: Int64, owner: String, seconds: Double, droppingPauseRequest: Bool, _ session: any SQLSession) throws -> RunLease {
        try session.execute("""
            INSERT INTO run_lease (run_id, owner, expires_at) VALUES (?, ?, \(Self.now) + ?)
            ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
            WHERE run_lease.owner = excluded.owner OR run_lease.expires_at < \(Self.now)
            """, [.integer(runID), .text(owner), .real(seconds)])
        let lease = try Self.lease(runID, session) ?? RunLease(runID: runID, owner: owner, remaining: seconds)
        if droppingPauseRequest, lease.owner == owner {
            try session.execute("DELETE FROM run_pause_request WHERE run_id = ?", [.integer(runID)])
        }
        return lease
    }

    /// Extends `owner`'s lease; `false` when `owner` no longer holds it (another server took
    /// the run over after it expired): the caller must stop running it.
    public func renewLease(run runID: Int64, owner: String, seconds: Double) throws -> Bool {
        try write { session in
            try session.execute("UPDATE run_lease SET expires_at = \(Self.now) + ? WHERE run_id = ? AND owner = ?",
                                [.real(seconds), .integer(runID), .text(owner)]) == 1
        }
    }

    /// Gives the run up (it finished, paused or failed), so another server may resume it at once.
    public func releaseLease(run runID: Int64, owner: String) throws {
        try write { session in _ = try session.execute("DELETE FROM run_lease WHERE run_id = ? AND owner = ?", [.integer(runID), .text(owner)]) }
    }

    public func lease(run runID: Int64) throws -> RunLease? {
        try read { session in try Self.lease(runID, session) }
    }

    /// Runs still marked running whose lease expired (or that never had one): their server
    /// died. Each with the server that held it last and the pause pending for it, if any.
    public func orphanedRuns() throws -> [OrphanedRun] {
        try read { session in
            try session.fetch("""
                SELECT r.id, r.cluster, l.owner, p.requested_by, p.requested_via, p.requested_at
                FROM cutover_run r LEFT JOIN run_lease l ON l.run_id = r.id LEFT JOIN run_pause_request p ON p.run_id = r.id
                WHERE r.status = 'running' AND (l.run_id IS NULL OR l.expires_at < \(Self.now)) ORDER BY r.id
                """, []).map { row in
                    let id = try row.integer("id")
                    return OrphanedRun(id: id, cluster: try row.text("cluster"), lastOwner: try row.optionalText("owner"),
                                       pauseRequest: try Self.pauseRequest(id, from: row))
                }
        }
    }

    static func lease(_ runID: Int64, _ session: any SQLSession) throws -> RunLease? {
        guard let row = try session.fetchOne("SELECT owner, expires_at - \(now) AS remaining FROM run_lease WHERE run_id = ?", [.integer(runID)]) else {
            return nil
        }
        return RunLease(runID: runID, owner: try row.text("owner"), remaining: try row.real("remaining"))
    }

    // MARK: Following

    /// Listens for committed generations on a connection of its own and calls `onChange`
    /// with each announced number, and with `nil` whenever it (re)connects, since
    /// announcements made while it was away are lost and the journal must be read instead.
    /// Calls `onPauseRequest` with the run id of each pause request announced (on a NIO
    /// thread: it must not block). Runs until `stopped()`; reconnects every `retry` seconds
    /// while the database is away.
    public func follow(retry: TimeInterval = 0.5, stopped: @Sendable () -> Bool, onChange: @escaping @Sendable (UInt64?) -> Void,
                       onPauseRequest: @escaping @Sendable (Int64) -> Void = { _ in },
                       onLost: @escaping @Sendable (String) -> Void) {
        let logger = Logger(label: "switchyard.journal.listen")
        while !stopped() {
            var open: PostgresConnection?
            do {
                let connection = try connect()
                open = connection
                connection.addListener(channel: Self.channel) { _, notification in
                    onChange(UInt64(notification.payload))
                }
                connection.addListener(channel: Self.pauseChannel) { _, notification in
                    if let run = Int64(notification.payload) { onPauseRequest(run) }
                }
                _ = try wait(for: connection.query("LISTEN \(unescaped: Self.channel)", logger: logger), doing: "LISTEN")
                _ = try wait(for: connection.query("LISTEN \(unescaped: Self.pauseChannel)", logger: logger), doing: "LISTEN")
                onChange(nil)
                while !stopped() && !connection.isClosed {
                    // A quiet LISTEN connection would not notice a dead server until TCP
                    // does; a cheap query every second does.
                    Thread.sleep(forTimeInterval: 1)
                    _ = try wait(for: connection.query("SELECT 1", logger: logger), doing: "keepalive")
                }
                if !stopped() { onLost("the listening connection closed") }
            } catch {
                onLost("\(error)")
            }
            if let open, !open.isClosed { _ = try? wait(for: open.close(), doing: "close") }
            if !stopped() { Thread.sleep(forTimeInterval: retry) }
        }
    }
}

extension JournalTransaction {
    /// Run `runID`'s lease, read inside this transaction (PostgreSQL journals only): a write
    /// that must not race the run's owner decides on it under the fleet's write lock.
    public func lease(run runID: Int64) throws -> RunLease? {
        try PostgresBackend.lease(runID, session)
    }

    /// Takes run `runID`'s lease for `owner` in this write transaction (PostgreSQL journals
    /// only): a run created together with its lease is never seen running without one, which
    /// other servers would take for an orphan and take over.
    public func acquireLease(run runID: Int64, owner: String, seconds: Double) throws -> RunLease {
        try PostgresBackend.acquireLease(runID, owner: owner, seconds: seconds, droppingPauseRequest: false, session)
    }

    /// Fences a run's writes: throws ``JournalError/leaseLost(path:run:holder:)`` unless
    /// `owner` holds run `runID`'s lease, and keeps the lease row locked until the transaction
    /// ends, so a server whose lease was taken over can never write a step or progress after
    /// the new owner started.
    public func requireLease(run runID: Int64, owner: String) throws {
        let row = try session.fetchOne("SELECT owner FROM run_lease WHERE run_id = ? FOR UPDATE", [.integer(runID)])
        let holder = try row?.text("owner")
        guard holder == owner else { throw JournalError.leaseLost(path: path, run: runID, holder: holder) }
    }
}
