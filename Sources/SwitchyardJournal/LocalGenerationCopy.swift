import Foundation
import Glibc
import SwitchyardControl

/// The last generation a server of a PostgreSQL fleet served, kept on its own disk. A server
/// that (re)starts while the database is unreachable serves it instead of staying down; the
/// database stays the source of truth, so the copy is never served once it answers.
public struct LocalGenerationCopy: Codable, Equatable, Sendable {
    /// The file inside `--cache-dir`.
    public static let fileName = "last-generation.json"
    public static let currentFormat = 1

    /// What a generation was served with. A copy is served only with the same journal, zones
    /// directory, zone-file serials and inventory files: other files would give other answers
    /// under the same serials, and only the journal may make a generation for them.
    public struct ServedWith: Codable, Equatable, Sendable {
        /// The journal's URL without its password.
        public var journal: String
        public var zonesDirectory: String
        /// The serial each zone file declares, per origin (not the served one).
        public var fileSerials: [String: UInt32]
        /// ``LocalGenerationCopy/inventoryDigest(zonesDirectory:)`` of the inventories loaded.
        public var inventoryDigest: String

        public init(journal: String, zonesDirectory: String, fileSerials: [String: UInt32], inventoryDigest: String) {
            self.journal = journal; self.zonesDirectory = zonesDirectory
            self.fileSerials = fileSerials; self.inventoryDigest = inventoryDigest
        }

        /// Why a copy made with `self` must not be served with `current`; nil when it may.
        public func mismatch(with current: ServedWith) -> String? {
            if journal != current.journal { return "it was copied from the journal \(journal), not \(current.journal)" }
            if zonesDirectory != current.zonesDirectory { return "it was served with the zones directory \(zonesDirectory), not \(current.zonesDirectory)" }
            if fileSerials != current.fileSerials {
                return "the zone files' serials changed since (then \(Self.describe(fileSerials)), now \(Self.describe(current.fileSerials)))"
            }
            if inventoryDigest != current.inventoryDigest { return "an inventory (*.yaml) in \(current.zonesDirectory) changed since" }
            return nil
        }

        private static func describe(_ serials: [String: UInt32]) -> String {
            serials.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }

    public var format: Int
    public var servedWith: ServedWith
    public var generation: Generation
    public var writtenAt: Date

    public init(servedWith: ServedWith, generation: Generation, writtenAt: Date) {
        self.format = Self.currentFormat
        self.servedWith = servedWith
        self.generation = generation
        self.writtenAt = writtenAt
    }

    /// Replaces the file at `path` so that a crash leaves the old copy or the new one: a
    /// temporary file beside it, fsynced, renamed over it, then the directory fsynced (the
    /// rename itself must survive a power loss). Creates the directory when missing.
    public func write(to path: String) throws(LocalGenerationCopyError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .secondsSince1970
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(self)) } catch { throw .init(path: path, detail: "cannot encode: \(error)") }
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .init(path: path, detail: "cannot create \(directory): \(error.localizedDescription)")
        }
        let temporary = "\(path).tmp-\(getpid())"
        let fd = try Self.call("open", temporary) { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        do throws(LocalGenerationCopyError) {
            var written = 0
            while written < bytes.count {
                written += Int(try Self.call("write", temporary) {
                    Int32(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) })
                })
            }
            _ = try Self.call("fsync", temporary) { fsync(fd) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        do throws(LocalGenerationCopyError) { _ = try Self.call("rename", path) { rename(temporary, path) } } catch { unlink(temporary); throw error }
        let directoryFD = try Self.call("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(directoryFD) }
        _ = try Self.call("fsync", directory) { fsync(directoryFD) }
    }

    /// The copy at `path`, or nil when there is none. A file that does not decode (damaged,
    /// or written by another version) is an error naming it, never silently served.
    public static func read(from path: String) throws(LocalGenerationCopyError) -> LocalGenerationCopy? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) { throw .init(path: path, detail: "cannot be read") }
            return nil
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let copy: LocalGenerationCopy
        do { copy = try decoder.decode(LocalGenerationCopy.self, from: data) } catch {
            throw .init(path: path, detail: "does not decode (\(error)); delete it, it is rewritten at the next generation served")
        }
        guard copy.format == currentFormat else {
            throw .init(path: path, detail: "format \(copy.format), this switchyard reads \(currentFormat)")
        }
        return copy
    }

    /// A digest of every inventory file (`*.yaml`, by name and bytes, in name order) in
    /// `zonesDirectory`: FNV-1a, 64 bits, the same in every process (Swift's `Hasher` is not).
    public static func inventoryDigest(zonesDirectory: String) -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: zonesDirectory)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        for name in names {
            mix(name.utf8)
            mix([0])
            mix(FileManager.default.contents(atPath: (zonesDirectory as NSString).appendingPathComponent(name)) ?? Data())
            mix([0])
        }
        return String(hash, radix: 16)
    }

    private static func call(_ operation: String, _ path: String, _ body: () -> Int32) throws(LocalGenerationCopyError) -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw .init(path: path, detail: "\(operation): \(SystemErrno.describe(code))")
        }
    }
}

/// The local copy could not be written or read: which file, and what went wrong.
public struct LocalGenerationCopyError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var detail: String
    public var description: String { "\(path): the local copy of the last generation \(detail)" }
}
