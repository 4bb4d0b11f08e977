/// The validated, immutable model of one inventory file, `zones/<origin>yaml`.
///
/// An inventory declares the stable names that Switchyard computes answers for in one
/// zone: per Kafka cluster a broker name per node id (`broker-<id>.<cluster>.<origin>`) and a
/// bootstrap name (`bootstrap.<cluster>.<origin>`), plus any weighted names under `names:`.
/// Values are only ever built by ``InventoryLoader``, which has checked every rule.
public struct Inventory: Sendable, Equatable {
    /// The zone origin: absolute, lowercase, with the trailing dot (`kafka.example.`).
    public var origin: String
    /// The file the inventory was read from, as given to the loader.
    public var sourcePath: String
    /// Default TTL of stable names (`ttl:` at the top, 60 when absent).
    public var defaultTTL: UInt32
    /// Kafka clusters, sorted by name.
    public var clusters: [Cluster]
    /// Weighted names declared under `names:`, sorted by name.
    public var names: [WeightedName]
    /// Where each stable name (absolute, lowercase) is declared, so that a problem found
    /// later, in the zone the name is served from, can point at the inventory line.
    public var declarations: [String: Declaration]

    /// The line and dotted field of one stable name's declaration.
    public struct Declaration: Sendable, Equatable {
        public var line: Int
        public var field: String
        public init(line: Int, field: String) { self.line = line; self.field = field }
    }

    public init(origin: String, sourcePath: String, defaultTTL: UInt32, clusters: [Cluster], names: [WeightedName],
                declarations: [String: Declaration] = [:]) {
        self.origin = origin
        self.sourcePath = sourcePath
        self.defaultTTL = defaultTTL
        self.clusters = clusters
        self.names = names
        self.declarations = declarations
    }

    /// The cluster called `name`, if declared.
    public func cluster(named name: String) -> Cluster? {
        clusters.first { $0.name == name }
    }

    /// What `check` and `serve` say about an inventory that is valid but declares neither a
    /// cluster nor a name (`clusters: {}`, or only `ttl:`): its zone serves no stable names,
    /// which is rarely what a file beside the zone is for. `nil` when it declares something.
    public var declaresNothingWarning: String? {
        guard clusters.isEmpty && names.isEmpty else { return nil }
        return "\(sourcePath): declares no clusters and no names, so zone \(origin) serves no stable names; "
            + "declare clusters: or names:, or delete the file if the zone has none"
    }
}

/// One Kafka cluster: its brokers, the pools they move between, and its bootstrap name.
public struct Cluster: Sendable, Equatable {
    /// The cluster name, a lowercase DNS label (`orders`).
    public var name: String
    /// The zone origin the cluster's stable names live in (`kafka.example.`).
    public var origin: String
    /// The Kafka listener port clients use (bootstrap lists and TCP health checks).
    public var port: Int
    /// TTL of the cluster's broker names (cluster `ttl:`, else the inventory default).
    public var ttl: UInt32
    /// Pool names in declared order; the first is where brokers start.
    public var pools: [String]
    /// Brokers sorted by node id.
    public var brokers: [Broker]
    /// The weighted set behind `bootstrap.<cluster>.<origin>`.
    public var bootstrap: WeightedSet
    /// kafka-utils discovery settings, when this cluster is published.
    public var discovery: DiscoverySettings?
    /// Health checking of the cluster's targets, when configured.
    public var health: HealthSettings?
    /// How cutover gates check a new target (`gate:`, default ``GateKind/kafka``).
    public var gate: GateKind

    /// What a cutover checks at a target before a name moves to it.
    public enum GateKind: String, Sendable, Equatable, CaseIterable {
        /// Kafka metadata: node id, advertised stable name, cluster id, partition health.
        case kafka
        /// A TCP connection on the cluster port (endpoints that don't speak Kafka).
        case tcp
    }

    public init(
        name: String, origin: String, port: Int, ttl: UInt32, pools: [String], brokers: [Broker],
        bootstrap: WeightedSet, discovery: DiscoverySettings?, health: HealthSettings?, gate: GateKind = .kafka
    ) {
        self.gate = gate
        self.name = name
        self.origin = origin
        self.port = port
        self.ttl = ttl
        self.pools = pools
        self.brokers = brokers
        self.bootstrap = bootstrap
        self.discovery = discovery
        self.health = health
    }

    /// `broker-<id>.<cluster>.<origin>`: the exclusive name of one Kafka node id.
    public func brokerName(_ id: Int) -> String {
        "broker-\(id).\(name).\(origin)"
    }

    /// `bootstrap.<cluster>.<origin>`: the weighted name clients bootstrap from.
    public var bootstrapName: String {
        "bootstrap.\(name).\(origin)"
    }

    /// The broker with node id `id`, if declared.
    public func broker(_ id: Int) -> Broker? {
        brokers.first { $0.id == id }
    }
}

/// One Kafka node id and where it can live.
///
/// Broker names are *exclusive*: the node lives in exactly one pool at a time, so a broker has
/// one target per pool and a live pool instead of weights.
public struct Broker: Sendable, Equatable {
    /// The Kafka node id, within ``Broker/nodeIDs``.
    public var id: Int
    /// The broker's target in each pool it can live in, keyed by pool name.
    public var targets: [String: Target]
    /// The pool the broker lives in at start; it always has a target in ``targets``.
    public var livePool: String

    public init(id: Int, targets: [String: Target], livePool: String) {
        self.id = id
        self.targets = targets
        self.livePool = livePool
    }

    /// Every valid Kafka node id: `node.id` / `broker.id` is a non-negative Java int, and 0 is
    /// the id of many clusters' first broker.
    public static let nodeIDs: ClosedRange<Int> = 0...2_147_483_647

    /// The node id `text` spells in decimal (`0`, `3`), or `nil` when it is not one.
    public static func nodeID(_ text: some StringProtocol) -> Int? {
        guard !text.isEmpty, text.count <= 10, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let id = Int(text), nodeIDs.contains(id) else { return nil }
        return id
    }

    /// The target the broker name answers with at start.
    public var liveTarget: Target {
        // The loader guarantees the live pool has a target.
        targets[livePool]!
    }
}

/// How a weighted name picks a pool for each query.
public enum Selection: String, Sendable, Equatable, CaseIterable {
    /// Pick a pool at random by weight for every query.
    case random
    /// Pick by a hash of the client's address (or EDNS Client Subnet), so one client sees a
    /// stable answer while weights change.
    case hashed
}

/// A weighted record set: the pools of a weighted name, each with a weight.
public struct WeightedSet: Sendable, Equatable {
    public var selection: Selection
    /// At most this many targets per answer (≥ 1).
    public var maxAnswers: Int
    public var ttl: UInt32
    /// Pools in declared order.
    public var pools: [WeightedPool]

    public init(selection: Selection, maxAnswers: Int, ttl: UInt32, pools: [WeightedPool]) {
        self.selection = selection
        self.maxAnswers = maxAnswers
        self.ttl = ttl
        self.pools = pools
    }

    /// The default for `max_answers`.
    public static let defaultMaxAnswers = 8
}

/// One pool of a weighted name.
public struct WeightedPool: Sendable, Equatable {
    public var name: String
    /// 0–255; 0 means drained.
    public var weight: UInt8
    /// Explicit targets, or `nil` for a bootstrap pool whose members are the brokers currently
    /// living in this pool.
    public var targets: [Target]?

    public init(name: String, weight: UInt8, targets: [Target]?) {
        self.name = name
        self.weight = weight
        self.targets = targets
    }
}

/// A name declared under `names:`, answered from a weighted set.
public struct WeightedName: Sendable, Equatable {
    /// Absolute, lowercase, with the trailing dot, inside the origin.
    public var name: String
    public var set: WeightedSet
    public var health: HealthSettings?

    public init(name: String, set: WeightedSet, health: HealthSettings?) {
        self.name = name
        self.set = set
        self.health = health
    }
}

/// Health checking of a cluster's or a name's targets.
public struct HealthSettings: Sendable, Equatable {
    /// What a managed name does when every pool is down.
    public enum OnAllDown: String, Sendable, Equatable, CaseIterable {
        /// Answer with every target anyway (a possibly-down answer beats no answer).
        case open
        /// Answer SERVFAIL: clients fail fast instead of connecting to dead targets.
        case closed
    }

    /// Probe targets with a TCP connect.
    public var tcp: Bool
    /// The port to probe; `nil` means the cluster's port.
    public var port: Int?
    public var interval: Duration
    public var timeout: Duration
    /// Consecutive failures before a target is marked down.
    public var failures: Int
    /// Consecutive successes before a down target is marked up again.
    public var successes: Int
    public var onAllDown: OnAllDown

    public init(
        tcp: Bool = true, port: Int? = nil, interval: Duration = .seconds(5), timeout: Duration = .seconds(1),
        failures: Int = 3, successes: Int = 2, onAllDown: OnAllDown = .open
    ) {
        self.tcp = tcp
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.failures = failures
        self.successes = successes
        self.onAllDown = onAllDown
    }
}

/// How a cluster appears in the kafka-utils discovery file of its type.
public struct DiscoverySettings: Sendable, Equatable {
    /// The kafka-utils cluster type; the file written is `<type>.yaml`.
    public var type: String
    /// The ZooKeeper connection string (kafka-utils requires one).
    public var zookeeper: String
    /// An explicit broker list, or `nil` for `bootstrap.<cluster>.<origin-without-dot>:<port>`.
    public var brokerList: [String]?
    /// This cluster is `local_config.cluster` of its type.
    public var local: Bool

    public init(type: String, zookeeper: String, brokerList: [String]?, local: Bool) {
        self.type = type
        self.zookeeper = zookeeper
        self.brokerList = brokerList
        self.local = local
    }
}
