import SwitchyardInventory

/// One manual change to the serving state (`switchyard shift ...`).
///
/// JSON: an object with exactly one of the keys `broker` (`{"cluster", "id", "pool"}`),
/// `weights` (`{"name", "weights": {"<pool>": 0–255}}`) or `ttl` (`{"name", "ttl"?}`). The
/// coding is written out (ShiftRequest+Codable.swift) so that a bad value gets a message naming
/// its field and the allowed range.
public enum ShiftRequest: Codable, Equatable, Sendable {
    /// Flip broker `id` of `cluster` to `pool` (broker names are exclusive: an atomic flip).
    case broker(cluster: String, id: Int, pool: String)
    /// Set the weights of a weighted name: `bootstrap.<cluster>` or a `names:` entry, absolute
    /// or relative to its origin. Pools not listed keep their weights.
    case weights(name: String, weights: [String: UInt8])
    /// Override the TTL of a stable name; `nil` removes the override (back to the inventory's).
    case ttl(name: String, ttl: UInt32?)

    /// Parses `vm=75,pod=25` (the `--weights` option).
    public static func parseWeights(_ text: String) throws(ControlError) -> [String: UInt8] {
        var weights: [String: UInt8] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].trimmingWhitespace.isEmpty else {
                throw ControlError("'\(item)' in --weights \(text) is not POOL=WEIGHT", remedy: "write it like vm=75,pod=25")
            }
            let pool = parts[0].trimmingWhitespace, value = parts[1].trimmingWhitespace
            guard let number = Int(value), (0...255).contains(number) else {
                throw ControlError("weight '\(value)' of pool \(pool) is not a number from 0 to 255", remedy: "use 0 (drained) to 255")
            }
            guard weights[pool] == nil else {
                throw ControlError("pool \(pool) appears twice in --weights \(text)", remedy: "give each pool once")
            }
            weights[pool] = UInt8(number)
        }
        return weights
    }
}

extension Substring {
    var trimmingWhitespace: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// Applies manual shifts: pure functions from a request, the inventories and the current state
/// to the next state, or a ``ControlError`` saying what exists instead.
public enum Shifts {
    /// The largest TTL RFC 2181 §8 allows.
    public static let maxTTL: UInt32 = 0x7fff_ffff

    /// The state after `request`, or why it is refused. The result is a whole state, ready to
    /// commit as a new generation.
    public static func apply(_ request: ShiftRequest, to state: ServingState, inventories: [Inventory]) throws(ControlError) -> ServingState {
        let catalog = NameCatalog(inventories)
        var next = state
        switch request {
        case .broker(let clusterName, let id, let pool):
            let (cluster, broker) = try findBroker(clusterName, id, catalog)
            try flip(cluster: cluster, broker: broker, to: pool, in: &next)

        case .weights(let text, let weights):
            let name = try findName(text, catalog)
            guard !weights.isEmpty else {
                throw ControlError("no weights given for \(name)", remedy: "give --weights like vm=75,pod=25")
            }
            switch catalog.entries[name]! {
            case .broker(let cluster, let broker):
                // Exclusive: accept only the form of a flip (one live pool, the rest drained).
                let live = weights.filter { $0.value > 0 }.map(\.key).sorted()
                guard live.count == 1 else {
                    throw ControlError(
                        "\(name) is a broker name: broker names are exclusive (a Kafka node id lives in one place), so partial weights \(render(weights)) are refused",
                        remedy: "flip it whole with `switchyard shift \(cluster.name) broker-\(broker.id) --to POOL`")
                }
                try flip(cluster: cluster, broker: broker, to: live[0], in: &next)
            case let entry:
                let known = entry.pools
                let unknown = weights.keys.filter { !known.contains($0) }.sorted()
                guard unknown.isEmpty else {
                    throw ControlError("\(name) has no pool \(unknown.spokenList)", remedy: "its pools are \(known.spokenList)")
                }
                var merged = next.weights[name] ?? [:]
                for (pool, weight) in weights { merged[pool] = weight }
                next.weights[name] = merged
            }

        case .ttl(let text, let ttl):
            let name = try findName(text, catalog)
            if let ttl {
                guard ttl <= maxTTL else {
                    throw ControlError("TTL \(ttl) for \(name) is larger than \(maxTTL) (RFC 2181 §8)", remedy: "use a TTL up to \(maxTTL) seconds")
                }
                next.ttls[name] = ttl
            } else {
                next.ttls[name] = nil
            }
        }
        return next
    }

    static func findBroker(_ clusterName: String, _ id: Int, _ catalog: NameCatalog) throws(ControlError) -> (Cluster, Broker) {
        guard let cluster = catalog.clusters[clusterName] else {
            throw ControlError("no cluster named \(clusterName)", remedy: "clusters are \(catalog.clusters.keys.sorted().spokenList)")
        }
        guard let broker = cluster.broker(id) else {
            throw ControlError("cluster \(cluster.name) has no broker \(id)",
                               remedy: "its brokers are \(cluster.brokers.map { String($0.id) }.spokenList)")
        }
        return (cluster, broker)
    }

    static func flip(cluster: Cluster, broker: Broker, to pool: String, in state: inout ServingState) throws(ControlError) {
        guard broker.targets[pool] != nil else {
            let pools = cluster.pools.filter { broker.targets[$0] != nil }
            let exists = cluster.pools.contains(pool) ? "broker \(broker.id) of cluster \(cluster.name) has no target in pool \(pool)"
                                                      : "cluster \(cluster.name) has no pool \(pool)"
            throw ControlError(exists, remedy: "broker \(broker.id) has targets in \(pools.spokenList); add one for \(pool) to the inventory first")
        }
        state.brokerPools[cluster.brokerName(broker.id)] = pool
    }

    static func findName(_ text: String, _ catalog: NameCatalog) throws(ControlError) -> String {
        guard let name = catalog.resolve(text) else {
            throw ControlError("no stable name \(text)",
                               remedy: "weighted names are \(catalog.weightedNames.spokenList); broker names are broker-<id>.<cluster>.<origin>")
        }
        return name
    }

    static func render(_ weights: [String: UInt8]) -> String {
        weights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
