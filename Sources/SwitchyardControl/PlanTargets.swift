import SwitchyardInventory

/// The cluster's targets as a plan was made: every broker name's target per pool and the
/// bootstrap's pools, so what the plan's names answer in any state of it can be worked out
/// from the plan alone (``expectations(for:names:)``).
///
/// Kept once per plan instead of a list of expectations per step: a step's verification covers
/// every name of the plan, so stored per step it grew with brokers × steps (a 300-broker cluster
/// moved one broker at a time: 90,000 expectations, megabytes of JSON rewritten at every
/// progress save and read at every `cutover status`). This is linear in the brokers.
public struct PlanTargets: Codable, Sendable, Equatable {
    /// One pool of the bootstrap: its explicit targets, or `nil` when it answers with the
    /// brokers living in it.
    public struct BootstrapPool: Codable, Sendable, Equatable {
        public var name: String
        public var targets: [String]?
        public init(name: String, targets: [String]?) { self.name = name; self.targets = targets }
    }

    public var bootstrap: String
    /// Broker name → pool → target (an address or an absolute hostname, as ``Target`` prints it).
    public var brokers: [String: [String: String]]
    /// In the inventory's order.
    public var bootstrapPools: [BootstrapPool]

    public init(bootstrap: String, brokers: [String: [String: String]], bootstrapPools: [BootstrapPool]) {
        self.bootstrap = bootstrap; self.brokers = brokers; self.bootstrapPools = bootstrapPools
    }

    /// The targets `cluster` declares now.
    public init(_ cluster: Cluster) {
        var brokers: [String: [String: String]] = [:]
        for broker in cluster.brokers { brokers[cluster.brokerName(broker.id)] = broker.targets.mapValues(\.description) }
        self.init(bootstrap: cluster.bootstrapName, brokers: brokers,
                  bootstrapPools: cluster.bootstrap.pools.map { BootstrapPool(name: $0.name, targets: $0.targets?.map(\.description)) })
    }

    /// What `names` answer in `state`, in the order of `names`: a broker name exactly its live
    /// target; the bootstrap a subset of the targets of the pools that can answer (weight > 0 and
    /// not empty; if none, the non-empty zero-weight pools, SPEC "Two kinds of stable names").
    /// Health is not modelled: a down pool's answers move elsewhere and verify says so.
    public func expectations(for state: ServingState, names: [String]) -> [AnswerExpectation] {
        var result: [AnswerExpectation] = []
        for name in names {
            if name == bootstrap {
                result += bootstrapExpectations(in: state)
                continue
            }
            guard let pool = state.brokerPools[name], let target = brokers[name]?[pool] else { continue }
            result.append(AnswerExpectation(name: name, type: Self.recordType(of: target), allowed: [target], rule: .exactly))
        }
        return result
    }

    /// A bootstrap pool's explicit targets, or the targets of the brokers living in it in `state`.
    func members(of pool: BootstrapPool, in state: ServingState) -> [String] {
        if let targets = pool.targets { return targets }
        return brokers.compactMap { name, targets in state.brokerPools[name] == pool.name ? targets[pool.name] : nil }
    }

    func bootstrapExpectations(in state: ServingState) -> [AnswerExpectation] {
        let weights = state.weights[bootstrap] ?? [:]
        let allZero = bootstrapPools.allSatisfy { (weights[$0.name] ?? 0) == 0 }
        let populated = bootstrapPools.map { ($0, members(of: $0, in: state)) }.filter { !$0.1.isEmpty }
        var answering = populated.filter { allZero || (weights[$0.0.name] ?? 0) > 0 }
        if answering.isEmpty { answering = populated }
        var v4: Set<String> = [], v6: Set<String> = [], hosts: Set<String> = []
        for target in answering.flatMap(\.1) {
            switch Self.recordType(of: target) {
            case .a: v4.insert(target)
            case .aaaa: v6.insert(target)
            case .cname: hosts.insert(target)
            }
        }
        var result: [AnswerExpectation] = []
        if !v4.isEmpty || !hosts.isEmpty {
            result.append(AnswerExpectation(name: bootstrap, type: .a, allowed: v4.sorted() + hosts.sorted(), rule: .subset))
        }
        if !v6.isEmpty {
            result.append(AnswerExpectation(name: bootstrap, type: .aaaa, allowed: v6.sorted() + hosts.sorted(), rule: .subset))
        }
        return result
    }

    /// The record type a target is answered with: A, AAAA, or a CNAME for a hostname.
    static func recordType(of target: String) -> AnswerExpectation.RecordType {
        if Target.parseIPv4(target) != nil { return .a }
        if Target.parseIPv6(target) != nil { return .aaaa }
        return .cname
    }
}
