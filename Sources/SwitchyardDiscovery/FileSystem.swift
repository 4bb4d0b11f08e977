import Glibc
import SwitchyardFiles

/// The few file-system calls publishing needs. Each goes through ``call(_:_:_:)`` (the shared
/// ``DurableFile/call(_:_:_:)``: EINTR retried), whose failure becomes a
/// ``DiscoveryError/system(operation:path:errno:reason:)`` naming the call and the path.
enum FileSystem {
    @discardableResult
    static func call(_ operation: String, _ path: String, _ body: () -> Int32) throws(DiscoveryError) -> Int32 {
        do { return try DurableFile.call(operation, path, body) } catch { throw DiscoveryError(error) }
    }

    /// The file's bytes as text, or `nil` when it does not exist.
    static func read(_ path: String) throws(DiscoveryError) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            throw .system(operation: "open", path: path, errno: code, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try call("read", path) { Int32(buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }) }
            if count == 0 { break }
            bytes += buffer[0..<Int(count)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Replaces `path` with `text` so that a reader sees the old file or the new one, never a
    /// mix or an empty file (``DurableFile/replace(_:with:permissions:)``: temporary dot-file,
    /// fsync, rename, fsync of the directory). World-readable whatever the umask: the clients
    /// that load it run as other users.
    static func writeAtomically(_ text: String, to path: String) throws(DiscoveryError) {
        do { try DurableFile.replace(path, with: Array(text.utf8), permissions: 0o644) } catch { throw DiscoveryError(error) }
    }

    static func remove(_ path: String) throws(DiscoveryError) {
        do { try DurableFile.remove(path) } catch { throw DiscoveryError(error) }
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) throws(DiscoveryError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            var info = stat()
            if stat(current, &info) == 0 {
                if (info.st_mode & S_IFMT) != S_IFDIR {
                    throw .system(operation: "mkdir", path: current, errno: ENOTDIR, reason: String(cString: strerror(ENOTDIR)))
                }
                continue
            }
            let result = mkdir(current, 0o755)
            if result < 0, errno != EEXIST {
                let code = errno
                throw .system(operation: "mkdir", path: current, errno: code, reason: String(cString: strerror(code)))
            }
        }
    }

    /// Names of the regular `*.yaml` files directly in `directory` (not dot-files), sorted.
    static func yamlFiles(in directory: String) throws(DiscoveryError) -> [String] {
        guard let dir = opendir(directory) else {
            let code = errno
            if code == ENOENT { return [] }
            throw .system(operation: "opendir", path: directory, errno: code, reason: String(cString: strerror(code)))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".yaml"), !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }
}

extension DiscoveryError {
    /// A failed file-system call, as publishing reports it.
    init(_ error: FileSystemError) {
        self = .system(operation: error.operation, path: error.path, errno: error.errno, reason: error.reason)
    }
}
