import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The journal in PostgreSQL, shared by a fleet of servers (PowerDNS's model: many servers
/// over one database).
///
/// One connection per server, used by one transaction at a time (a lock), reconnected on the
/// next use after it breaks. Callers are plain threads of the control plane, so every call
/// blocks on the NIO future with a deadline; an outage becomes
/// ``JournalError/unavailable(path:detail:)`` within ``timeout`` and never hangs a caller.
/// Write transactions first take one transaction-scoped advisory lock, which serializes the
/// writers of the whole fleet the way SQLite's single connection does for one server.
public final class PostgresBackend: JournalBackend, @unchecked Sendable {
    public let location: String
    public var kind: String { "postgresql" }
    let settings: PostgresLocation
    /// The longest any one statement or connection attempt may take.
    public let timeout: TimeInterval
    /// The channel a committed generation is announced on (`NOTIFY`), payload its number.
    public static let channel = "switchyard_generation"
    /// The advisory lock every write transaction takes (ASCII "SWYJ").
    static let writeLockKey: Int64 = 0x5357_594A

    private let group = MultiThreadedEventLoopGroup.singleton
    private let logger = Logger(label: "switchyard.journal.postgres")
    /// The connection, held for a whole transaction.
    private let connection = Mutex<PostgresConnection?>(nil)
    private let connectivity = Mutex(Connectivity())

    /// Whether the database answered the last time it was asked.
    public struct Connectivity: Sendable, Equatable {
        public var reachable = true
        /// What went wrong the last time, while unreachable.
        public var lastError: String?
        /// When `reachable` last changed.
        public var since = Date()
        /// Failed attempts since the database was last reachable.
        public var failures = 0
        /// When the last attempt failed, while unreachable.
        public var lastFailureAt: Date?
    }

    public var state: Connectivity { connectivity.withLock { $0 } }

    /// Whether the schema was brought up to date on a connection of this backend.
    private let schemaReady = Atomic<Bool>(false)

    /// Connects and brings the schema up to date; with `connectNow: false` both wait for the
    /// first use (a server starting while the database is unreachable serves its local copy
    /// and joins once a later call gets through).
    public init(_ settings: PostgresLocation, timeout: TimeInterval = 5, connectNow: Bool = true) throws {
        self.settings = settings
        self.location = settings.redacted
        self.timeout = timeout
        if connectNow { try withConnection { _ in } }
    }

    deinit { close() }

    /// Closes the connection (waiting for it, briefly); the next use reconnects.
    public func close() {
        connection.withLock { slot in
            if let open = slot, !open.isClosed { _ = try? wait(for: open.close(), doing: "close") }
            slot = nil
        }
    }

    public func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL READ COMMITTED", body: { session in
            try session.execute("SELECT pg_advisory_xact_lock(?)", [.integer(Self.writeLockKey)])
            return try body(session)
        })
    }

    public func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body: body)
    }

    private func transaction<T>(begin: String, body: (PostgresSession) throws -> T) throws -> T {
        try withConnection { connection in
            let session = PostgresSession(backend: self, connection: connection)
            try session.execute(begin, [])
            do {
                let result = try body(session)
                try session.execute("COMMIT", [])
                return result
            } catch {
                // A broken connection is dropped by `withConnection`; on a live one the
                // transaction must end here so the next caller starts clean.
                _ = try? session.execute("ROLLBACK", [])
                throw error
            }
        }
    }

    /// Runs `body` with the connection (connecting first when there is none), one caller at a
    /// time; a connection that failed is closed and forgotten so the next call reconnects.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try connection.withLock { slot in
            // Outside the `do`: a refusal is not another failed attempt.
            if slot?.isClosed ?? true { try refuseWhileJustFailed() }
            do {
                let live: PostgresConnection
                if let existing = slot, !existing.isClosed { live = existing } else {
                    slot = nil
                    live = try connect()
                    if !schemaReady.load(ordering: .acquiring) {
                        do { try PostgresSchema.migrate(PostgresSession(backend: self, connection: live)) } catch {
                            _ = try? wait(for: live.close(), doing: "close")
                            throw error
                        }
                        schemaReady.store(true, ordering: .releasing)
                    }
                    slot = live
                }
                let result = try body(live)
                noteReachable()
                return result
            } catch let error as JournalError {
                if case .unavailable(_, let detail) = error {
                    if let broken = slot { _ = try? wait(for: broken.close(), doing: "close") }
                    slot = nil
                    noteUnreachable(detail)
                }
                throw error
            }
        }
    }

    /// Callers queue on the connection: behind an attempt that waited out the timeout for a
    /// database that does not answer, each would wait the timeout again (a `/healthz` behind
    /// the follow loop and the heartbeat took over 20 s). So at most one attempt per second
    /// is made; the others fail at once with the error it got.
    private func refuseWhileJustFailed() throws {
        let recent = connectivity.withLock { state -> String? in
            guard !state.reachable, let failed = state.lastFailureAt, Date().timeIntervalSince(failed) < 1 else { return nil }
            return state.lastError
        }
        if let recent { throw JournalError.unavailable(path: location, detail: "\(recent) (tried again at most once a second)") }
    }

    /// A new connection to the journal's database.
    func connect() throws -> PostgresConnection {
        var configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: try tlsSetting())
        configuration.options.connectTimeout = .milliseconds(Int64(timeout * 1000))
        // The server gives up on a statement before the client does, so a slow statement
        // ends the transaction cleanly instead of leaving it open behind a dropped connection.
        // And on a transaction of ours left idle (its server frozen or stalled between two
        // statements, with the fleet's write lock taken) before a writer queued behind it gives
        // up: else every member's writes, lease takeovers included, fail for as long as it
        // stands still, and it commits when it wakes, past its lease.
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", String(Int(timeout * 800))),
            ("idle_in_transaction_session_timeout", String(Int(timeout * 600))),
        ]
        let future = PostgresConnection.connect(on: group.next(), configuration: configuration, id: 1, logger: logger)
        return try wait(for: future, doing: "connect")
    }

    private func tlsSetting() throws -> PostgresConnection.Configuration.TLS {
        guard settings.tls != .disable else { return .disable }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch settings.tls {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return settings.tls == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw JournalError.badLocation(text: location, detail: "TLS cannot be set up: \(error)")
        }
    }

    /// Blocks until `future` completes or ``timeout`` passes. Connection-level failures become
    /// ``JournalError/unavailable(path:detail:)``; the server's own refusals
    /// ``JournalError/server(path:detail:)``.
    func wait<T>(for future: EventLoopFuture<T>, doing what: String) throws -> T {
        let box = FutureResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { result in
            box.result = result
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success, let result = box.result else {
            throw JournalError.unavailable(path: location, detail: "\(what): no answer within \(timeout) s")
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw translate(error, doing: what)
        }
    }

    private func translate(_ error: any Error, doing what: String) -> JournalError {
        if let error = error as? JournalError { return error }
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                let state = psql.serverInfo?[.sqlState] ?? ""
                // Class 08 (connection exception), 57P (operator intervention: shutdown,
                // crash recovery) and 53 (insufficient resources) are outages, not refusals.
                if state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") {
                    return .unavailable(path: location, detail: "\(what): \(message)")
                }
                return .server(path: location, detail: "\(what): \(message) (SQLSTATE \(state))")
            }
            // "connectionError" alone says little: the socket's own error says what happened.
            let cause = psql.underlying.map { ": \($0)" } ?? ""
            return .unavailable(path: location, detail: "\(what): \(psql.code)\(cause)")
        }
        return .unavailable(path: location, detail: "\(what): \(error)")
    }

    private func noteReachable() {
        connectivity.withLock { state in
            if !state.reachable { state = Connectivity(reachable: true, lastError: nil, since: Date(), failures: 0) }
        }
    }

    private func noteUnreachable(_ detail: String) {
        let first = connectivity.withLock { state -> Bool in
            let first = state.reachable
            state.failures += 1
            state.lastError = detail
            state.lastFailureAt = Date()
            if first { state.reachable = false; state.since = Date() }
            return first
        }
        if first { logger.error("journal database unreachable", metadata: ["journal": "\(location)", "error": "\(detail)"]) }
    }
}

/// One transaction's statements on a PostgreSQL connection.
struct PostgresSession: SQLSession {
    let backend: PostgresBackend
    let connection: PostgresConnection

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        let result = try backend.wait(for: connection.query(Self.query(sql, arguments), logger: Self.logger), doing: Self.verb(sql))
        return result.metadata.rows ?? 0
    }

    func fetch(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        let result = try backend.wait(for: connection.query(Self.query(sql, arguments), logger: Self.logger), doing: Self.verb(sql))
        return try result.rows.map { row in
            var values: [String: SQLValue] = [:]
            for cell in row { values[cell.columnName] = try Self.value(of: cell) }
            return SQLRow(values)
        }
    }

    func announce(generation: UInt64) throws {
        try execute("SELECT pg_notify(?, ?)", [.text(PostgresBackend.channel), .text(String(generation))])
    }

    private static let logger = Logger(label: "switchyard.journal.postgres.query")

    /// The statement with `?` numbered as `$1`, `$2`, … (the journal's SQL has no `?` inside
    /// string literals) and its arguments bound.
    static func query(_ sql: String, _ arguments: [SQLValue]) -> PostgresQuery {
        var text = ""
        var number = 0
        for character in sql {
            if character == "?" { number += 1; text += "$\(number)" } else { text.append(character) }
        }
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            case .integer(let value): binds.append(value)
            case .real(let value): binds.append(value)
            case .text(let value): binds.append(value)
            case .null: binds.appendNull()
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: binds)
    }

    private static func verb(_ sql: String) -> String {
        String(sql.drop { $0.isWhitespace }.prefix { !$0.isWhitespace })
    }

    private static func value(of cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
        case .float4, .float8, .numeric: return .real(try cell.decode(Double.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        default: return .text(try cell.decode(String.self))
        }
    }
}

/// Where a future's result waits for the blocked caller (written once, before the signal).
private final class FutureResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
