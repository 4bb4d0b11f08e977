import Yams

/// One pass over one inventory document: walks the YAML nodes, builds the model and collects
/// every problem with its line and dotted field path.
final class InventoryReader {
    let path: String
    let origin: String
    let zoneOwnerNames: Set<String>
    private(set) var errors: [InventoryError] = []

    /// Every stable name declared so far, for collision checks at the end.
    var stableNames: [StableNameUse] = []
    /// The cluster marked `discovery.local` per discovery type, with its line.
    var localClusterByType: [String: (cluster: String, line: Int)] = [:]

    struct StableNameUse {
        var name: String
        var line: Int
        var field: String
        var what: String
    }

    init(path: String, origin: String, zoneOwnerNames: Set<String>) {
        self.path = path
        self.origin = origin
        self.zoneOwnerNames = Set(zoneOwnerNames.map { InventoryLoader.normalizedOrigin($0) })
    }

    func report(_ line: Int, _ field: String, _ message: String) {
        errors.append(InventoryError(path: path, line: line, field: field, message: message))
    }

    static let topKeys = ["ttl", "clusters", "names"]

    func read(_ text: String) -> Inventory? {
        guard let composed = compose(text) else { return nil }
        guard let root = composed else {
            // No YAML document at all: an emptied or truncated file (a deploy that wrote
            // nothing, `> file`) far more often than a wish. Served, it would take every stable
            // name of the zone away at once (NXDOMAIN for clients); refused, a reload keeps the
            // last good data serving. A zone without stable names needs no inventory file, and
            // one written on purpose says so with `clusters: {}` (then only a warning).
            report(1, "(document)", "the inventory is empty (no clusters:, no names:, only blank lines or comments), so zone \(origin) "
                   + "would serve no stable names: declare clusters: or names:, write `clusters: {}` if it is meant to declare nothing yet, "
                   + "or delete the file if the zone has no stable names")
            return nil
        }
        guard let top = entries(root, field: "(document)", ownerLine: 1) else { return nil }
        checkKeys(top, allowed: Self.topKeys, field: "")

        var defaultTTL = InventoryLoader.defaultTTL
        if let entry = top["ttl"], let ttl = ttl(entry, field: "ttl") { defaultTTL = ttl }

        var clusters: [Cluster] = []
        if let entry = top["clusters"], let list = entries(entry.value, field: "clusters", ownerLine: entry.line) {
            for clusterEntry in list.list {
                if let cluster = readCluster(clusterEntry, defaultTTL: defaultTTL) { clusters.append(cluster) }
            }
        }

        var names: [WeightedName] = []
        if let entry = top["names"], let list = entries(entry.value, field: "names", ownerLine: entry.line) {
            for nameEntry in list.list {
                if let name = readName(nameEntry, defaultTTL: defaultTTL) { names.append(name) }
            }
        }
        checkCollisions()

        return Inventory(
            origin: origin, sourcePath: path, defaultTTL: defaultTTL,
            clusters: clusters.sorted { $0.name < $1.name },
            names: names.sorted { $0.name < $1.name },
            declarations: stableNames.reduce(into: [:]) { found, use in
                if found[use.name] == nil { found[use.name] = Inventory.Declaration(line: use.line, field: use.field) }
            })
    }

    /// Stable names must be unique and must not also be records of the zone file.
    private func checkCollisions() {
        var seen: [String: StableNameUse] = [:]
        for use in stableNames {
            if zoneOwnerNames.contains(use.name) {
                report(use.line, use.field,
                       "\(use.what) \(use.name) is also an owner name in the zone file: remove those records from the zone or rename the stable name")
            }
            if let first = seen[use.name] {
                report(use.line, use.field,
                       "\(use.what) \(use.name) is already declared as \(first.what) (\(first.field), line \(first.line)): give it another name")
            } else {
                seen[use.name] = use
            }
        }
    }
}
