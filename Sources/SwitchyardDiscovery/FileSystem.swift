import Glibc

/// The few file-system calls publishing needs. Each goes through ``call(_:_:_:)``, which
/// retries EINTR and turns a failure into a ``DiscoveryError/system(operation:path:errno:reason:)``
/// naming the call and the path.
enum FileSystem {
    @discardableResult
    static func call(_ operation: String, _ path: String, _ body: () -> Int32) throws(DiscoveryError) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw .system(operation: operation, path: path, errno: code, reason: String(cString: strerror(code)))
        }
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
    /// mix or an empty file: write a temporary file in the same directory (rename is atomic only
    /// within one file system), fsync it, rename it over the target, then fsync the directory so
    /// the rename itself survives a crash.
    static func writeAtomically(_ text: String, to path: String) throws(DiscoveryError) {
        let directory = parent(of: path)
        // A dot-file: kafka-utils globs `*.yaml`, which skips it even if a crash leaves it behind.
        let temporary = "\(directory)/.\(baseName(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try call("open", temporary) { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        do {
            var bytes = Array(text.utf8)
            var written = 0
            while written < bytes.count {
                let count = try call("write", temporary) {
                    Int32(bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + written, $0.count - written) })
                }
                written += Int(count)
            }
            bytes.removeAll()
            // The umask must not make the file unreadable to the clients that load it.
            try call("fchmod", temporary) { fchmod(fd, 0o644) }
            try call("fsync", temporary) { fsync(fd) }
            try call("close", temporary) { close(fd) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        do {
            try call("rename", path) { rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw error
        }
        try syncDirectory(directory)
    }

    static func remove(_ path: String) throws(DiscoveryError) {
        try call("unlink", path) { unlink(path) }
        try syncDirectory(parent(of: path))
    }

    static func syncDirectory(_ directory: String) throws(DiscoveryError) {
        let fd = try call("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try call("fsync", directory) { fsync(fd) }
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

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let head = String(path[..<slash])
        return head.isEmpty ? "/" : head
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
