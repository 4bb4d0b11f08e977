import CNetShim
import Foundation
import SwitchyardCore
import SwitchyardInventory

/// Loads every `*.zone` file of a directory into validated zones. Nothing is returned
/// unless every file is valid, so a caller can keep serving its last good snapshot.
public enum ZoneLoader {
    /// The origin a file name implies: `kafka.example.zone` → `kafka.example.`.
    public static func origin(forFileName name: String) -> DomainName? {
        guard name.hasSuffix(".zone") else { return nil }
        let stem = String(name.dropLast(".zone".count))
        return stem.isEmpty ? nil : DomainName(stem.hasSuffix(".") ? stem : stem + ".")
    }

    /// Paths of the zone files in `directory`, sorted.
    public static func zoneFiles(in directory: String) throws(ZoneProblems) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ZoneProblems([ZoneProblem(file: directory, line: 0, message: unreadableDirectory(directory))])
        }
        let files = names.filter { $0.hasSuffix(".zone") }.sorted()
        if files.isEmpty {
            throw ZoneProblems([ZoneProblem(file: directory, line: 0,
                                            message: "no *.zone files found: --zones names the directory holding <origin>zone files (and their <origin>yaml inventories)")])
        }
        return files.map { (directory as NSString).appendingPathComponent($0) }
    }

    /// Why `directory` cannot be listed, in words (Foundation's own error says only "The
    /// operation could not be completed"), and what to do.
    static func unreadableDirectory(_ directory: String) -> String {
        var isDirectory: ObjCBool = false
        let what: String
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            what = "no such directory"
        } else if !isDirectory.boolValue {
            what = "this is a file, not a directory"
        } else if let handle = opendir(directory) {
            closedir(handle)
            what = "it could not be listed"
        } else {
            let code = errno
            what = "\(String(cString: strerror(code))) (errno \(code))"
        }
        return "cannot read the zones directory: \(what); --zones names the directory holding <origin>zone files (default: zones)"
    }

    /// Everything a zones directory configures: the snapshot to serve, the inventories
    /// behind its stable names, and the endpoints to health-check.
    public struct Configuration: Sendable {
        public var snapshot: Snapshot
        public var inventories: [Inventory]
        public var healthChecks: [HealthKey: HealthCheck]
        /// Per zone, the fingerprint of the bytes of the file it was built from: a zone file
        /// edited without a new serial still tells itself apart (the local copy checks it).
        public var fileFingerprints: [DomainName: ContentFingerprint] = [:]
        /// Per inventory loaded, by file name (`<origin>yaml`): the bytes parsed, so what the
        /// server records about its inventories (the local copy's digest, the fleet's data
        /// identity) describes the data served, not the file as it is when asked later.
        public var inventoryFiles: [String: [UInt8]] = [:]
        /// Per zone that has an inventory, the fingerprint of the inventory's bytes.
        public var inventoryFingerprints: [DomainName: ContentFingerprint] = [:]

        /// What is valid but probably not meant, one message each naming its file (an
        /// inventory that declares nothing); `check` prints them, `serve` logs them.
        public var warnings: [String] { inventories.compactMap(\.declaresNothingWarning) }
    }

    /// Reads and validates one zone file (without its inventory).
    public static func loadZone(path: String) -> Result<Zone, ZoneProblems> {
        switch readZoneFile(path: path) {
        case .failure(let problems): return .failure(problems)
        case .success(let file):
            var file = file
            return ZoneBuilder.build(origin: file.origin, records: &file.records, source: path)
        }
    }

    private struct ZoneFile {
        var path: String
        var origin: DomainName
        var records: ZoneRecords
        var fingerprint: ContentFingerprint
        /// The zone built from these same bytes by the previous load (records then empty).
        var reused: ZoneReuse.Built?
    }

    private static func readZoneFile(path: String, previous: ZoneReuse.Built? = nil) -> Result<ZoneFile, ZoneProblems> {
        let fileName = (path as NSString).lastPathComponent
        guard let fileOrigin = origin(forFileName: fileName) else {
            return .failure(ZoneProblems([ZoneProblem(file: path, line: 0, message: "cannot derive a zone origin from the file name; name it <origin>zone, e.g. example.com.zone")]))
        }
        guard let file = MappedFile(path: path) else {
            return .failure(ZoneProblems([ZoneProblem(file: path, line: 0, message: "cannot read the file")]))
        }
        // Pages are given back as they are hashed: an unchanged file never sits in memory whole.
        let fingerprint = ContentFingerprint(file.bytes, consumed: file.release(upTo:))
        if let previous, previous.fingerprint == fingerprint {
            return .success(ZoneFile(path: path, origin: previous.zone.origin, records: ZoneRecords(), fingerprint: fingerprint, reused: previous))
        }
        // Parsing reads the pages again; without the rewind they would stay mapped to the end.
        file.rewind()
        return parse(file.bytes, origin: fileOrigin, path: path, consumed: file.release(upTo:))
            .map { ZoneFile(path: path, origin: $0.origin, records: $0.records, fingerprint: fingerprint) }
    }

    /// Parses master-file text already in memory, as if read from `path` (which only appears in
    /// messages): the records and the zone's apex (the SOA's owner when there is one,
    /// otherwise `origin`). The fuzzer and tests enter here; files go through `loadZone(path:)`.
    public static func parseZoneFile(contents: [UInt8], origin: DomainName, path: String)
        -> Result<(origin: DomainName, records: [ResourceRecord]), ZoneProblems> {
        contents.withUnsafeBytes { parse($0, origin: origin, path: path) }.map { ($0.origin, $0.records.records) }
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, origin: DomainName, path: String,
                              consumed: (Int) -> Void = { _ in })
        -> Result<(origin: DomainName, records: ZoneRecords), ZoneProblems> {
        let parsed = ZoneFileParser.parse(bytes: bytes, origin: origin, path: path, consumed: consumed)
        guard parsed.problems.isEmpty else { return .failure(ZoneProblems(parsed.problems)) }
        return .success((parsed.records.firstOwner(of: .soa) ?? origin, parsed.records))
    }

    /// Owner names of a zone file's records, lowercase, for the inventory's checks.
    private static func ownerNames(of file: ZoneFile) -> Set<String> {
        if let zone = file.reused?.zone {
            return Set(zone.nodes.filter(\.hasRecords).map { $0.name.description.lowercased() })
        }
        return file.records.ownerNames
    }

    /// Loads every zone of `directory` with the inventory beside it (`<origin>yaml`) and
    /// builds a snapshot, or reports every problem of every file.
    public static func load(directory: String) throws(ZoneProblems) -> Configuration {
        // A zone's arrays are a few large blocks: mapped on their own, a replaced zone's
        // memory goes back to the system when it is freed (see sy_malloc_map_large).
        _ = sy_malloc_map_large()
        let (zones, inventories, specs, built, inventoryFiles) = try loadZones(directory: directory)
        // The parsed records are gone now; hand their pages back before the snapshot is
        // built, or a reload would hold the old data, the new data and this garbage at once.
        _ = sy_malloc_trim()
        var checks: [HealthKey: HealthCheck] = [:]
        for inventory in inventories { checks.merge(inventory.healthChecks) { first, _ in first } }
        let snapshot: Snapshot
        do throws(ZoneProblem) {
            // Every zone as loaded before: the prepared answers carry over as well.
            if let previous = ZoneReuse.shared.snapshot(directory: directory), previous.zones.count == zones.count,
               zip(previous.zones, zones).allSatisfy({ $0 === $1 }), previous.stableNames.map(\.name) == specs.map(\.name) {
                snapshot = try previous.updating(stableNames: specs)
            } else {
                snapshot = try Snapshot(zones: zones, stableNames: specs)
            }
        } catch {
            throw ZoneProblems([error])
        }
        ZoneReuse.shared.remember(directory: directory, files: built, snapshot: snapshot)
        let fingerprints = Dictionary(built.values.map { ($0.zone.origin, $0.fingerprint) }, uniquingKeysWith: { first, _ in first })
        var loaded = Configuration(snapshot: snapshot, inventories: inventories, healthChecks: checks, fileFingerprints: fingerprints)
        for file in inventoryFiles {
            loaded.inventoryFiles[file.name] = file.bytes
            loaded.inventoryFingerprints[file.origin] = file.bytes.withUnsafeBytes { ContentFingerprint($0) }
        }
        return loaded
    }

    /// One inventory's bytes as parsed, with its file name and its zone's origin.
    private typealias InventoryFile = (name: String, origin: DomainName, bytes: [UInt8])

    private static func loadZones(directory: String) throws(ZoneProblems)
        -> ([Zone], [Inventory], [StableNameSpec], [String: ZoneReuse.Built], [InventoryFile]) {
        let files = try zoneFiles(in: directory)
        var problems: [ZoneProblem] = []
        var zoneFiles: [ZoneFile] = []
        var inventories: [Inventory] = []
        var inventoryFiles: [InventoryFile] = []
        for path in files {
            switch readZoneFile(path: path, previous: ZoneReuse.shared.built(directory: directory, path: path)) {
            case .failure(let found): problems += found.problems
            case .success(let file):
                zoneFiles.append(file)
                let inventoryPath = String(path.dropLast("zone".count)) + "yaml"
                guard FileManager.default.fileExists(atPath: inventoryPath) else { continue }
                // Read once: the bytes parsed are the bytes fingerprinted.
                let contents = FileManager.default.contents(atPath: inventoryPath)
                switch InventoryLoader.load(path: inventoryPath, contents: contents, origin: file.origin.description.lowercased(),
                                            zoneOwnerNames: ownerNames(of: file)) {
                case .success(let inventory):
                    inventories.append(inventory)
                    inventoryFiles.append(((inventoryPath as NSString).lastPathComponent, file.origin, Array(contents ?? Data())))
                case .failure(let errors):
                    problems += errors.errors.map { ZoneProblem(file: $0.path, line: $0.line, message: "\($0.field): \($0.message)") }
                }
            }
        }
        problems += declaredTwice(by: inventories)
        guard problems.isEmpty else { throw ZoneProblems(problems) }

        let specs = stableNames(of: inventories, applying: .none)
        let placed = place(specs, in: zoneFiles.map(\.origin), declaredBy: inventories)
        var zones: [Zone] = []
        var built: [String: ZoneReuse.Built] = [:]
        for index in zoneFiles.indices {
            if let reused = zoneFiles[index].reused {
                if reused.stableNodes == placed[index] {
                    zones.append(reused.zone)
                    built[zoneFiles[index].path] = reused
                    continue
                }
                // Same file, other stable names (the inventory changed): parse it again.
                switch readZoneFile(path: zoneFiles[index].path) {
                case .success(let file): zoneFiles[index] = file
                case .failure(let found): problems += found.problems; continue
                }
            }
            // Built in place: the zone takes over the records' storage. No other copy of the
            // records may be alive here, or the builder's first write would copy them all.
            let (path, origin, fingerprint) = (zoneFiles[index].path, zoneFiles[index].origin, zoneFiles[index].fingerprint)
            switch ZoneBuilder.build(origin: origin, records: &zoneFiles[index].records, source: path, stableNames: placed[index]) {
            case .success(let zone):
                zones.append(zone)
                built[path] = ZoneReuse.Built(fingerprint: fingerprint, stableNodes: placed[index], zone: zone)
            case .failure(let found): problems += found.problems
            }
            // Each file's records go as soon as its zone is built.
            zoneFiles[index].records = ZoneRecords()
        }
        guard problems.isEmpty else { throw ZoneProblems(problems) }
        return (zones, inventories, specs, built, inventoryFiles)
    }

    /// With nested zones, a parent's inventory may declare a name inside the child, which the
    /// child's inventory may declare too: one name, two answers. Each inventory checks itself;
    /// this checks across them.
    static func declaredTwice(by inventories: [Inventory]) -> [ZoneProblem] {
        var first: [String: (path: String, declaration: Inventory.Declaration)] = [:]
        var problems: [ZoneProblem] = []
        for inventory in inventories {
            for (name, declaration) in inventory.declarations.sorted(by: { $0.value.line < $1.value.line }) {
                if let earlier = first[name] {
                    problems.append(ZoneProblem(file: inventory.sourcePath, line: declaration.line, message:
                        "\(declaration.field): stable name \(name) is also declared in \(earlier.path):\(earlier.declaration.line) (\(earlier.declaration.field)); declare it in one inventory only"))
                } else {
                    first[name] = (inventory.sourcePath, declaration)
                }
            }
        }
        return problems
    }

    /// Puts each stable name into the deepest served zone that contains it, as lookup finds
    /// it: with `example.` and `kafka.example.` both served, `bootstrap.orders.kafka.example.`
    /// is the child's. Each node carries the inventory line that declares it, for messages.
    static func place(_ specs: [StableNameSpec], in origins: [DomainName], declaredBy inventories: [Inventory]) -> [[StableNode]] {
        var placed = Array(repeating: [StableNode](), count: origins.count)
        for (index, spec) in specs.enumerated() {
            let deepest = origins.indices
                .filter { spec.name.isSubdomain(of: origins[$0]) }
                .max { origins[$0].labelCount < origins[$1].labelCount }
            guard let deepest else { continue }
            let key = spec.name.description.lowercased()
            var node = StableNode(name: spec.name, index: index)
            if let inventory = inventories.first(where: { $0.declarations[key] != nil }), let declared = inventory.declarations[key] {
                node.file = inventory.sourcePath; node.line = declared.line; node.field = declared.field
            }
            placed[deepest].append(node)
        }
        return placed
    }

    /// The stable names of all inventories in snapshot order, with overrides applied.
    public static func stableNames(of inventories: [Inventory], applying overrides: StableOverrides) -> [StableNameSpec] {
        inventories.flatMap { $0.stableNames(applying: overrides) }.sorted { $0.name.description < $1.name.description }
    }
}
