import Foundation
import GRDB
import GRDBSQLite

/// The embedded journal: one SQLite file (GRDB), the default.
///
/// One `DatabaseQueue` serialises every access, so there is one writer. The file is in WAL
/// mode with `synchronous = FULL`: when a write transaction returns, its WAL frame has been
/// fsynced, so it survives `kill -9` and power loss.
final class SQLiteBackend: JournalBackend {
    let location: String
    var kind: String { "sqlite" }
    private let queue: DatabaseQueue

    init(path: String, busyTimeout: TimeInterval) throws {
        location = path
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

    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try translatingErrors { try queue.write { db in try body(SQLiteSession(db: db)) } }
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        try translatingErrors { try queue.read { db in try body(SQLiteSession(db: db)) } }
    }

    /// The durability settings in force on the connection, for `status` and tests.
    func storage() throws -> StorageSettings {
        try translatingErrors {
            try queue.read { db in
                StorageSettings(
                    path: location,
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
                systemErrno = SystemErrno.probe(directory: (location as NSString).deletingLastPathComponent)
            }
            throw JournalError.from(error, path: location, systemErrno: systemErrno)
        }
    }
}

private struct SQLiteSession: SQLSession {
    let db: Database

    func execute(_ sql: String, _ arguments: [SQLValue]) throws -> Int {
        try db.execute(sql: sql, arguments: StatementArguments(arguments.map(Self.databaseValue)))
        return db.changesCount
    }

    func fetch(_ sql: String, _ arguments: [SQLValue]) throws -> [SQLRow] {
        try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments.map(Self.databaseValue))).map { row in
            var values: [String: SQLValue] = [:]
            for (column, value) in row {
                switch value.storage {
                case .int64(let number): values[column] = .integer(number)
                case .double(let number): values[column] = .real(number)
                case .string(let text): values[column] = .text(text)
                case .blob(let data): values[column] = .text(String(decoding: data, as: UTF8.self))
                case .null: values[column] = .null
                }
            }
            return SQLRow(values)
        }
    }

    func announce(generation: UInt64) throws {}

    private static func databaseValue(_ value: SQLValue) -> DatabaseValue {
        switch value {
        case .integer(let number): return number.databaseValue
        case .real(let number): return number.databaseValue
        case .text(let text): return text.databaseValue
        case .null: return .null
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
