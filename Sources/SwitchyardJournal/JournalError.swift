import Foundation
import GRDB
import SwitchyardControl

/// Why the journal could not be opened, read or written. Every case names the database file
/// and says what to do, because the operator reading it is usually in the middle of a cutover.
public enum JournalError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file or its directory cannot be opened (missing permission, a directory in the way,
    /// no space to create it).
    case cannotOpen(path: String, detail: String)
    /// The file exists but is not an SQLite database (or its header is damaged).
    case notADatabase(path: String, detail: String)
    /// SQLite reports damage inside the database.
    case corrupt(path: String, detail: String)
    /// Another process (or connection) holds the write lock longer than the busy timeout.
    case locked(path: String)
    /// The file or its directory is read-only.
    case readOnly(path: String, detail: String)
    /// The database was migrated by a newer Switchyard: it knows schema steps this one does not.
    case newerSchema(path: String, unknownMigrations: [String])
    /// A stored row does not decode (hand-edited, or written by an incompatible version).
    case undecodableRow(path: String, table: String, id: Int64, detail: String)
    /// `updateRun` for an id that was never created.
    case unknownRun(path: String, id: Int64)
    /// A cluster may have one running or paused cutover at a time.
    case runAlreadyActive(path: String, cluster: String, activeID: Int64)
    /// A hook run names a generation that is not in the journal.
    case unknownGeneration(path: String, number: UInt64)
    /// The state directory belongs to another zones directory (and `--adopt-state` was not given).
    case otherZonesDirectory(path: String, recorded: String, given: String)
    /// The file system refused a write: no space left (ENOSPC, EDQUOT), mounted read-only
    /// (EROFS), or an I/O error. `errno` is what the system call failed with, 0 if unknown.
    /// Nothing of the failed transaction was journaled.
    case unwritable(path: String, errno: Int32, detail: String)
    /// The journal is open read-only and its state directory is writable again, but another
    /// live server took the directory's lock meanwhile (`detail` names it): this one must not write.
    case heldByAnotherServer(path: String, detail: String)
    /// Any other SQLite failure.
    case storage(path: String, detail: String)
    /// `--state` looks like a PostgreSQL URL but is not a usable one.
    case badLocation(text: String, detail: String)
    /// The PostgreSQL server cannot be reached (or stopped answering): nothing was written.
    case unavailable(path: String, detail: String)
    /// PostgreSQL refused the statement (permissions, a constraint, …).
    case server(path: String, detail: String)
    /// This server no longer holds the lease of a cutover run: another server took it over.
    case leaseLost(path: String, run: Int64, holder: String?)

    public var description: String {
        switch self {
        case let .cannotOpen(path, detail):
            return "\(path): cannot open the journal (\(detail)); check that the directory exists and this user may read and write it, or pass another --state directory"
        case let .notADatabase(path, detail):
            return "\(path): not a Switchyard journal (\(detail)); move the file aside and restore it from a backup, or start with an empty state directory"
        case let .corrupt(path, detail):
            return "\(path): the journal is damaged (\(detail)); stop Switchyard, run `sqlite3 \(path) 'PRAGMA integrity_check'`, and restore from a backup"
        case let .locked(path):
            return "\(path): the journal is locked by another process; stop the other `switchyard` using this state directory, or wait for it to finish"
        case let .readOnly(path, detail):
            return "\(path): the journal is read-only (\(detail)); give this user write permission on the file and its directory"
        case let .newerSchema(path, unknown):
            return "\(path): the journal was written by a newer Switchyard (unknown schema steps: \(unknown.joined(separator: ", "))); upgrade this switchyard binary, do not downgrade the state"
        case let .undecodableRow(path, table, id, detail):
            return "\(path): row \(id) of table \(table) does not decode (\(detail)); the file was edited by hand or written by an incompatible version"
        case let .unknownRun(path, id):
            return "\(path): no cutover run with id \(id); list runs with `switchyard status`"
        case let .runAlreadyActive(path, cluster, activeID):
            return "\(path): cluster \(cluster) already has an active cutover (run \(activeID)); resume or finish it before starting another"
        case let .unknownGeneration(path, number):
            return "\(path): no generation \(number) in the journal; hook runs must belong to a journaled generation"
        case let .otherZonesDirectory(path, recorded, given):
            let directory = (path as NSString).deletingLastPathComponent
            return "\(directory): this state directory belongs to the zones directory \(recorded), not \(given); serve \(recorded) with it, give \(given) its own --state directory, or pass --adopt-state to make this state \(given)'s"
        case let .unwritable(path, errno, detail):
            let directory = (path as NSString).deletingLastPathComponent
            return "\(directory): the state directory cannot be written (\(SystemErrno.describe(errno))) while journaling to \(path): \(detail); "
                + "nothing was changed and the last generation keeps serving; \(SystemErrno.remedy(errno)), then retry"
        case let .heldByAnotherServer(path, detail):
            return "\(detail) (it took the lock while this server served \(path) read-only); nothing was changed: this server keeps serving the last generation read-only"
        case let .storage(path, detail):
            return "\(path): journal storage error (\(detail))"
        case let .badLocation(text, detail):
            return "\(text): \(detail)"
        case let .unavailable(path, detail):
            return "\(path): the journal database is unreachable (\(detail)); nothing was changed. DNS answers continue from the last generation; retry once PostgreSQL is back"
        case let .server(path, detail):
            return "\(path): PostgreSQL refused the journal's statement (\(detail))"
        case let .leaseLost(path, run, holder):
            return "\(path): this server no longer holds run \(run)" + (holder.map { "; server \($0) runs it now" } ?? "") + "; nothing was written for it"
        }
    }
}

extension JournalError: LocalizedError {
    public var errorDescription: String? { description }
}

extension JournalError: HTTPStatusReporting {
    /// The journal's storage failing (a full or read-only disk, the database unreachable,
    /// another process holding the lock) is the server's condition, not the request's fault:
    /// 503, so clients retry once it is fixed. A run that collides is 409; anything else 500.
    public var httpStatus: Int {
        switch self {
        case .unwritable, .unavailable, .readOnly, .locked, .cannotOpen, .heldByAnotherServer: return 503
        case .runAlreadyActive, .leaseLost: return 409
        case .unknownRun: return 404
        default: return 500
        }
    }

    /// Whether the failure is the storage's (disk full, read-only, I/O, locked), as opposed to
    /// a refusal of what was asked (an unknown run, a second active run).
    public var isStorageFailure: Bool {
        switch self {
        case .unwritable, .unavailable, .readOnly, .locked, .cannotOpen, .corrupt, .notADatabase, .storage, .heldByAnotherServer: return true
        default: return false
        }
    }
}

extension JournalError {
    /// The SQLite results a failing file system can cause (its errno tells which failure).
    static let storageResultCodes: [ResultCode] = [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN]

    /// Translates an SQLite error into what it means for the journal at `path`; `systemErrno`
    /// is the errno of the system call that failed (`sqlite3_system_errno`), 0 if none.
    static func from(_ error: DatabaseError, path: String, systemErrno: Int32 = 0) -> JournalError {
        let detail = error.message ?? "\(error.resultCode)"
        // A full or read-only disk shows as SQLITE_FULL, SQLITE_READONLY or one of the
        // SQLITE_IOERR family; the errno says which, and it is what the operator must fix.
        if [ENOSPC, EDQUOT, EROFS, EIO].contains(systemErrno) && storageResultCodes.contains(error.resultCode) {
            return .unwritable(path: path, errno: systemErrno, detail: detail)
        }
        switch error.resultCode {
        case .SQLITE_FULL:
            return .unwritable(path: path, errno: ENOSPC, detail: detail)
        case .SQLITE_IOERR:
            return .unwritable(path: path, errno: systemErrno, detail: detail)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .locked(path: path)
        case .SQLITE_NOTADB:
            return .notADatabase(path: path, detail: detail)
        case .SQLITE_CORRUPT:
            return .corrupt(path: path, detail: detail)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return .cannotOpen(path: path, detail: detail)
        case .SQLITE_READONLY:
            return .readOnly(path: path, detail: detail)
        default:
            return .storage(path: path, detail: detail)
        }
    }
}

/// Names and remedies for the errno values a journal write can fail with.
public enum SystemErrno {
    /// `EROFS: Read-only file system`, or `errno unknown` for 0.
    public static func describe(_ code: Int32) -> String {
        guard code != 0 else { return "errno unknown" }
        let names: [Int32: String] = [ENOSPC: "ENOSPC", EDQUOT: "EDQUOT", EROFS: "EROFS", EIO: "EIO", EACCES: "EACCES", EPERM: "EPERM"]
        return "\(names[code] ?? "errno \(code)"): \(String(cString: strerror(code)))"
    }

    /// What the file system holding `directory` says to a small synced write, for when SQLite
    /// could not tell (it reports the errno of an I/O error only sometimes, never for
    /// SQLITE_FULL, and an ext4 remounted read-only after an error shows as a bare
    /// SQLITE_IOERR): EROFS, ENOSPC, EDQUOT, EIO..., or 0 when the write goes through.
    static func probe(directory: String) -> Int32 {
        let path = (directory as NSString).appendingPathComponent(".switchyard-write-probe-\(getpid())")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errno }
        defer { close(fd); unlink(path) }
        // One whole block, so a full file system cannot satisfy it from a partly used one.
        let block = [UInt8](repeating: 0, count: 4096)
        let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 { return errno }
        return fsync(fd) == 0 ? 0 : errno
    }

    static func remedy(_ code: Int32) -> String {
        switch code {
        case ENOSPC, EDQUOT: return "free space on that file system"
        case EROFS: return "make that file system read-write again (after a disk error the kernel remounts it read-only: check the disk and the file system, e.g. e2fsck, then mount it read-write)"
        case EIO: return "check the disk (dmesg)"
        case EACCES, EPERM: return "give this user write permission on the state directory and its files"
        default: return "check that file system"
        }
    }
}
