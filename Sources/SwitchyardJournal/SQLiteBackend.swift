import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The embedded journal: one SQLite file (GRDB), the default.
///
/// One `DatabaseQueue` serialises every access, so there is one writer. The file is in WAL
/// mode with `synchronous = FULL`: when a write transaction returns, its WAL frame has been
/// fsynced, so it survives `kill -9` and power loss.
///
/// A server that starts on a state directory it cannot write opens the file read-only
/// (``init(readOnlyPath:lock:errno:busyTimeout:)``) and reopens it read-write, without
/// a restart, at the first write once the directory takes writes again.
final class SQLiteBackend: JournalBackend {
    let location: String
    var kind: String { "sqlite" }
    private let busyTimeout: TimeInterval
    private let connection: Mutex<Connection>

    private struct Connection {
        var queue: DatabaseQueue
        /// Set while the journal is open read-only.
        var readOnly: ReadOnly?
    }

    private struct ReadOnly {
        /// Taken (or confirmed) before the journal is reopened for writing.
        let lock: StateDirectoryLock
        /// What the state directory's write probe last failed with (EROFS, EACCES...).
        var errno: Int32
    }

    init(path: String, busyTimeout: TimeInterval) throws {
        location = path
        self.busyTimeout = busyTimeout
        connection = Mutex(Connection(queue: try Self.openReadWrite(path: path, busyTimeout: busyTimeout), readOnly: nil))
    }

    /// Opens the journal at `path` read-only, for a state directory that cannot be written
    /// (`errno`, e.g. EROFS); `lock` is the directory's lock as far as it could be taken.
    init(readOnlyPath path: String, lock: StateDirectoryLock, errno: Int32, busyTimeout: TimeInterval) throws {
        location = path
        self.busyTimeout = busyTimeout
        let queue = try Self.openReadOnly(path: path, busyTimeout: busyTimeout)
        connection = Mutex(Connection(queue: queue, readOnly: ReadOnly(lock: lock, errno: errno)))
    }

    /// Whether the journal is open read-only (until the state directory takes writes again).
    var isReadOnly: Bool { connection.withLock { $0.readOnly != nil } }

    private static func openReadWrite(path: String, busyTimeout: TimeInterval) throws -> DatabaseQueue {
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
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try checkSchema(queue, path: path)
            try JournalSchema.migrator.migrate(queue)
            return queue
        } catch let error as DatabaseError {
            throw JournalError.from(error, path: path)
        }
    }

    /// SQLite reads a WAL database read-only only when its `-wal` and `-shm` files exist or
    /// can be created, or the file is opened `immutable` (https://sqlite.org/wal.html#readonly).
    /// After a crash, or a disk that went read-only under a running server, both exist and the
    /// `-wal` holds the last commits: a plain read-only open reads them. After a clean stop
    /// SQLite has folded the WAL into the file and removed both, and a read-only directory
    /// cannot get them back (SQLITE_CANTOPEN): then the file alone is the whole journal and
    /// `immutable=1` reads it without them. Never `immutable` beside a `-wal`: it would
    /// silently skip the commits in it. (Checked on read-only tmpfs, bind and ext4 mounts.)
    private static func openReadOnly(path: String, busyTimeout: TimeInterval) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "switchyard.journal.readonly"
        do {
            let queue = try DatabaseQueue(path: readOnlyTarget(path: path, walExists: FileManager.default.fileExists(atPath: path + "-wal")),
                                          configuration: configuration)
            try checkSchema(queue, path: path)
            let applied = try queue.read { try JournalSchema.migrator.appliedIdentifiers($0) }
            guard !applied.isEmpty else { throw JournalError.cannotOpen(path: path, detail: "no journal in it, and the state directory cannot be written") }
            guard applied.isSuperset(of: JournalSchema.migrator.migrations) else {
                throw JournalError.readOnly(path: path, detail: "its schema is older than this Switchyard's, and upgrading it needs a writable state directory")
            }
            return queue
        } catch let error as DatabaseError {
            throw JournalError.from(error, path: path)
        }
    }

    /// What to open read-only: the path, or beside no `-wal` an `immutable` URI of it.
    static func readOnlyTarget(path: String, walExists: Bool) -> String {
        guard !walExists else { return path }
        // In an SQLite URI `?`, `#` and `%` in the path must be escaped.
        return "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?immutable=1"
    }

    /// Refuses a journal migrated by a newer Switchyard.
    private static func checkSchema(_ queue: DatabaseQueue, path: String) throws {
        let migrator = JournalSchema.migrator
        let unknown = try queue.read { db -> [String] in
            guard try migrator.hasBeenSuperseded(db) else { return [] }
            return try migrator.appliedIdentifiers(db).subtracting(migrator.migrations).sorted()
        }
        guard unknown.isEmpty else { throw JournalError.newerSchema(path: path, unknownMigrations: unknown) }
    }

    func write<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        let queue = try queueForWriting()
        return try translatingErrors(queue) { try queue.write { db in try body(SQLiteSession(db: db)) } }
    }

    func read<T>(_ body: (any SQLSession) throws -> T) throws -> T {
        let queue = connection.withLock { $0.queue }
        return try translatingErrors(queue) { try queue.read { db in try body(SQLiteSession(db: db)) } }
    }

    /// The connection to write with. While the journal is open read-only this first asks the
    /// state directory whether it takes writes again; if so it takes the directory's lock
    /// (before anything is written: two servers must never both write one journal) and
    /// reopens the journal read-write. If not, the read-only connection runs the transaction:
    /// one that only reads succeeds (a reload of unchanged files), one that writes is refused.
    private func queueForWriting() throws -> DatabaseQueue {
        try connection.withLock { current in
            guard let readOnly = current.readOnly else { return current.queue }
            var code = SystemErrno.probe(directory: (location as NSString).deletingLastPathComponent)
            // A writable directory is not enough when the file itself is not (EACCES: another
            // user's journal); SQLite would quietly open it read-only again.
            if code == 0 && access(location, W_OK) != 0 { code = errno }
            guard code == 0 else {
                current.readOnly?.errno = code
                return current.queue
            }
            do throws(StateDirectoryLockError) {
                try readOnly.lock.lockForWriting()
            } catch {
                // Held: another server took the lock while this one could not write (there was
                // no lock file to hold); that one is the writer now.
                guard case .cannotLock(_, let code, _, _) = error else { throw JournalError.heldByAnotherServer(path: location, detail: error.description) }
                throw JournalError.unwritable(path: location, errno: code, detail: error.description)
            }
            // Closed first: SQLite shares one `-shm` mapping among a process's connections to
            // a file, and the read-only one mapped it read-only; a read-write connection
            // opened beside it would inherit that and be refused every write (SQLITE_READONLY).
            // A read racing this on the old connection fails once ("connection is closed").
            try? current.queue.close()
            do {
                current.queue = try Self.openReadWrite(path: location, busyTimeout: busyTimeout)
            } catch {
                current.queue = try Self.openReadOnly(path: location, busyTimeout: busyTimeout)
                throw error
            }
            current.readOnly = nil
            return current.queue
        }
    }

    /// The durability settings in force on the connection, for `status` and tests.
    func storage() throws -> StorageSettings {
        let queue = connection.withLock { $0.queue }
        return try translatingErrors(queue) {
            try queue.read { db in
                StorageSettings(
                    path: location,
                    journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                    synchronous: StorageSettings.synchronousName(try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1),
                    migrations: try JournalSchema.migrator.appliedMigrations(db))
            }
        }
    }

    private func translatingErrors<T>(_ queue: DatabaseQueue, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            // A write on the read-only connection: the directory's own errno (EROFS, EACCES),
            // so the refusal reads like any other unwritable state directory's.
            if error.resultCode == .SQLITE_READONLY, let readOnly = connection.withLock({ $0.readOnly }) {
                throw JournalError.unwritable(path: location, errno: readOnly.errno, detail: Self.readOnlyDetail)
            }
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

    static let readOnlyDetail = "the server started on a state directory it could not write, so it serves the journal read-only"
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
