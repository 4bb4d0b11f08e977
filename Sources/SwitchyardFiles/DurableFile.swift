import Glibc

/// Files that must survive a crash or a power loss whole: discovery files that Kafka clients
/// load, and a fleet member's local copy of the generation it serves. One helper for both,
/// so both get the same order of calls (the order is the guarantee, and easy to get wrong).
///
/// Every call goes through ``call(_:_:_:)``, which retries EINTR and turns a failure into a
/// ``FileSystemError`` naming the call and the path.
public enum DurableFile {
    /// Replaces `path` with `bytes` so that a reader, or the next start after a crash, sees the
    /// old file or the new one, never a mix or an empty file: a temporary file in the same
    /// directory (rename is atomic only within one file system), written, given `permissions`
    /// (whatever the umask), fsynced and closed, renamed over `path`, then the directory
    /// fsynced so the rename itself survives a power loss. The directory must exist.
    ///
    /// The temporary file is a dot-file (`.<name>.tmp-<pid>-<random>`): readers that glob
    /// (`*.yaml`, as kafka-utils does) skip one a crash leaves behind, and two writers in one
    /// directory never share one.
    public static func replace(_ path: String, with bytes: [UInt8], permissions: mode_t) throws(FileSystemError) {
        let directory = parent(of: path)
        let temporary = "\(directory)/.\(baseName(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try call("open", temporary) { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions) }
        do throws(FileSystemError) {
            var written = 0
            while written < bytes.count {
                let count = try call("write", temporary) {
                    Int32(bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) })
                }
                written += Int(count)
            }
            try call("fchmod", temporary) { fchmod(fd, permissions) }
            try call("fsync", temporary) { fsync(fd) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        // close can report a delayed write error (NFS): the file is then not whole. Never
        // retried: Linux frees the descriptor even when close fails with EINTR, and a second
        // close could close a descriptor another thread has just been given.
        if close(fd) != 0 {
            let error = FileSystemError(operation: "close", path: temporary, errno: errno)
            unlink(temporary)
            throw error
        }
        do throws(FileSystemError) { try call("rename", path) { rename(temporary, path) } } catch { unlink(temporary); throw error }
        try syncDirectory(directory)
    }

    /// Removes `path`, and fsyncs its directory so the removal survives a crash.
    public static func remove(_ path: String) throws(FileSystemError) {
        try call("unlink", path) { unlink(path) }
        try syncDirectory(parent(of: path))
    }

    /// Makes a directory's entries (a rename, a new or removed file) durable.
    public static func syncDirectory(_ directory: String) throws(FileSystemError) {
        let fd = try call("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try call("fsync", directory) { fsync(fd) }
    }

    /// Runs a libc call that returns -1 and sets errno on failure, retrying EINTR.
    @discardableResult
    public static func call(_ operation: String, _ path: String, _ body: () -> Int32) throws(FileSystemError) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw FileSystemError(operation: operation, path: path, errno: code)
        }
    }

    /// The directory part of `path` (`.` for a bare name, `/` for a file at the root).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let head = String(path[..<slash])
        return head.isEmpty ? "/" : head
    }

    /// The last component of `path`.
    public static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}

/// A file-system call failed: which call, on which path, and errno.
public struct FileSystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation; self.path = path; self.errno = errno
    }

    /// `strerror`'s words for ``errno``.
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String { "\(path): \(operation) failed: \(reason) (errno \(errno))" }
}
