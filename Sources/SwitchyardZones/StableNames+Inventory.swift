import SwitchyardCore
import SwitchyardInventory

/// How often and how strictly one endpoint is probed.
public struct HealthCheck: Sendable, Equatable {
    public var interval: Duration
    public var timeout: Duration
    /// Consecutive failed probes before the endpoint is down.
    public var failures: Int
    /// Consecutive good probes before a down endpoint is up again.
    public var successes: Int
}

/// What the journal's current generation changes about an inventory's stable names (all
/// names absolute and lowercase): broker pools, weights, TTL overrides.
public struct StableOverrides: Sendable, Equatable {
    public var livePools: [String: String]
    public var weights: [String: [String: UInt8]]
    public var ttls: [String: UInt32]
    public init(livePools: [String: String] = [:], weights: [String: [String: UInt8]] = [:], ttls: [String: UInt32] = [:]) {
        self.livePools = livePools; self.weights = weights; self.ttls = ttls
    }
    public static let none = StableOverrides()
}

extension Inventory {
    /// The stable names this inventory declares, as the core answers them: one exclusive
    /// name per broker, one weighted bootstrap name per cluster, and every `names:` entry.
    public var stableNames: [StableNameSpec] { stableNames(applying: .none) }

    /// The stable names with a generation's overrides applied. A bootstrap pool without
    /// explicit targets follows the brokers: it holds those whose (overridden) live pool it is.
    public func stableNames(applying overrides: StableOverrides) -> [StableNameSpec] {
        var specs: [StableNameSpec] = []
        for cluster in clusters {
            let allDown = cluster.health.map { $0.onAllDown == .closed ? StableNameSpec.AllDown.closed : .open } ?? .open
            let healthPort = cluster.health.flatMap { $0.tcp ? UInt16(exactly: $0.port ?? cluster.port) : nil }
            func livePool(_ broker: Broker) -> String {
                let pool = overrides.livePools[cluster.brokerName(broker.id)] ?? broker.livePool
                return broker.targets[pool] == nil ? broker.livePool : pool
            }
            for broker in cluster.brokers {
                let text = cluster.brokerName(broker.id)
                guard let name = DomainName(text) else { continue }
                let live = livePool(broker)
                let pools = cluster.pools.compactMap { pool -> StablePool? in
                    guard let target = broker.targets[pool] else { return nil }
                    return StablePool(name: pool, weight: pool == live ? 1 : 0, targets: [target.stableTarget])
                }
                specs.append(StableNameSpec(name: name, kind: .exclusive, ttl: overrides.ttls[text] ?? cluster.ttl, maxAnswers: 1,
                                            allDown: allDown, pools: pools, healthPort: healthPort))
            }
            guard let bootstrap = DomainName(cluster.bootstrapName) else { continue }
            let weights = overrides.weights[cluster.bootstrapName] ?? [:]
            let pools = cluster.bootstrap.pools.map { pool in
                // By default a bootstrap pool holds the brokers living in it right now.
                let targets = pool.targets ?? cluster.brokers.compactMap { broker in
                    livePool(broker) == pool.name ? broker.targets[pool.name] : nil
                }
                return StablePool(name: pool.name, weight: weights[pool.name] ?? pool.weight, targets: targets.map(\.stableTarget))
            }
            specs.append(StableNameSpec(name: bootstrap, kind: .weighted, ttl: overrides.ttls[cluster.bootstrapName] ?? cluster.bootstrap.ttl,
                                        selection: cluster.bootstrap.selection == .hashed ? .hashed : .random,
                                        maxAnswers: cluster.bootstrap.maxAnswers, allDown: allDown, pools: pools,
                                        healthPort: healthPort))
        }
        for entry in names {
            guard let name = DomainName(entry.name) else { continue }
            let weights = overrides.weights[entry.name] ?? [:]
            let pools = entry.set.pools.map {
                StablePool(name: $0.name, weight: weights[$0.name] ?? $0.weight, targets: ($0.targets ?? []).map(\.stableTarget))
            }
            specs.append(StableNameSpec(
                name: name, kind: .weighted, ttl: overrides.ttls[entry.name] ?? entry.set.ttl,
                selection: entry.set.selection == .hashed ? .hashed : .random, maxAnswers: entry.set.maxAnswers,
                allDown: entry.health.map { $0.onAllDown == .closed ? .closed : .open } ?? .open, pools: pools,
                healthPort: entry.health.flatMap { $0.tcp ? $0.port.flatMap(UInt16.init(exactly:)) : nil }))
        }
        return specs
    }

    /// Every health-checked endpoint with its probe settings (the first declaration wins
    /// when two names share an endpoint).
    public var healthChecks: [HealthKey: HealthCheck] {
        var checks: [HealthKey: HealthCheck] = [:]
        func add(_ settings: HealthSettings?, keys: [HealthKey]) {
            guard let settings, settings.tcp else { return }
            let check = HealthCheck(interval: settings.interval, timeout: settings.timeout,
                                    failures: settings.failures, successes: settings.successes)
            for key in keys where checks[key] == nil { checks[key] = check }
        }
        let specs = stableNames
        for spec in specs {
            let settings: HealthSettings?
            if let cluster = clusters.first(where: { spec.name.description.hasSuffix(".\($0.name).\($0.origin)") && $0.origin == origin }) {
                settings = cluster.health
            } else {
                settings = names.first { $0.name == spec.name.description.lowercased() }?.health
            }
            add(settings, keys: spec.healthKeys)
        }
        return checks
    }
}

extension Target {
    var stableTarget: StableTarget {
        switch self {
        case .ipv4(let bytes): return .ipv4(bytes)
        case .ipv6(let bytes): return .ipv6(bytes)
        case .hostname(let text): return .hostname(DomainName(text) ?? .root)
        }
    }
}
