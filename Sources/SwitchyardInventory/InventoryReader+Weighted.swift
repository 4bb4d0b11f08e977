import Yams

extension InventoryReader {
    static let bootstrapKeys = ["selection", "max_answers", "ttl", "pools"]
    static let nameKeys = ["policy", "selection", "max_answers", "ttl", "pools", "health"]
    static let poolKeys = ["weight", "targets"]
    static let healthKeys = ["tcp", "port", "interval", "timeout", "failures", "successes", "on_all_down"]
    static let discoveryKeys = ["type", "zookeeper", "broker_list", "local"]

    /// `bootstrap:` of a cluster. Pools must be cluster pools; a pool without `targets` answers
    /// with the brokers living in it.
    func readBootstrap(_ entry: Entry, field: String, pools: [String], ttl: UInt32) -> WeightedSet? {
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }
        checkKeys(keys, allowed: Self.bootstrapKeys, field: field)
        return readWeightedSet(keys, field: field, ttl: ttl, allowedPools: pools, targetsRequired: false)
    }

    /// The parts shared by bootstrap names and `names:` entries. A pool's weight defaults to 100
    /// for the first pool (the cluster's first pool for bootstrap, the first listed for names)
    /// and 0 for the others, so an unweighted set answers from where things start.
    func readWeightedSet(_ keys: Entries, field: String, ttl defaultTTL: UInt32, allowedPools: [String]?, targetsRequired: Bool) -> WeightedSet? {
        var valid = true
        var selection = Selection.random
        if let entry = keys["selection"] {
            if let value = choice(entry, field: "\(field).selection", as: Selection.self) { selection = value } else { valid = false }
        }
        var maxAnswers = WeightedSet.defaultMaxAnswers
        if let entry = keys["max_answers"] {
            if let value = integer(entry, field: "\(field).max_answers", range: 1...Int(Int32.max), what: "a whole number of answers, at least 1") {
                maxAnswers = value
            } else {
                valid = false
            }
        }
        var ttl = defaultTTL
        if let entry = keys["ttl"] {
            if let value = self.ttl(entry, field: "\(field).ttl") { ttl = value } else { valid = false }
        }

        var pools: [WeightedPool] = []
        if let poolsEntry = keys["pools"], let list = entries(poolsEntry.value, field: "\(field).pools", ownerLine: poolsEntry.line) {
            if list.list.isEmpty {
                report(poolsEntry.line, "\(field).pools", "no pools: add at least one, e.g. vm: { weight: 100 }")
                valid = false
            }
            let firstPool = allowedPools?.first ?? list.list.first?.key
            for poolEntry in list.list {
                let poolField = "\(field).pools.\(poolEntry.key)"
                if let allowedPools, !allowedPools.contains(poolEntry.key) {
                    report(poolEntry.line, poolField, "'\(poolEntry.key)' is not a pool of this cluster: use one of \(allowedPools.joined(separator: ", "))")
                    valid = false
                    continue
                }
                if allowedPools == nil, !Self.isSimpleWord(poolEntry.key) {
                    report(poolEntry.line, poolField, "pool name '\(poolEntry.key)' may hold only lowercase letters, digits, '_' and '-'")
                    valid = false
                    continue
                }
                guard let pool = readPool(poolEntry, field: poolField, defaultWeight: poolEntry.key == firstPool ? 100 : 0, targetsRequired: targetsRequired) else {
                    valid = false
                    continue
                }
                pools.append(pool)
            }
        } else if keys["pools"] == nil {
            if targetsRequired {
                report(keys.line, joinField(field, "pools"), "missing: add pools:, e.g. vm: { weight: 100, targets: [10.0.2.5] }")
                valid = false
            } else if let allowedPools {
                pools = allowedPools.enumerated().map { WeightedPool(name: $1, weight: $0 == 0 ? 100 : 0, targets: nil) }
            }
        } else {
            valid = false
        }
        guard valid else { return nil }
        return WeightedSet(selection: selection, maxAnswers: maxAnswers, ttl: ttl, pools: pools)
    }

    /// `<pool>: { weight: N, targets: [...] }`.
    func readPool(_ entry: Entry, field: String, defaultWeight: UInt8, targetsRequired: Bool) -> WeightedPool? {
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }
        checkKeys(keys, allowed: Self.poolKeys, field: field)
        var valid = true
        var weight = defaultWeight
        if let weightEntry = keys["weight"] {
            if let value = integer(weightEntry, field: "\(field).weight", range: 0...255, what: "a weight: a whole number from 0 to 255 (0 drains the pool)") {
                weight = UInt8(value)
            } else {
                valid = false
            }
        }
        var targets: [Target]?
        if let targetsEntry = keys["targets"] {
            if let items = sequence(targetsEntry, field: "\(field).targets", expected: "[10.0.2.5, 10.0.2.6]") {
                if items.isEmpty {
                    report(targetsEntry.valueLine, "\(field).targets",
                           targetsRequired ? "no targets: list at least one address or hostname"
                                           : "no targets: list at least one, or omit targets to use the brokers living in this pool")
                    valid = false
                }
                var list: [Target] = []
                for (index, item) in items.enumerated() {
                    let itemField = "\(field).targets.\(index)"
                    guard let text = scalar(item.node, line: item.line, field: itemField, expected: "an address or hostname"),
                          let target = target(text, line: item.line, field: itemField)
                    else { valid = false; continue }
                    if list.contains(target) {
                        report(item.line, itemField, "target \(target) is listed twice: list each target once")
                        valid = false
                    }
                    list.append(target)
                }
                targets = list
            } else {
                valid = false
            }
        } else if targetsRequired {
            report(entry.line, "\(field).targets", "missing: add targets: [ADDRESS, ...] (only bootstrap pools default to their brokers)")
            valid = false
        }
        guard valid else { return nil }
        return WeightedPool(name: entry.key, weight: weight, targets: targets)
    }

    /// One `names:` entry: a weighted name, relative to the origin or absolute inside it.
    func readName(_ entry: Entry, defaultTTL: UInt32) -> WeightedName? {
        let field = "names.\(entry.key)"
        var valid = true
        var absolute: String?
        switch DomainName.absolute(entry.key, origin: origin) {
        case .failure(let why):
            report(entry.line, field, "'\(entry.key)' is not a valid name (\(why))")
            valid = false
        case .success(let name) where !DomainName.isInside(name, origin: origin):
            report(entry.line, field, "\(name) is outside the zone \(origin): write it relative to the origin or as an absolute name ending in .\(origin)")
            valid = false
        case .success(let name) where name == origin:
            report(entry.line, field, "the zone apex \(origin) can't be a weighted name: its SOA and NS live there")
            valid = false
        case .success(let name):
            absolute = name
        }
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }
        checkKeys(keys, allowed: Self.nameKeys, field: field)
        if let policy = keys["policy"], let text = scalar(policy, field: "\(field).policy", expected: "weighted"), text != "weighted" {
            report(policy.valueLine, "\(field).policy", "'\(text)' is not a supported policy: only weighted is supported for now")
            valid = false
        }
        let set = readWeightedSet(keys, field: field, ttl: defaultTTL, allowedPools: nil, targetsRequired: true)
        var health: HealthSettings?
        if let healthEntry = keys["health"] {
            health = readHealth(healthEntry, field: "\(field).health", needsPort: true)
            if health == nil { valid = false }
        }
        guard let absolute else { return nil }
        stableNames.append(StableNameUse(name: absolute, line: entry.line, field: field, what: "weighted name"))
        guard valid, let set else { return nil }
        return WeightedName(name: absolute, set: set, health: health)
    }

    /// `health: { tcp: true, interval: 5s, ... }`. `needsPort`: a `names:` entry has no cluster
    /// port, so a TCP check needs `port:`.
    func readHealth(_ entry: Entry, field: String, needsPort: Bool) -> HealthSettings? {
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }
        checkKeys(keys, allowed: Self.healthKeys, field: field)
        var health = HealthSettings()
        var valid = true
        func set<T>(_ key: String, _ read: (Entry, String) -> T?, _ assign: (T) -> Void) {
            guard let entry = keys[key] else { return }
            if let value = read(entry, "\(field).\(key)") { assign(value) } else { valid = false }
        }
        set("tcp", { self.bool($0, field: $1) }) { health.tcp = $0 }
        set("port", { self.port($0, field: $1) }) { health.port = $0 }
        set("interval", { self.duration($0, field: $1) }) { health.interval = $0 }
        set("timeout", { self.duration($0, field: $1) }) { health.timeout = $0 }
        set("failures", { self.integer($0, field: $1, range: 1...1000, what: "a count from 1 to 1000") }) { health.failures = $0 }
        set("successes", { self.integer($0, field: $1, range: 1...1000, what: "a count from 1 to 1000") }) { health.successes = $0 }
        set("on_all_down", { self.choice($0, field: $1, as: HealthSettings.OnAllDown.self) }) { health.onAllDown = $0 }
        guard valid else { return nil }
        if health.timeout > health.interval, let timeoutEntry = keys["timeout"] ?? keys["interval"] {
            report(timeoutEntry.valueLine, "\(field).\(timeoutEntry.key)", "timeout must not be longer than interval: lower timeout or raise interval")
            return nil
        }
        if needsPort, health.tcp, health.port == nil {
            report(entry.line, "\(field).port", "missing: a TCP health check of a weighted name needs port: (e.g. port: 8081), or set tcp: false")
            return nil
        }
        return health
    }

    /// `discovery: { type: standard, zookeeper: ..., broker_list: [...], local: true }`.
    func readDiscovery(_ entry: Entry, field: String, cluster: String) -> DiscoverySettings? {
        guard let keys = entries(entry.value, field: field, ownerLine: entry.line) else { return nil }
        checkKeys(keys, allowed: Self.discoveryKeys, field: field)
        var valid = true
        var type: String?
        if let typeEntry = requireKey(keys, "type", field: field, hint: "the kafka-utils cluster type, e.g. standard (writes discovery/standard.yaml)"),
           let text = scalar(typeEntry, field: "\(field).type", expected: "a cluster type such as standard") {
            if Self.isSimpleWord(text) {
                type = text
            } else {
                report(typeEntry.valueLine, "\(field).type", "'\(text)' must be a simple file name: lowercase letters, digits, '_' and '-' (it names <type>.yaml)")
            }
        }
        var zookeeper: String?
        if let zkEntry = keys["zookeeper"] {
            if let text = scalar(zkEntry, field: "\(field).zookeeper", expected: "a ZooKeeper connection string such as zk-1:2181,zk-2:2181/kafka") {
                zookeeper = text
            }
        } else {
            report(entry.line, "\(field).zookeeper", "kafka-utils requires zookeeper: add discovery.zookeeper (e.g. zk-1.example:2181,zk-2.example:2181/kafka-\(cluster))")
        }
        var brokerList: [String]?
        if let listEntry = keys["broker_list"], let items = sequence(listEntry, field: "\(field).broker_list", expected: "[bootstrap.\(cluster).example:9092]") {
            if items.isEmpty {
                report(listEntry.valueLine, "\(field).broker_list", "is empty: list host:port entries, or omit broker_list to use the bootstrap name")
                valid = false
            }
            var list: [String] = []
            for (index, item) in items.enumerated() {
                let itemField = "\(field).broker_list.\(index)"
                guard let text = scalar(item.node, line: item.line, field: itemField, expected: "host:port") else { valid = false; continue }
                if !Self.isHostPort(text) {
                    report(item.line, itemField, "'\(text)' is not host:port (write [ADDRESS]:port for IPv6)")
                    valid = false
                }
                list.append(text)
            }
            brokerList = list
        } else if keys["broker_list"] != nil {
            valid = false
        }
        var local = false
        if let localEntry = keys["local"] {
            if let value = bool(localEntry, field: "\(field).local") { local = value } else { valid = false }
            if local, let type {
                if let first = localClusterByType[type] {
                    report(localEntry.valueLine, "\(field).local",
                           "cluster '\(first.cluster)' (line \(first.line)) is already the local cluster of discovery type '\(type)': set local: true on one cluster only")
                    valid = false
                } else {
                    localClusterByType[type] = (cluster, localEntry.valueLine)
                }
            }
        }
        guard valid, let type, let zookeeper else { return nil }
        return DiscoverySettings(type: type, zookeeper: zookeeper, brokerList: brokerList, local: local)
    }

    /// `host:port` or `[v6-address]:port`, as Kafka bootstrap lists spell them.
    static func isHostPort(_ text: String) -> Bool {
        guard let colon = text.lastIndex(of: ":") else { return false }
        let host = text[..<colon], port = text[text.index(after: colon)...]
        guard let number = decimal(String(port)), (1...65535).contains(number), !host.isEmpty else { return false }
        if host.hasPrefix("[") {
            return host.hasSuffix("]") && Target.parseIPv6(String(host.dropFirst().dropLast())) != nil
        }
        return !host.contains(":") && !host.contains(" ") && !host.contains(",")
    }
}
