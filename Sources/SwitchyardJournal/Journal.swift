import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The embedded SQLite journal: generations, cutover runs and hook runs (SPEC "State, control
/// and observability").
///
/// One `DatabaseQueue` serialises every access, so there is one writer. The file is in WAL
/// mode with `synchronous = FULL`: when ``append(state:actor:reason:serials:at:)`` returns,
/// the generation's WAL frame has been fsynced, so it survives `kill -9` and power loss — a
/// generation is committed to disk before it is served.
///
/// Every method is one transaction. To make several changes atomic (a new generation and the
/// cutover run that produced it), use ``write(_:)``.
public final class Journal: Sendable {
    /// The default state directory, relative to the working directory.
    public static let defaultDirectory = "state"
    /// The database file name inside a state directory.
    public static let fileName = "switchyard.db"

    /// The database file.
    public let path: String
    private let queue: DatabaseQueue
    /// What the last write found, and when the last write probe ran.
    private let healthState = Mutex<(health: JournalHealth, lastProbe: Date)>((JournalHealth(), .distantPast))

    /// Opens (creating if needed) `switchyard.db` in `directory`, creating the directory too.
    public convenience init(directory: String = Journal.defaultDirectory, busyTimeout: TimeInterval = 5) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError.cannotOpen(path: directory, detail: "cannot create the state directory: \(error.localizedDescription)")
        }
        try self.init(path: (directory as NSString).appendingPathComponent(Journal.fileName), busyTimeout: busyTimeout)
    }

    /// Opens (creating if needed) the journal database at `path`, bringing its schema up to date.
    ///
    /// - Parameter busyTimeout: how long to wait for another process's write lock before
    ///   failing with ``JournalError/locked(path:)``.
    public init(path: String, busyTimeout: TimeInterval = 5) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "switchyard.journal"
        configuration.prepareDatabase { db in
            // Set here, not through `Configuration.journalMode`: GRDB's WAL setup lowers
            // `synchronous` to NORMAL, which may lose the last commits on power loss.
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            guard mode == "wal" else {
                throw DatabaseError(message: "could not switch to WAL journal mode (got \(mode ?? "nothing"))")
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            let migrator = JournalSchema.migrator
            let unknown = try queue.read { db -> [String] in
                guard try migrator.hasBeenSuperseded(db) else { return [] }
                return try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
            }
            guard unknown.isEmpty else { throw JournalError.newerSchema(path: path, unknownMigrations: unknown) }
            try migrator.migrate(queue)
        } catch let error as DatabaseError {
            throw JournalError.from(error, path: path)
        }
    }

    /// Runs `body` in one write transaction: it commits (and is synced) when `body` returns and
    /// rolls back entirely when it throws, so an error in the middle leaves nothing half-written.
    ///
    /// A failure of the storage (disk full, read-only, I/O) marks the journal unwritable in
    /// ``health(probingEvery:)`` until a later write succeeds. The connection stays open:
    /// SQLite rolls the failed transaction back and the next one simply tries again.
    public func write<T>(_ body: (JournalTransaction) throws -> T) throws -> T {
        try recordingHealth(counted: true) {
            try translatingErrors {
                try queue.write { db in try body(JournalTransaction(db: db, path: path)) }
            }
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
                try translatingErrors {
                    try queue.write { db in try JournalTransaction(db: db, path: path).recordWriteProbe(at: now) }
                }
            }
        }
        return healthState.withLock { $0.health }
    }

    private func recordingHealth<T>(counted: Bool, _ body: () throws -> T) throws -> T {
        do {
            let result = try body()
            healthState.withLock { if !$0.health.writable { $0.health.recordSuccess() } }
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
        try translatingErrors {
            try queue.read { db in try body(JournalTransaction(db: db, path: path)) }
        }
    }

    /// The durability settings in force on the connection, for `status` and tests.
    public func storage() throws -> StorageSettings {
        try translatingErrors {
            try queue.read { db in
                StorageSettings(
                    path: path,
                    journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                    synchronous: StorageSettings.synchronousName(try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1),
                    migrations: try JournalSchema.migrator.appliedMigrations(db))
            }
        }
    }

    private func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            // The errno of the system call that failed (ENOSPC, EROFS...), as SQLite recorded
            // it on the connection; when it did not (SQLITE_FULL, or an ext4 remounted
            // read-only after an error, a bare SQLITE_IOERR), the state directory is asked.
            var systemErrno = queue.inDatabase { db in sqlite3_system_errno(db.sqliteConnection) }
            if systemErrno == 0 && JournalError.storageResultCodes.contains(error.resultCode) {
                systemErrno = SystemErrno.probe(directory: (path as NSString).deletingLastPathComponent)
            }
            throw JournalError.from(error, path: path, systemErrno: systemErrno)
        }
    }
}

/// How the journal file is being written.
public struct StorageSettings: Equatable, Sendable {
    public var path: String
    /// `wal` when the journal is healthy.
    public var journalMode: String
    /// `full` when every commit is fsynced.
    public var synchronous: String
    /// Applied schema steps, oldest first.
    public var migrations: [String]

    static func synchronousName(_ value: Int) -> String {
        switch value {
        case 0: return "off"
        case 1: return "normal"
        case 2: return "full"
        case 3: return "extra"
        default: return "unknown(\(value))"
        }
    }
}
