import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The exclusive claim of one `switchyard serve` on its state directory, held for the
/// server's whole life (SPEC: "One server owns a state directory at a time").
///
/// It is an `flock` on `<state>/lock`, not the file's existence: the kernel drops the lock
/// when the process dies, so `kill -9` never leaves a stale claim to clean up. (An `fcntl`
/// lock would be dropped as soon as any descriptor of the file closed in this process.)
/// The file holds the holder's PID and zones directory, only for the refusal message.
public final class StateDirectoryLock: @unchecked Sendable {
    /// The lock file name inside a state directory.
    public static let fileName = "lock"

    public let path: String
    private var descriptor: Int32

    /// Takes the lock on `directory` (created when missing) without waiting, or throws
    /// ``StateDirectoryLockError/held(directory:holder:)`` naming the server that has it.
    public static func acquire(directory: String, zonesDirectory: String) throws(StateDirectoryLockError) -> StateDirectoryLock {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotLock(path: directory, detail: "cannot create the state directory: \(error.localizedDescription)")
        }
        let path = (directory as NSString).appendingPathComponent(fileName)
        // O_CLOEXEC: hooks and gate commands the server runs must not inherit (and outlive
        // it holding) the lock. No O_TRUNC: the holder's details stay until we have the lock.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotLock(path: path, detail: String(cString: strerror(errno))) }
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            let holder = Holder(parsing: Self.contents(of: fd))
            close(fd)
            if code == EWOULDBLOCK { throw .held(directory: directory, holder: holder) }
            throw .cannotLock(path: path, detail: String(cString: strerror(code)))
        }
        let lock = StateDirectoryLock(path: path, descriptor: fd)
        lock.record(Holder(pid: getpid(), zonesDirectory: zonesDirectory))
        return lock
    }

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
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

    /// Best effort: the lock is the `flock`, the text only explains it.
    private func record(_ holder: Holder) {
        guard ftruncate(descriptor, 0) == 0 else { return }
        let bytes = Array(holder.text.utf8)
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    private static func contents(of fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }
}

/// Why a state directory could not be claimed.
public enum StateDirectoryLockError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another live process holds the lock.
    case held(directory: String, holder: StateDirectoryLock.Holder)
    /// The lock file cannot be created or locked at all.
    case cannotLock(path: String, detail: String)

    public var description: String {
        switch self {
        case let .held(directory, holder):
            let pid = holder.pid.map { "pid \($0)" } ?? "pid unknown"
            let zones = holder.zonesDirectory.map { "zones \($0)" } ?? "zones directory unknown"
            return "\(directory): the state directory is in use by another switchyard serve (\(pid), \(zones)); stop that server first, or give this one its own --state directory"
        case let .cannotLock(path, detail):
            return "\(path): cannot lock the state directory (\(detail)); check that this user may create and write files there, or pass another --state directory"
        }
    }
}
