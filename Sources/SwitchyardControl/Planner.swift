import SwitchyardInventory

/// Turns a cutover or rollback request into a ``CutoverPlan``. Pure: it reads the inventory and
/// a state and returns data; nothing is changed, so `cutover plan` can print it freely.
///
/// ## Staging
///
/// 1. **Lower TTLs** of every affected name (the moved brokers and the cluster's bootstrap) to
///    ``CutoverOptions/cutoverTTL``. The next step waits out the highest *old* TTL, so no cache
///    still holds an answer it may keep for long.
/// 2. **Move brokers** in batches of ``CutoverOptions/batch``, in node-id order.
/// 3. **Ramp bootstrap** weights through ``CutoverOptions/ramp``.
/// 4. **Restore TTLs**: remove the cutover's overrides (back to what the start, or the rollback
///    target, had).
///
/// Between steps 2–4 each wait is `max(cutover TTL, JVM address cache, resolver floor)`.
///
/// A step that changes answers (a move or a ramp) also waits until the *cache horizon* of the
/// names it changes (``CacheContext``; the argument is in `Planner+CacheHorizons.swift`):
/// answers served before the start state with a higher TTL than it has (a TTL lowered by hand
/// just before the cutover) may still be cached, and the waits above only count the start
/// state's TTLs. Only its own names: a step moving broker-1 does not wait for broker-3's
/// horizon, which holds the step that moves broker-3. The horizons are data the caller read
/// from the journal; the planner stays pure.
///
/// Brokers move *before* bootstrap weight shifts, in both directions. Bootstrap only hands new
/// clients a first address to fetch metadata from; everything after that goes to the broker
/// names. A bootstrap pool's targets are only useful once brokers live there (an implicit pool
/// *is* the brokers living in it, and an explicit one, such as a load balancer in front of the
/// pods, fronts the same processes), so weight goes to the new pool only when its brokers are
/// there and verified. Meanwhile an implicit old pool shrinks as its brokers leave, so bootstrap
/// never answers with a moved-away address, and a client bootstrapping from an old-pool broker
/// still gets correct metadata because metadata advertises broker *names*. Interleaving the ramp
/// proportionally would save waits but could send new clients to a pool that holds only a part
/// of the brokers the ramp claims; the sequential order keeps each step's effect obvious.
public enum Planner {
    /// The steps of `switchyard cutover plan <cluster> --to <pool> ...` from `state`.
    /// `caches`: what earlier generations may have left in caches (none when `nil`).
    public static func plan(options: CutoverOptions, inventory: Inventory, state: ServingState,
                            caches: CacheContext? = nil) throws(ControlError) -> CutoverPlan {
        let cluster = try findCluster(options.cluster, in: inventory)
        try validate(options, cluster: cluster)
        let start = completed(state, cluster: cluster)

        let ids: [Int]
        if let listed = options.brokers {
            var seen = Set<Int>()
            let repeated = listed.filter { !seen.insert($0).inserted }
            guard repeated.isEmpty else {
                throw ControlError("--brokers lists \(Set(repeated).sorted().map(String.init).spokenList) more than once", remedy: "list each broker once")
            }
            let unknown = listed.filter { cluster.broker($0) == nil }
            guard unknown.isEmpty else {
                throw ControlError("cluster \(cluster.name) has no broker \(unknown.map(String.init).spokenList)",
                                   remedy: "its brokers are \(cluster.brokers.map { String($0.id) }.spokenList)")
            }
            ids = listed.sorted()
        } else {
            ids = cluster.brokers.filter { start.brokerPools[cluster.brokerName($0.id)] != options.toPool }.map(\.id)
        }
        let homeless = ids.compactMap { cluster.broker($0) }.filter { $0.targets[options.toPool] == nil }
        guard homeless.isEmpty else {
            let details = homeless.map { broker in "broker \(broker.id) (targets in \(cluster.pools.filter { broker.targets[$0] != nil }.spokenList))" }
            let others = ids.filter { id in !homeless.contains { $0.id == id } }.map(String.init).joined(separator: ",")
            throw ControlError("\(details.spokenList) of cluster \(cluster.name) \(homeless.count == 1 ? "has" : "have") no target in pool \(options.toPool)",
                               remedy: others.isEmpty ? "add \(options.toPool) targets to the inventory first"
                                                      : "add \(options.toPool) targets to the inventory, or leave them out with --brokers \(others)")
        }

        var goal = start
        for id in ids { goal.brokerPools[cluster.brokerName(id)] = options.toPool }
        goal.weights[cluster.bootstrapName] = Dictionary(uniqueKeysWithValues: cluster.bootstrap.pools.map {
            ($0.name, $0.name == options.toPool ? UInt8(100) : 0)
        })
        guard goal != start else {
            throw ControlError("nothing to do: \(ids.isEmpty ? "every broker" : "brokers \(ids.map(String.init).spokenList)") of cluster \(cluster.name) already live in \(options.toPool) and bootstrap already sends all its weight there",
                               remedy: "pick another pool with --to, or other brokers with --brokers")
        }
        return stage(purpose: .cutover, cluster: cluster, options: options, start: start, goal: goal, caches: caches)
    }

    /// A plan that takes the cluster's names from `current` back to what `target` holds (a
    /// journaled generation), with the same staging and safety as a cutover: TTLs lowered,
    /// brokers moved back in batches with gates on the targets they return to, bootstrap
    /// ramped back through `options.ramp`, TTLs restored to `target`'s. Names of other
    /// clusters keep their `current` setting. `options.toPool` is ignored.
    public static func rollback(from current: ServingState, to target: ServingState, inventory: Inventory,
                                options: CutoverOptions, caches: CacheContext? = nil) throws(ControlError) -> CutoverPlan {
        let cluster = try findCluster(options.cluster, in: inventory)
        try validateStaging(options)
        let start = completed(current, cluster: cluster)
        let wanted = completed(target, cluster: cluster)
        var goal = start
        for name in managedNames(cluster) {
            goal.brokerPools[name] = wanted.brokerPools[name] ?? goal.brokerPools[name]
            goal.weights[name] = wanted.weights[name] ?? goal.weights[name]
            goal.ttls[name] = wanted.ttls[name]
            goal.loweredTTLs[name] = nil
        }
        let unreachable = cluster.brokers.filter { broker in
            guard let pool = goal.brokerPools[cluster.brokerName(broker.id)] else { return false }
            return broker.targets[pool] == nil
        }
        guard unreachable.isEmpty else {
            throw ControlError("the rollback target puts \(unreachable.map { "broker \($0.id)" }.spokenList) in a pool without a target in the inventory",
                               remedy: "roll back to a later generation, or restore the inventory's targets first")
        }
        guard goal != start else {
            throw ControlError("nothing to roll back: cluster \(cluster.name) already has the target's brokers, weights and TTLs",
                               remedy: "pick an earlier generation with --to-generation")
        }
        var plan = stage(purpose: .rollback, cluster: cluster, options: options, start: start, goal: goal, caches: caches)
        plan.toPool = nil
        return plan
    }

    // MARK: - Validation

    static func findCluster(_ name: String, in inventory: Inventory) throws(ControlError) -> Cluster {
        guard let cluster = inventory.cluster(named: name) else {
            throw ControlError("no cluster named \(name) in \(inventory.sourcePath)",
                               remedy: "clusters are \(inventory.clusters.map(\.name).spokenList)")
        }
        return cluster
    }

    static func validate(_ options: CutoverOptions, cluster: Cluster) throws(ControlError) {
        guard cluster.pools.contains(options.toPool) else {
            throw ControlError("cluster \(cluster.name) has no pool \(options.toPool)", remedy: "its pools are \(cluster.pools.spokenList)")
        }
        guard cluster.bootstrap.pools.contains(where: { $0.name == options.toPool }) else {
            throw ControlError("bootstrap of cluster \(cluster.name) has no pool \(options.toPool)",
                               remedy: "its bootstrap pools are \(cluster.bootstrap.pools.map(\.name).spokenList)")
        }
        try validateStaging(options)
    }

    static func validateStaging(_ options: CutoverOptions) throws(ControlError) {
        guard options.batch >= 1 else {
            throw ControlError("--batch \(options.batch) moves no broker", remedy: "use a batch of 1 or more")
        }
        let ramp = options.ramp.map(String.init).joined(separator: ",")
        guard !options.ramp.isEmpty else {
            throw ControlError("--ramp is empty", remedy: "give increasing percentages ending at 100, like 10,50,100")
        }
        if let bad = options.ramp.first(where: { !(1...100).contains($0) }) {
            throw ControlError("--ramp \(ramp): \(bad) is outside 1–100", remedy: "give percentages from 1 to 100")
        }
        for (earlier, later) in zip(options.ramp, options.ramp.dropFirst()) where later <= earlier {
            throw ControlError("--ramp \(ramp) is not increasing (\(later) after \(earlier))", remedy: "give strictly increasing percentages, like 10,50,100")
        }
        guard options.ramp.last == 100 else {
            throw ControlError("--ramp \(ramp) ends at \(options.ramp.last!), not 100", remedy: "end the ramp at 100 so the cutover finishes")
        }
        guard options.maxUnderReplicated >= 0 else {
            throw ControlError("--max-under-replicated \(options.maxUnderReplicated) is negative", remedy: "give 0 (the default) or more")
        }
        guard options.cutoverTTL <= Shifts.maxTTL else {
            throw ControlError("cutover TTL \(options.cutoverTTL) is larger than \(Shifts.maxTTL)", remedy: "use a few seconds, like 5")
        }
    }

    // MARK: - Helpers

    /// The cluster's broker names and bootstrap name, sorted.
    static func managedNames(_ cluster: Cluster) -> [String] {
        (cluster.brokers.map { cluster.brokerName($0.id) } + [cluster.bootstrapName]).sorted()
    }

    /// The TTL each of the cluster's names is served with when no generation sets one.
    public static func inventoryTTLs(of cluster: Cluster) -> [String: UInt32] {
        var result: [String: UInt32] = [:]
        for broker in cluster.brokers { result[cluster.brokerName(broker.id)] = cluster.ttl }
        result[cluster.bootstrapName] = cluster.bootstrap.ttl
        return result
    }

    /// `state` with the inventory's defaults for any of the cluster's names it lacks.
    static func completed(_ state: ServingState, cluster: Cluster) -> ServingState {
        var result = state
        for broker in cluster.brokers where result.brokerPools[cluster.brokerName(broker.id)] == nil {
            result.brokerPools[cluster.brokerName(broker.id)] = broker.livePool
        }
        var weights = result.weights[cluster.bootstrapName] ?? [:]
        for pool in cluster.bootstrap.pools where weights[pool.name] == nil { weights[pool.name] = pool.weight }
        result.weights[cluster.bootstrapName] = weights
        return result
    }

    /// Weights `percent`% of the way from `from` to `to`, rounded to the nearest integer.
    static func interpolate(from: [String: UInt8], to: [String: UInt8], percent: UInt8) -> [String: UInt8] {
        let p = Int(percent)
        var result: [String: UInt8] = [:]
        for pool in Set(from.keys).union(to.keys) {
            let a = Int(from[pool] ?? 0), b = Int(to[pool] ?? 0)
            result[pool] = UInt8((a * (100 - p) + b * p + 50) / 100)
        }
        return result
    }

    /// The longest of `contributions` and every non-zero reason, longest first.
    static func wait(_ contributions: [(seconds: UInt32, reason: String)]) -> (seconds: UInt32, reasons: [String]) {
        let counted = contributions.enumerated().filter { $0.element.seconds > 0 }
            .sorted { $0.element.seconds != $1.element.seconds ? $0.element.seconds > $1.element.seconds : $0.offset < $1.offset }
        return (counted.first?.element.seconds ?? 0, counted.map(\.element.reason))
    }
}
