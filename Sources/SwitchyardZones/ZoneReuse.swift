import Foundation
import SwitchyardCore

/// What the last load of each zones directory built, so that a reload rebuilds only the
/// files that changed: an unchanged zone keeps its `Zone` (no parse, no second copy in
/// memory while the old one serves), and when every zone is unchanged the snapshot's
/// prepared answers carry over too. A file counts as unchanged when its bytes hash the same.
final class ZoneReuse: @unchecked Sendable {
    static let shared = ZoneReuse()

    struct Built {
        var fingerprint: ContentFingerprint
        var stableNodes: [StableNode]
        var zone: Zone
    }

    private struct Directory {
        var files: [String: Built] = [:]
        /// The snapshot made from exactly these zones (no health state, file serials).
        var snapshot: Snapshot?
    }

    private let lock = NSLock()
    private var directories: [String: Directory] = [:]

    func built(directory: String, path: String) -> Built? {
        lock.withLock { directories[directory]?.files[path] }
    }

    func snapshot(directory: String) -> Snapshot? {
        lock.withLock { directories[directory]?.snapshot }
    }

    /// Replaces what is remembered for `directory` (files no longer there are forgotten).
    func remember(directory: String, files: [String: Built], snapshot: Snapshot) {
        lock.withLock { directories[directory] = Directory(files: files, snapshot: snapshot) }
    }
}

/// Size and a 64-bit hash of a file's bytes: enough to tell an edited zone file from the
/// one loaded before (the operator writes these files; no adversary picks collisions). The
/// same bytes give the same fingerprint in every process (no per-process seed, as Swift's
/// `Hasher` has), so a fleet member's local copy can record the zone files it was served with.
public struct ContentFingerprint: Equatable, Sendable, CustomStringConvertible {
    public var size: Int
    public var hash: UInt64

    /// `<size>:<hash in hex>`, as the local copy of the last generation records it.
    public var description: String { "\(size):\(String(hash, radix: 16))" }

    /// Hashes `bytes` front to back; `consumed` is told after each 4 MiB how far it has got,
    /// so that a mapped file's pages can be given back as they are hashed.
    init(_ bytes: UnsafeRawBufferPointer, consumed: (Int) -> Void = { _ in }) {
        size = bytes.count
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15
        var offset = 0
        let chunk = 4 << 20
        while offset + 8 <= bytes.count {
            // A whole number of words per chunk: the hash is the same as in one pass.
            let chunkEnd = min(offset + chunk, bytes.count - (bytes.count - offset) % 8)
            while offset < chunkEnd {
                let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                hash = (hash ^ word) &* 0x1000_0000_01B3
                hash ^= hash >> 29
                offset += 8
            }
            consumed(offset)
        }
        while offset < bytes.count {
            hash = (hash ^ UInt64(bytes[offset])) &* 0x1000_0000_01B3
            offset += 1
        }
        consumed(offset)
        self.hash = hash
    }
}
