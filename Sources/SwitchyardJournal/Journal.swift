import Foundation

/// The journal: generations, cutover runs and hook runs (SPEC "State, control and
/// observability"), in an embedded SQLite file (the default) or in PostgreSQL, which a fleet
/// of servers shares. The same queries run on both (``JournalTransaction``).
///
/// Every method is one transaction. To make several changes atomic (a new generation and the
/// cutover run that produced it), use ``write(_:)``. Writes are serialized: by the one SQLite
/// connection, or in PostgreSQL by a transaction-scoped advisory lock every writer of the
/// fleet takes first, so generation numbers never fork.
public final class Journal: Sendable {
    /// The default state directory, relative to the working directory.
    public static let defaultDirectory = "state"
    /// The database file name inside a state directory.
    public static let fileName = "switchyard.db"

    /// The database file, or the PostgreSQL URL without its password.
    public let path: String
    let backend: any JournalBackend

    /// `sqlite` or `postgresql`.
    public var kind: String { backend.kind }
    /// The PostgreSQL side, when the journal lives there (the fleet's listener, leases, members).
    public var postgres: PostgresBackend? { backend as? PostgresBackend }

    /// Opens `state`: a `postgresql://` (or `postgres://`) URL, or a state directory.
    public static func open(state: String, busyTimeout: TimeInterval = 5) throws -> Journal {
        if let location = try PostgresLocation(url: state) {
            return Journal(backend: try PostgresBackend(location))
        }
        return try Journal(directory: state, busyTimeout: busyTimeout)
    }

    /// Opens (creating if needed) `switchyard.db` in `directory`, creating the directory too.
    public convenience init(directory: String = Journal.defaultDirectory, busyTimeout: TimeInterval = 5) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError.cannotOpen(path: directory, detail: "cannot create the state directory: \(error.localizedDescription)")
        }
        try self.init(path: (directory as NSString).appendingPathComponent(Journal.fileName), busyTimeout: busyTimeout)
    }

    /// Opens (creating if needed) the SQLite journal at `path`, bringing its schema up to date.
    ///
    /// - Parameter busyTimeout: how long to wait for another process's write lock before
    ///   failing with ``JournalError/locked(path:)``.
    public convenience init(path: String, busyTimeout: TimeInterval = 5) throws {
        self.init(backend: try SQLiteBackend(path: path, busyTimeout: busyTimeout))
    }

    init(backend: any JournalBackend) {
        self.backend = backend
        self.path = backend.location
    }

    /// Runs `body` in one write transaction: it commits (and is synced) when `body` returns and
    /// rolls back entirely when it throws, so an error in the middle leaves nothing half-written.
    public func write<T>(_ body: (JournalTransaction) throws -> T) throws -> T {
        try backend.write { session in try body(JournalTransaction(session: session, path: path)) }
    }

    /// Runs `body` with a consistent read-only view of the journal.
    public func read<T>(_ body: (JournalTransaction) throws -> T) throws -> T {
        try backend.read { session in try body(JournalTransaction(session: session, path: path)) }
    }

    /// The durability settings in force on the SQLite connection, for `status` and tests.
    public func storage() throws -> StorageSettings {
        guard let sqlite = backend as? SQLiteBackend else {
            return StorageSettings(path: path, journalMode: "postgresql", synchronous: "on", migrations: [])
        }
        return try sqlite.storage()
    }
}
