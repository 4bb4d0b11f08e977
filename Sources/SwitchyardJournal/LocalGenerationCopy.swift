import Foundation
import SwitchyardControl
import SwitchyardFiles

/// The last generation a server of a PostgreSQL fleet served, kept on its own disk. A server
/// that (re)starts while the database is unreachable serves it instead of staying down; the
/// database stays the source of truth, so the copy is never served once it answers.
public struct LocalGenerationCopy: Codable, Equatable, Sendable {
    /// The file inside `--cache-dir`.
    public static let fileName = "last-generation.json"
    public static let currentFormat = 1

    /// What a generation was served with. A copy is served only with the same journal, zones
    /// directory, zone files (serials and bytes) and inventory files: other files would give
    /// other answers under the same serials, and only the journal may make a generation for them.
    public struct ServedWith: Codable, Equatable, Sendable {
        /// The journal's URL without its password.
        public var journal: String
        public var zonesDirectory: String
        /// The serial each zone file declares, per origin (not the served one).
        public var fileSerials: [String: UInt32]
        /// ``LocalGenerationCopy/inventoryDigest(files:)`` of the inventories loaded.
        public var inventoryDigest: String
        /// Per origin, the zone file's content fingerprint (`<size>:<hash>`, the one reloads use
        /// to reuse an unchanged zone): a file edited without a new serial is another file.
        ///
        /// Nil in a copy written before fingerprints were recorded (the same format otherwise,
        /// so the field is optional rather than a new format an older switchyard would refuse).
        /// Such a copy is matched by serial only, with a warning (``matchesBySerialOnly``),
        /// rather than refused: the switchyard that wrote it matched it so, the first
        /// generation this one serves rewrites it with fingerprints, so only a start during an
        /// outage right after the upgrade meets one, and refusing would take this server's DNS
        /// down for exactly the outage the copy is for. Serials, inventories, zones directory
        /// and database are still checked.
        public var fileFingerprints: [String: String]?

        public init(journal: String, zonesDirectory: String, fileSerials: [String: UInt32], inventoryDigest: String,
                    fileFingerprints: [String: String]? = nil) {
            self.journal = journal; self.zonesDirectory = zonesDirectory
            self.fileSerials = fileSerials; self.inventoryDigest = inventoryDigest
            self.fileFingerprints = fileFingerprints
        }

        /// A copy from before fingerprints: its zone files can be compared by serial only.
        public var matchesBySerialOnly: Bool { fileFingerprints == nil }

        /// Why a copy made with `self` must not be served with `current`; nil when it may.
        public func mismatch(with current: ServedWith) -> String? {
            if journal != current.journal { return "it was copied from the journal \(journal), not \(current.journal)" }
            if zonesDirectory != current.zonesDirectory { return "it was served with the zones directory \(zonesDirectory), not \(current.zonesDirectory)" }
            if fileSerials != current.fileSerials {
                return "the zone files' serials changed since (then \(Self.describe(fileSerials)), now \(Self.describe(current.fileSerials)))"
            }
            if let then = fileFingerprints, let now = current.fileFingerprints, then != now {
                let edited = Set(then.keys).union(now.keys).filter { then[$0] != now[$0] }.sorted()
                return "the zone file of \(edited.joined(separator: ", ")) changed since under the same serial (its bytes differ from the file the copy was served with; an edited zone file needs a new serial)"
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

    /// Replaces the file at `path` so that a crash leaves the old copy or the new one
    /// (``DurableFile/replace(_:with:permissions:)``: temporary file, fsync, rename, fsync of
    /// the directory). Readable by this user only. Creates the directory when missing.
    public func write(to path: String) throws(LocalGenerationCopyError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .secondsSince1970
        let bytes: [UInt8]
        do { bytes = Array(try encoder.encode(self)) } catch { throw .init(path: path, detail: "cannot encode: \(error)") }
        let directory = DurableFile.parent(of: path)
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .init(path: path, detail: "cannot create \(directory): \(error.localizedDescription)")
        }
        do { try DurableFile.replace(path, with: bytes, permissions: 0o600) } catch {
            throw .init(path: path, detail: "cannot be written: \(error.operation) \(error.path): \(SystemErrno.describe(error.errno))")
        }
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

    /// A digest of the inventory files loaded (`files`: file name → the bytes parsed), by name
    /// and bytes in name order: FNV-1a, 64 bits, the same in every process (Swift's `Hasher`
    /// is not). Made from the bytes the loader read, not by reading the files again, which
    /// could see an edit made after the load (a digest of data not served). The same value
    /// earlier versions computed from the directory's `*.yaml` files, so copies they wrote
    /// still fit (unless the directory holds a `*.yaml` beside no zone file: never loaded,
    /// it no longer counts).
    public static func inventoryDigest(files: [String: [UInt8]]) -> String {
        var hash = FNV1a()
        for name in files.keys.sorted() {
            hash.mix(field: name)
            hash.mix(files[name]!)
            hash.mix(CollectionOfOne(0))
        }
        return hash.hex
    }
}

/// The local copy could not be written or read: which file, and what went wrong.
public struct LocalGenerationCopyError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var detail: String
    public var description: String { "\(path): the local copy of the last generation \(detail)" }
}
