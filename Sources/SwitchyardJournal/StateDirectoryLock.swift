import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The exclusive claim of one `switchyard serve` on its state directory, held for the
/// server's whole life (SPEC: "One server owns a state directory at a time"); and, with the
/// same lock, a fleet member's claim on its `--cache-dir` (``Role/cache``), whose local copy
/// of the last generation another server must neither overwrite nor serve.
///
/// It is an `flock` on `<state>/lock`, not the file's existence: the kernel drops the lock
/// when the process dies, so `kill -9` never leaves a stale claim to clean up. (An `fcntl`
/// lock would be dropped as soon as any descriptor of the file closed in this process.)
/// The file holds the holder's PID and zones directory, only for the refusal message.
public final class StateDirectoryLock: @unchecked Sendable {
    /// The lock file name inside a state directory.
    public static let fileName = "lock"

    /// Which directory a lock claims: what the refusal calls it, and the option that gives
    /// another server its own.
    public struct Role: Equatable, Sendable {
        public var noun: String
        public var option: String
        /// What the directory holds for its server, for the refusal message; nil says nothing.
        public var holds: String?

        public static let state = Role(noun: "state directory", option: "--state", holds: nil)
        public static let cache = Role(noun: "cache directory", option: "--cache-dir",
                                       holds: "each server of a fleet keeps its own copy of the last generation it served there")
    }

    public let path: String
    public let role: Role
    private var descriptor: Int32

    /// Takes the lock on `directory` (created when missing) without waiting, or throws
    /// ``StateDirectoryLockError/held(directory:holder:)`` naming the server that has it.
    public static func acquire(directory: String, zonesDirectory: String, role: Role = .state) throws(StateDirectoryLockError) -> StateDirectoryLock {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotLock(path: directory, errno: 0, detail: "cannot create the \(role.noun): \(error.localizedDescription)", role: role)
        }
        let path = (directory as NSString).appendingPathComponent(fileName)
        // O_CLOEXEC: hooks and gate commands the server runs must not inherit (and outlive
        // it holding) the lock. No O_TRUNC: the holder's details stay until we have the lock.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { let code = errno; throw .cannotLock(path: path, errno: code, detail: String(cString: strerror(code)), role: role) }
        let lock = StateDirectoryLock(directory: directory, path: path, zonesDirectory: zonesDirectory, role: role)
        try lock.lock(fd)
        lock.recordHolder()
        return lock
    }

    /// For a state directory that cannot be written (a read-only file system, or a lock file
    /// this user may not write): takes the same exclusive `flock` through a read-only
    /// descriptor (`flock` does not care how the file was opened), so no other server can
    /// become this directory's writer while this one serves it read-only. When the lock file
    /// is missing (and cannot be created) nothing is held yet: ``lockForWriting()`` takes it
    /// before the first write. Throws ``StateDirectoryLockError/held(directory:holder:)``
    /// when a live server holds it.
    public static func acquireForReading(directory: String, zonesDirectory: String) throws(StateDirectoryLockError) -> StateDirectoryLock {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let lock = StateDirectoryLock(directory: directory, path: path, zonesDirectory: zonesDirectory)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { try lock.lock(fd) }
        return lock
    }

    /// Makes sure this process holds the lock before it writes to the directory: taken now
    /// when it was not held (a read-only start without a lock file), and the holder's details
    /// written. Throws ``StateDirectoryLockError/held(directory:holder:)`` when another live
    /// server took it meanwhile: then this one must not write.
    public func lockForWriting() throws(StateDirectoryLockError) {
        if descriptor < 0 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { let code = errno; throw .cannotLock(path: path, errno: code, detail: String(cString: strerror(code)), role: role) }
            try lock(fd)
        }
        recordHolder()
    }

    /// Whether this process holds the directory's `flock`.
    public var isHeld: Bool { descriptor >= 0 }

    public let directory: String
    private let zonesDirectory: String

    private init(directory: String, path: String, zonesDirectory: String, role: Role = .state) {
        self.directory = directory
        self.path = path
        self.zonesDirectory = zonesDirectory
        self.role = role
        self.descriptor = -1
    }

    /// `flock(LOCK_EX)` on `fd` without waiting; keeps `fd` when it succeeds, closes it when not.
    private func lock(_ fd: Int32) throws(StateDirectoryLockError) {
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            var holder = Holder(parsing: Self.contents(of: fd))
            // The file names the last server that could write it: on a read-only directory
            // that may be a previous one. The kernel knows who holds the lock now.
            if let pid = Self.flockHolder(of: fd) { holder.pid = pid }
            close(fd)
            if code == EWOULDBLOCK { throw .held(directory: directory, holder: holder, role: role) }
            throw .cannotLock(path: path, errno: code, detail: String(cString: strerror(code)), role: role)
        }
        descriptor = fd
    }

    deinit { release() }

    /// Gives the directory up (process exit does the same).
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    /// Who holds a lock, as its file says.
    public struct Holder: Equatable, Sendable {
        public var pid: Int32?
        public var zonesDirectory: String?

        init(pid: Int32?, zonesDirectory: String?) { self.pid = pid; self.zonesDirectory = zonesDirectory }

        /// `pid 1234` and `zones /srv/zones`, one per line; anything else is ignored.
        init(parsing text: String) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                if parts[0] == "pid" { pid = Int32(parts[1]) }
                if parts[0] == "zones" { zonesDirectory = parts[1] }
            }
        }

        var text: String { "pid \(pid.map(String.init) ?? "?")\nzones \(zonesDirectory ?? "?")\n" }
    }

    /// Best effort: the lock is the `flock`, the text only explains it. Written through a
    /// descriptor of its own, since the locked one may be read-only; closing that one does
    /// not drop the `flock`, which belongs to the locked descriptor's open file.
    private func recordHolder() {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard ftruncate(fd, 0) == 0 else { return }
        let bytes = Array(Holder(pid: getpid(), zonesDirectory: zonesDirectory).text.utf8)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// The process holding an `flock` on `fd`'s file, from `/proc/locks` (`1: FLOCK ADVISORY
    /// WRITE <pid> <major>:<minor>:<inode> 0 EOF`, device numbers in hex); nil if not found.
    private static func flockHolder(of fd: Int32) -> Int32? {
        var status = stat()
        guard fstat(fd, &status) == 0, let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let device = UInt64(status.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        let file = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(status.st_ino))
        for line in locks.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 5, fields[1] == "FLOCK", fields[5] == file { return Int32(fields[4]) }
        }
        return nil
    }

    private static func contents(of fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }
}

/// Why a state (or cache) directory could not be claimed.
public enum StateDirectoryLockError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another live process holds the lock.
    case held(directory: String, holder: StateDirectoryLock.Holder, role: StateDirectoryLock.Role = .state)
    /// The lock file cannot be created or locked at all; `errno` says why (EROFS, EACCES...), 0 if unknown.
    case cannotLock(path: String, errno: Int32, detail: String, role: StateDirectoryLock.Role = .state)

    public var description: String {
        switch self {
        case let .held(directory, holder, role):
            let pid = holder.pid.map { "pid \($0)" } ?? "pid unknown"
            let zones = holder.zonesDirectory.map { "zones \($0)" } ?? "zones directory unknown"
            let why = role.holds.map { " (\($0))" } ?? ""
            return "\(directory): the \(role.noun) is in use by another switchyard serve (\(pid), \(zones)); stop that server first, or give this one its own \(role.option) directory\(why)"
        case let .cannotLock(path, _, detail, role):
            return "\(path): cannot lock the \(role.noun) (\(detail)); check that this user may create and write files there, or pass another \(role.option) directory"
        }
    }
}
