import Foundation
import SwitchyardInventory

/// What a generation fixes about the stable names: where each broker lives, the weights
/// of each weighted name, and TTL overrides. Names are absolute and lowercase
/// (`broker-1.orders.kafka.example.`). The inventory gives the starting point; the journal
/// records every change as a new generation holding the whole state.
public struct ServingState: Codable, Equatable, Sendable {
    /// Broker name → the pool it lives in.
    public var brokerPools: [String: String]
    /// Weighted name (bootstrap or `names:` entry) → pool → weight 0–255.
    public var weights: [String: [String: UInt8]]
    /// Name → TTL override set by an operator (`shift ... --ttl`): the name's *baseline* TTL,
    /// which every cutover restores.
    public var ttls: [String: UInt32]
    /// Name → TTL a cutover or rollback lowered it to for the length of the run. Kept apart
    /// from ``ttls`` so that a lowered TTL never becomes the baseline: a run that fails midway
    /// leaves it here, and the next run's last step removes it.
    public var loweredTTLs: [String: UInt32]

    public init(brokerPools: [String: String] = [:], weights: [String: [String: UInt8]] = [:], ttls: [String: UInt32] = [:],
                loweredTTLs: [String: UInt32] = [:]) {
        self.brokerPools = brokerPools
        self.weights = weights
        self.ttls = ttls
        self.loweredTTLs = loweredTTLs
    }

    private enum CodingKeys: String, CodingKey { case brokerPools, weights, ttls, loweredTTLs }

    /// Generations journaled before lowered TTLs were kept apart have no `loweredTTLs`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        brokerPools = try container.decode([String: String].self, forKey: .brokerPools)
        weights = try container.decode([String: [String: UInt8]].self, forKey: .weights)
        ttls = try container.decode([String: UInt32].self, forKey: .ttls)
        loweredTTLs = try container.decodeIfPresent([String: UInt32].self, forKey: .loweredTTLs) ?? [:]
    }

    /// Every name this state says something about.
    public var names: Set<String> {
        Set(brokerPools.keys).union(weights.keys).union(ttls.keys).union(loweredTTLs.keys)
    }

    /// The TTL a name is served with when the state sets one: a cutover's lowered TTL, else
    /// the operator's override; `nil` means the inventory's.
    public func servedTTL(of name: String) -> UInt32? { loweredTTLs[name] ?? ttls[name] }

    /// The state the inventories declare (no TTL overrides).
    public static func initial(_ inventories: [Inventory]) -> ServingState {
        var state = ServingState()
        for inventory in inventories {
            for cluster in inventory.clusters {
                for broker in cluster.brokers { state.brokerPools[cluster.brokerName(broker.id)] = broker.livePool }
                state.weights[cluster.bootstrapName] = Dictionary(uniqueKeysWithValues: cluster.bootstrap.pools.map { ($0.name, $0.weight) })
            }
            for name in inventory.names {
                state.weights[name.name] = Dictionary(uniqueKeysWithValues: name.set.pools.map { ($0.name, $0.weight) })
            }
        }
        return state
    }

    /// This state fitted to (possibly edited) inventories: entries for names, pools or
    /// targets that no longer exist are dropped, new names take their inventory defaults.
    /// `notes` says what was dropped or defaulted, for the log.
    public func reconciled(with inventories: [Inventory]) -> (state: ServingState, notes: [String]) {
        let defaults = ServingState.initial(inventories)
        var result = defaults
        var notes: [String] = []
        var brokerTargets: [String: Set<String>] = [:]
        for inventory in inventories {
            for cluster in inventory.clusters {
                for broker in cluster.brokers { brokerTargets[cluster.brokerName(broker.id)] = Set(broker.targets.keys) }
            }
        }
        for (name, pool) in brokerPools.sorted(by: { $0.key < $1.key }) {
            guard let pools = brokerTargets[name] else { notes.append("\(name): no longer in the inventory"); continue }
            guard pools.contains(pool) else { notes.append("\(name): has no target in pool \(pool) any more; back to \(defaults.brokerPools[name] ?? "?")"); continue }
            result.brokerPools[name] = pool
        }
        for (name, weights) in self.weights.sorted(by: { $0.key < $1.key }) {
            guard let known = defaults.weights[name] else { notes.append("\(name): no longer in the inventory"); continue }
            var merged = known
            for (pool, weight) in weights where known[pool] != nil { merged[pool] = weight }
            result.weights[name] = merged
        }
        for (name, ttl) in ttls where defaults.brokerPools[name] != nil || defaults.weights[name] != nil {
            result.ttls[name] = ttl
        }
        for (name, ttl) in loweredTTLs where defaults.brokerPools[name] != nil || defaults.weights[name] != nil {
            result.loweredTTLs[name] = ttl
        }
        return (result, notes)
    }

    /// What this state says about one name.
    public func setting(of name: String) -> NameSetting {
        NameSetting(livePool: brokerPools[name], weights: weights[name], ttl: ttls[name], loweredTTL: loweredTTLs[name])
    }
}

/// One name's part of a state; `nil` fields do not apply to the name.
public struct NameSetting: Codable, Equatable, Sendable, CustomStringConvertible {
    public var livePool: String?
    public var weights: [String: UInt8]?
    public var ttl: UInt32?
    /// A cutover's temporary TTL, served instead of ``ttl`` while set.
    public var loweredTTL: UInt32?

    public init(livePool: String? = nil, weights: [String: UInt8]? = nil, ttl: UInt32? = nil, loweredTTL: UInt32? = nil) {
        self.livePool = livePool; self.weights = weights; self.ttl = ttl; self.loweredTTL = loweredTTL
    }

    public var description: String {
        var parts: [String] = []
        if let livePool { parts.append("live=\(livePool)") }
        if let weights { parts.append(weights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) }
        if let ttl { parts.append("ttl=\(ttl)") }
        if let loweredTTL { parts.append("lowered-ttl=\(loweredTTL)") }
        return parts.joined(separator: " ")
    }
}

/// A name a generation changed, before and after.
public struct NameChange: Codable, Equatable, Sendable {
    public var name: String
    public var before: NameSetting
    public var after: NameSetting
    public init(name: String, before: NameSetting, after: NameSetting) {
        self.name = name; self.before = before; self.after = after
    }
}

/// A journaled, numbered state of all weights and TTLs (SPEC "Concepts").
public struct Generation: Codable, Equatable, Sendable {
    public var number: UInt64
    public var createdAt: Date
    /// Who asked for it (`cli:alice`, `cutover:7`, `rollback`), and why.
    public var actor: String
    public var reason: String
    public var state: ServingState
    /// The names whose setting differs from the previous generation.
    public var changes: [NameChange]
    /// The SOA serial each zone serves with this generation (origin → serial).
    public var serials: [String: UInt32]

    public init(number: UInt64, createdAt: Date, actor: String, reason: String, state: ServingState,
                changes: [NameChange], serials: [String: UInt32]) {
        self.number = number; self.createdAt = createdAt; self.actor = actor; self.reason = reason
        self.state = state; self.changes = changes; self.serials = serials
    }

    /// The changes between two states, sorted by name.
    public static func changes(from before: ServingState, to after: ServingState) -> [NameChange] {
        changes(from: before, to: after, among: before.names.union(after.names))
    }

    /// The changes between two states that differ in no name outside `names`, sorted by name:
    /// a plan's step touches a few names of a state that holds every stable name.
    public static func changes(from before: ServingState, to after: ServingState, among names: Set<String>) -> [NameChange] {
        names.sorted().compactMap { name in
            let old = before.setting(of: name), new = after.setting(of: name)
            return old == new ? nil : NameChange(name: name, before: old, after: new)
        }
    }
}

/// RFC 1982 serial number arithmetic, so serials move forward across wrap-around.
public enum SerialNumber {
    /// `a` is later than `b`.
    public static func isAfter(_ a: UInt32, _ b: UInt32) -> Bool {
        a != b && (a &- b) < 0x8000_0000
    }

    /// The next serial after `current` that is also after `floor` (e.g. the zone file's).
    public static func next(after current: UInt32, atLeast floor: UInt32) -> UInt32 {
        let candidate = current &+ 1
        return isAfter(floor, candidate) ? floor : candidate
    }
}
