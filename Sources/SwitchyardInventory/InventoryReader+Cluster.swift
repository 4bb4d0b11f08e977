import Yams

extension InventoryReader {
    static let clusterKeys = ["port", "ttl", "discovery", "pools", "live", "brokers", "bootstrap", "health", "gate"]
    /// Keys for reaching a secured listener. The Kafka gate speaks plaintext only, so these are
    /// refused with a message rather than accepted and ignored.
    static let unsupportedSecurityKeys = ["tls", "ssl", "sasl", "security_protocol"]

    /// Reads one `clusters:` entry. Keeps going after a problem so every problem is reported;
    /// returns a cluster only when its required parts are valid.
    func readCluster(_ entry: Entry, defaultTTL: UInt32) -> Cluster? {
        let name = entry.key
        let field = "clusters.\(name)"
        var valid = true
        if !DomainName.isClusterLabel(name) {
            report(entry.line, field, "cluster name '\(name)' must be a lowercase DNS label (letters, digits, inner '-'; at most 63)")
            valid = false
        }
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }
        checkKeys(keys, allowed: Self.clusterKeys, field: field, reportedElsewhere: Self.unsupportedSecurityKeys)

        let port = requireKey(keys, "port", field: field, hint: "the Kafka listener port, e.g. 9092")
            .flatMap { self.port($0, field: "\(field).port") }
        var ttl = defaultTTL
        if let ttlEntry = keys["ttl"] {
            if let value = self.ttl(ttlEntry, field: "\(field).ttl") { ttl = value } else { valid = false }
        }
        let pools = requireKey(keys, "pools", field: field, hint: "[vm, pod] (the first is where brokers start)")
            .flatMap { readPoolList($0, field: "\(field).pools") }

        var clusterLive = pools?.first
        if let liveEntry = keys["live"], let text = scalar(liveEntry, field: "\(field).live", expected: "a pool name") {
            if let pools, !pools.contains(text) {
                report(liveEntry.valueLine, "\(field).live", "'\(text)' is not a pool of cluster \(name): use one of \(pools.joined(separator: ", "))")
                valid = false
            } else {
                clusterLive = text
            }
        }

        var brokers: [Broker] = []
        if let brokersEntry = requireKey(keys, "brokers", field: field, hint: "a mapping of node id to targets, e.g. 1: { vm: 10.0.1.11 }"),
           let list = entries(brokersEntry.value, field: "\(field).brokers", ownerLine: brokersEntry.line) {
            if list.list.isEmpty {
                report(brokersEntry.line, "\(field).brokers", "no brokers: add at least one, e.g. 1: { vm: 10.0.1.11 }")
                valid = false
            }
            var seenIDs: [Int: Int] = [:]
            for brokerEntry in list.list {
                guard let broker = readBroker(brokerEntry, field: "\(field).brokers", cluster: name, pools: pools, clusterLive: clusterLive) else {
                    valid = false
                    continue
                }
                if let firstLine = seenIDs[broker.id] {
                    report(brokerEntry.line, "\(field).brokers.\(brokerEntry.key)", "broker id \(broker.id) is already defined at line \(firstLine): keep only one")
                    valid = false
                    continue
                }
                seenIDs[broker.id] = brokerEntry.line
                brokers.append(broker)
            }
        } else {
            valid = false
        }

        let bootstrapTTL = ttl
        var bootstrap: WeightedSet?
        if let pools {
            if let bootstrapEntry = keys["bootstrap"] {
                bootstrap = readBootstrap(bootstrapEntry, field: "\(field).bootstrap", pools: pools, ttl: bootstrapTTL)
            } else {
                bootstrap = WeightedSet(
                    selection: .random, maxAnswers: WeightedSet.defaultMaxAnswers, ttl: bootstrapTTL,
                    pools: pools.enumerated().map { WeightedPool(name: $1, weight: $0 == 0 ? 100 : 0, targets: nil) })
            }
        }

        var health: HealthSettings?
        if let healthEntry = keys["health"] {
            health = readHealth(healthEntry, field: "\(field).health", needsPort: false)
            if health == nil { valid = false }
        }
        var gate = Cluster.GateKind.kafka
        if let gateEntry = keys["gate"] {
            if let kind = choice(gateEntry, field: "\(field).gate", as: Cluster.GateKind.self) { gate = kind } else { valid = false }
        }
        for key in Self.unsupportedSecurityKeys {
            guard let securityEntry = keys[key] else { continue }
            report(securityEntry.line, "\(field).\(key)",
                   "TLS and SASL are not yet supported: the Kafka gate connects in plaintext. Remove \(key), and set gate: tcp if the listener accepts only TLS or SASL")
            valid = false
        }
        var discovery: DiscoverySettings?
        if let discoveryEntry = keys["discovery"] {
            discovery = readDiscovery(discoveryEntry, field: "\(field).discovery", cluster: name)
            if discovery == nil { valid = false }
        }

        let cluster = Cluster(
            name: name, origin: origin, port: port ?? 0, ttl: ttl, pools: pools ?? [],
            brokers: brokers.sorted { $0.id < $1.id },
            bootstrap: bootstrap ?? WeightedSet(selection: .random, maxAnswers: 1, ttl: 0, pools: []),
            discovery: discovery, health: health, gate: gate)
        if valid {
            stableNames.append(StableNameUse(name: cluster.bootstrapName, line: entry.line, field: field, what: "bootstrap name"))
            for broker in cluster.brokers {
                stableNames.append(StableNameUse(
                    name: cluster.brokerName(broker.id), line: entry.line, field: "\(field).brokers.\(broker.id)", what: "broker name"))
            }
        }
        guard valid, port != nil, pools != nil, bootstrap != nil else { return nil }
        return cluster
    }

    /// `pools: [vm, pod]`: a non-empty list of distinct pool words.
    func readPoolList(_ entry: Entry, field: String) -> [String]? {
        guard let items = sequence(entry, field: field, expected: "[vm, pod]") else { return nil }
        if items.isEmpty {
            report(entry.valueLine, field, "no pools: list at least one, e.g. [vm, pod]")
            return nil
        }
        var pools: [String] = []
        var valid = true
        for (index, item) in items.enumerated() {
            let itemField = "\(field).\(index)"
            guard let name = scalar(item.node, line: item.line, field: itemField, expected: "a pool name") else {
                valid = false
                continue
            }
            if !Self.isSimpleWord(name) {
                report(item.line, itemField, "pool name '\(name)' may hold only lowercase letters, digits, '_' and '-'")
                valid = false
            } else if name == "live" {
                report(item.line, itemField, "'live' is reserved (it sets a broker's live pool): choose another pool name")
                valid = false
            } else if pools.contains(name) {
                report(item.line, itemField, "pool '\(name)' is listed twice: list each pool once")
                valid = false
            }
            pools.append(name)
        }
        return valid ? pools : nil
    }

    /// One broker: `<id>: { <pool>: <target>, ..., live: <pool> }`.
    ///
    /// Broker names are exclusive (a node id lives in one place), so a broker gets one target
    /// per pool and a live pool, never weights.
    func readBroker(_ entry: Entry, field parent: String, cluster: String, pools: [String]?, clusterLive: String?) -> Broker? {
        let field = "\(parent).\(entry.key)"
        var valid = true
        let id = Self.decimal(entry.key).flatMap { Broker.nodeIDs.contains($0) ? $0 : nil }
        if id == nil {
            report(entry.line, field, "broker id '\(entry.key)' must be a Kafka node id, an integer from 0 to 2147483647")
            valid = false
        }
        let exclusive = "broker names are exclusive: use live: POOL to choose where the broker lives"
        if case .scalar(let scalar) = entry.value, !isNull(scalar) {
            report(entry.valueLine, field, "a broker maps pools to one target each, e.g. { vm: 10.0.1.11, pod: 10.8.1.11 }")
            return nil
        }
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }

        var targets: [String: Target] = [:]
        var live: (pool: String, line: Int)?
        for pair in keys.list {
            let pairField = "\(field).\(pair.key)"
            if pair.key == "live" {
                guard let text = scalar(pair, field: pairField, expected: "a pool name") else { valid = false; continue }
                if let pools, !pools.contains(text) {
                    report(pair.valueLine, pairField, "'\(text)' is not a pool of cluster \(cluster): use one of \(pools.joined(separator: ", "))")
                    valid = false
                } else {
                    live = (text, pair.valueLine)
                }
                continue
            }
            if ["weight", "weights"].contains(pair.key) {
                report(pair.line, pairField, exclusive)
                valid = false
                continue
            }
            if let pools, !pools.contains(pair.key) {
                report(pair.line, pairField, "'\(pair.key)' is not a pool of cluster \(cluster): use one of \(pools.joined(separator: ", ")), or live")
                valid = false
                continue
            }
            switch pair.value {
            case .mapping(let mapping):
                if mapping.keys.contains(where: { $0.string == "weight" || $0.string == "weights" }) {
                    report(pair.valueLine, pairField, exclusive)
                } else {
                    report(pair.valueLine, pairField, "a broker has one target per pool: write \(pair.key): ADDRESS-OR-HOSTNAME")
                }
                valid = false
            case .sequence:
                report(pair.valueLine, pairField, "a broker has one target per pool (broker names are exclusive): give a single address or hostname")
                valid = false
            default:
                guard let text = scalar(pair, field: pairField, expected: "an address or hostname"),
                      let target = target(text, line: pair.valueLine, field: pairField)
                else { valid = false; continue }
                targets[pair.key] = target
            }
        }
        guard valid, let id else { return nil }
        if targets.isEmpty {
            report(entry.line, field, "broker \(id) has no targets: add one per pool, e.g. { \(pools?.first ?? "vm"): 10.0.1.11 }")
            return nil
        }
        if let live {
            guard targets[live.pool] != nil else {
                report(live.line, "\(field).live", "broker \(id) has no target in pool '\(live.pool)': add \(live.pool): ADDRESS or choose a pool it has a target in")
                return nil
            }
            return Broker(id: id, targets: targets, livePool: live.pool)
        }
        guard let clusterLive else { return nil }
        guard targets[clusterLive] != nil else {
            report(entry.line, field, "broker \(id) lives in pool '\(clusterLive)' (the cluster's default) but has no \(clusterLive) target: add \(clusterLive): ADDRESS or set live: POOL")
            return nil
        }
        return Broker(id: id, targets: targets, livePool: clusterLive)
    }
}
