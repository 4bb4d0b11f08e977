import Foundation
import Synchronization

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
    /// What the last write found, and when the last write probe ran.
    private let healthState = Mutex<(health: JournalHealth, lastProbe: Date)>((JournalHealth(), .distantPast))

    /// `sqlite` or `postgresql`.
    public var kind: String { backend.kind }
    /// The PostgreSQL side, when the journal lives there (the fleet's listener, leases, members).
    public var postgres: PostgresBackend? { backend as? PostgresBackend }

    /// Opens `state`: a `postgresql://` (or `postgres://`) URL, or a state directory. With
    /// `connectNow: false` a PostgreSQL journal connects at its first use instead.
    public static func open(state: String, busyTimeout: TimeInterval = 5, connectNow: Bool = true) throws -> Journal {
        if let location = try PostgresLocation(url: state) {
            return Journal(backend: try PostgresBackend(location, connectNow: connectNow))
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

    /// Opens the journal of a state directory that cannot be written (`errno`: EROFS, or
    /// EACCES for a user who may not write it) read-only, to serve its latest generation.
    /// It starts unwritable in ``health(probingEvery:)``, so every change is refused as
    /// ``JournalError/unwritable(path:errno:detail:)``; the first write (or write probe) after
    /// the directory takes writes again takes `lock` and reopens the journal read-write.
    /// Throws ``JournalError/cannotOpen(path:detail:)`` when the directory holds no journal.
    public static func openReadOnly(directory: String, lock: StateDirectoryLock, errno: Int32, busyTimeout: TimeInterval = 5) throws -> Journal {
        let path = (directory as NSString).appendingPathComponent(Journal.fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            throw JournalError.cannotOpen(path: path, detail: "no journal in a state directory that cannot be written")
        }
        let journal = Journal(backend: try SQLiteBackend(readOnlyPath: path, lock: lock, errno: errno, busyTimeout: busyTimeout))
        let refusal = JournalError.unwritable(path: path, errno: errno, detail: SQLiteBackend.readOnlyDetail)
        journal.healthState.withLock { $0.health.record(failure: refusal, at: Date()); $0.health.writeErrors = 0 }
        return journal
    }

    /// Whether the journal is open read-only: from a start on a state directory that could not
    /// be written until it takes writes again.
    public var isReadOnly: Bool { (backend as? SQLiteBackend)?.isReadOnly ?? false }

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
    ///
    /// A failure of the storage (disk full, read-only, I/O, the database unreachable) marks the
    /// journal unwritable in ``health(probingEvery:)`` until a later write succeeds. The
    /// connection stays open (SQLite rolls the failed transaction back and the next one simply
    /// tries again; PostgreSQL's reconnects).
    public func write<T>(_ body: (JournalTransaction) throws -> T) throws -> T {
        try recordingHealth(counted: true) {
            try backend.write { session in try body(JournalTransaction(session: session, path: path)) }
        }
    }

    /// The journal's write health. While it is unwritable, at most once per `interval` this
    /// writes and syncs one metadata row, so a disk that has space again (or is read-write
    /// again) shows as healthy without waiting for the next change. Never throws.
    public func health(probingEvery interval: TimeInterval = 1) -> JournalHealth {
        let now = Date()
        let due = healthState.withLock { state -> Bool in
            guard !state.health.writable, now.timeIntervalSince(state.lastProbe) >= interval else { return false }
            state.lastProbe = now
            return true
        }
        if due {
            // A failed probe updates the last error but is not counted as a refused write.
            _ = try? recordingHealth(counted: false) {
                try backend.write { session in try JournalTransaction(session: session, path: path).recordWriteProbe(at: now) }
            }
        }
        return healthState.withLock { $0.health }
    }

    private func recordingHealth<T>(counted: Bool, _ body: () throws -> T) throws -> T {
        do {
            let result = try body()
            // On a read-only journal a transaction that wrote nothing succeeds too; it proves nothing.
            let readOnly = isReadOnly
            healthState.withLock { if !$0.health.writable && !readOnly { $0.health.recordSuccess() } }
            return result
        } catch let error as JournalError where error.isStorageFailure {
            healthState.withLock { state in
                let before = state.health.writeErrors
                state.health.record(failure: error, at: Date())
                if !counted { state.health.writeErrors = before }
            }
            throw error
        }
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
