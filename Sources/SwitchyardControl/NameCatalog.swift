import SwitchyardInventory

/// What the inventories declare about every stable name, looked up by absolute name.
///
/// Shifts and plans both need "which pools may this name use, and what is its TTL when no
/// override is set"; this is the one place that answers it.
struct NameCatalog {
    /// One stable name as declared.
    enum Entry {
        /// `broker-<id>.<cluster>.<origin>`: exclusive, one target per pool.
        case broker(Cluster, Broker)
        /// `bootstrap.<cluster>.<origin>`: weighted; implicit pools hold the brokers living there.
        case bootstrap(Cluster)
        /// A `names:` entry: weighted, explicit targets.
        case weighted(WeightedName)

        /// The TTL served when the state has no override for the name.
        var declaredTTL: UInt32 {
            switch self {
            case .broker(let cluster, _): return cluster.ttl
            case .bootstrap(let cluster): return cluster.bootstrap.ttl
            case .weighted(let name): return name.set.ttl
            }
        }

        /// Pools the name may use, in declared order.
        var pools: [String] {
            switch self {
            case .broker(let cluster, let broker): return cluster.pools.filter { broker.targets[$0] != nil }
            case .bootstrap(let cluster): return cluster.bootstrap.pools.map(\.name)
            case .weighted(let name): return name.set.pools.map(\.name)
            }
        }
    }

    var entries: [String: Entry] = [:]
    var origins: [String] = []
    var clusters: [String: Cluster] = [:]

    init(_ inventories: [Inventory]) {
        for inventory in inventories {
            origins.append(inventory.origin)
            for cluster in inventory.clusters {
                clusters[cluster.name] = cluster
                for broker in cluster.brokers { entries[cluster.brokerName(broker.id)] = .broker(cluster, broker) }
                entries[cluster.bootstrapName] = .bootstrap(cluster)
            }
            for name in inventory.names { entries[name.name] = .weighted(name) }
        }
    }

    /// The absolute name `text` stands for: as given when it ends with a dot, else relative to
    /// each origin in turn. `nil` when nothing declared matches.
    func resolve(_ text: String) -> String? {
        let lower = text.lowercased()
        if lower.hasSuffix(".") { return entries[lower] == nil ? nil : lower }
        for origin in origins where entries[lower + "." + origin] != nil { return lower + "." + origin }
        return nil
    }

    /// Declared weighted names (bootstraps and `names:` entries), sorted.
    var weightedNames: [String] {
        entries.compactMap { key, entry in
            if case .broker = entry { return nil }
            return key
        }.sorted()
    }

    /// The TTL a name is served with in `state`.
    func effectiveTTL(of name: String, in state: ServingState) -> UInt32 {
        state.servedTTL(of: name) ?? entries[name]?.declaredTTL ?? 0
    }
}
