import Foundation
import GRDB

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
    public func write<T>(_ body: (JournalTransaction) throws -> T) throws -> T {
        try translatingErrors {
            try queue.write { db in try body(JournalTransaction(db: db, path: path)) }
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
            throw JournalError.from(error, path: path)
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
