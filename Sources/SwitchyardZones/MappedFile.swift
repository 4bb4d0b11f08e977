import Glibc

/// A file's bytes mapped read-only. A zone file is read front to back (hashed, then parsed)
/// while a reload also holds the zone being replaced: `release(upTo:)` hands the pages already
/// read back, so the file never sits in memory whole (a million-name file is about 40 MB).
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private var released = 0

    /// Nil when the file cannot be opened or mapped.
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }

    /// Starts another pass from the front: pages read again are mapped back, and
    /// `release(upTo:)` gives them back again.
    func rewind() { released = 0 }

    /// Drops the pages wholly before `offset` from this process (the kernel's page cache
    /// keeps them; reading them again maps them back). Only pages past the last release in
    /// this pass are touched.
    func release(upTo offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let end = min(offset, bytes.count) / page * page
        guard end > released else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + released), end - released, MADV_DONTNEED)
        released = end
    }
}
