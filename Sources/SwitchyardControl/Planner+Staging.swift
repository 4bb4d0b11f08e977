import Foundation
import SwitchyardInventory

extension Planner {
    /// Builds the steps from `start` to `goal` (which differ only in the cluster's names).
    static func stage(purpose: CutoverPlan.Purpose, cluster: Cluster, options: CutoverOptions,
                      start: ServingState, goal: ServingState, caches: CacheContext? = nil) -> CutoverPlan {
        var stager = Stager(cluster: cluster, options: options, state: start)
        let moves = cluster.brokers.compactMap { broker -> Move? in
            let name = cluster.brokerName(broker.id)
            guard let from = start.brokerPools[name], let to = goal.brokerPools[name], from != to else { return nil }
            return Move(broker: broker, name: name, from: from, to: to)
        }
        let bootstrap = cluster.bootstrapName
        let weightsChange = start.weights[bootstrap] != goal.weights[bootstrap]
        var affected = moves.map(\.name)
        if !moves.isEmpty || weightsChange { affected.append(bootstrap) }
        affected.sort()
        stager.verifiedNames = affected.isEmpty ? managedNames(cluster) : affected

        // 1. Lower the TTLs that are above the cutover TTL (a name already low enough, also
        //    from an earlier run, is left alone), then wait out the highest old one.
        var lowered = start
        var notes: [String] = []
        let high = affected.filter { stager.effectiveTTL($0, in: start) > options.cutoverTTL }
        if let highest = affected.map({ stager.effectiveTTL($0, in: start) }).max(), high.isEmpty {
            notes.append("TTLs are not lowered: every affected name is already at or below the cutover TTL \(options.cutoverTTL) s (highest \(highest) s)")
        }
        for name in high { lowered.loweredTTLs[name] = options.cutoverTTL }
        if let oldest = high.max(by: { stager.effectiveTTL($0, in: start) < stager.effectiveTTL($1, in: start) }) {
            let rest = affected.count - high.count
            stager.add(.lowerTTL, touching: high, title: "lower the TTLs of \(high.count) name\(high.count == 1 ? "" : "s") to \(options.cutoverTTL) s"
                           + (rest > 0 ? " (\(rest) already at or below it)" : ""), state: lowered)
            stager.pendingWait = wait([
                (stager.effectiveTTL(oldest, in: start), "old TTL of \(oldest) is \(stager.effectiveTTL(oldest, in: start)) s"),
                (options.resolverFloorSeconds, "resolver floor \(options.resolverFloorSeconds) s (resolvers keep answers at least this long)"),
            ])
        }

        // 2. Move brokers in batches.
        for batchStart in stride(from: 0, to: moves.count, by: options.batch) {
            let batch = Array(moves[batchStart..<min(moves.count, batchStart + options.batch)])
            var next = stager.state
            for move in batch { next.brokerPools[move.name] = move.to }
            let destinations = Dictionary(grouping: batch, by: \.to).sorted { $0.key < $1.key }
                .map { "\($0.value.map { "broker-\($0.broker.id)" }.joined(separator: ", ")) to \($0.key)" }
            stager.add(.moveBrokers, touching: batch.map(\.name), title: "move \(destinations.joined(separator: "; "))", state: next,
                       gates: batch.flatMap { stager.gates(for: $0) }, drains: batch.compactMap { stager.drain(for: $0) })
        }

        // 3. Ramp bootstrap weights.
        if weightsChange, let from = start.weights[bootstrap], let to = goal.weights[bootstrap] {
            for percent in options.ramp {
                var next = stager.state
                next.weights[bootstrap] = interpolate(from: from, to: to, percent: percent)
                let direction = purpose == .rollback ? " back" : ""
                stager.add(.setBootstrapWeights, touching: [bootstrap],
                           title: "bootstrap weights \(Shifts.render(next.weights[bootstrap]!)) (ramp \(percent)%\(direction))",
                           state: next, gates: stager.weightGates(from: stager.state, to: next))
            }
        }

        // 4. Restore TTLs: drop every lowered TTL of the cluster (this run's and any a failed
        //    run left behind); the baseline is the goal's operator overrides or the inventory.
        var restored = stager.state
        for name in managedNames(cluster) {
            restored.ttls[name] = goal.ttls[name]
            restored.loweredTTLs[name] = nil
        }
        let restoredCount = Generation.changes(from: stager.state, to: restored, among: Set(managedNames(cluster))).count
        stager.add(.restoreTTL, touching: managedNames(cluster), title: "restore the TTLs of \(restoredCount) name\(restoredCount == 1 ? "" : "s")", state: restored)

        var plan = CutoverPlan(purpose: purpose, cluster: cluster.name, origin: cluster.origin, toPool: options.toPool, options: options,
                           names: managedNames(cluster), startState: start, startVerify: stager.expectations(for: start),
                           steps: stager.steps, hooks: options.invalidationHooks)
        // Each step's expectations follow from these; the horizons and warnings below read them.
        plan.verifiedNames = stager.verifiedNames
        plan.targets = stager.targets
        if let caches { waitForCaches(&plan, caches: caches) }
        plan.notes = notes.isEmpty ? nil : notes
        let warnings = stager.shortDrains.sorted { $0.key < $1.key }.map { entry in
            shortDrainWarning(plan, step: entry.key, hold: entry.value)
        }
        plan.warnings = warnings.isEmpty ? nil : warnings
        return plan
    }

    /// `--drain-after` shorter than caches may hold the old answer of step `index`: what the
    /// operator overrode, in words naming the step, the names, the targets and how long.
    static func shortDrainWarning(_ plan: CutoverPlan, step index: Int, hold: (seconds: UInt32, reasons: [String])) -> String {
        let step = plan.steps[index]
        let after = step.drainAfter ?? 0
        let targets = step.drains.map { "\($0.oldTarget) (broker \($0.broker))" }.spokenList
        return "step \(index + 1)/\(plan.steps.count) (\(step.title)): --drain-after \(after) s drains \(targets) \(after) s after the step "
            + "is first served, but caches may hold the old answer of \(plan.answerNames(of: index).spokenList) for \(hold.seconds) s "
            + "(\(hold.reasons.first ?? "")): a client may still connect to a drained target until then. "
            + "Leave out --drain-after to wait \(hold.seconds) s"
    }

    struct Move {
        var broker: Broker
        var name: String
        var from: String
        var to: String
    }

    /// Accumulates steps, carrying the state and the wait owed before the next step.
    struct Stager {
        let cluster: Cluster
        let options: CutoverOptions
        /// The cluster's targets, from which what the names answer in a state follows.
        let targets: PlanTargets
        var state: ServingState
        var steps: [PlanStep] = []
        var pendingWait: (seconds: UInt32, reasons: [String]) = (0, [])
        /// The names each step verifies.
        var verifiedNames: [String] = []
        /// Step index → how long caches may hold the old answer, for steps whose
        /// `--drain-after` is shorter than that.
        var shortDrains: [Int: (seconds: UInt32, reasons: [String])] = [:]

        init(cluster: Cluster, options: CutoverOptions, state: ServingState) {
            self.cluster = cluster; self.options = options; self.state = state
            targets = PlanTargets(cluster)
        }

        func effectiveTTL(_ name: String, in state: ServingState) -> UInt32 {
            if let ttl = state.servedTTL(of: name) { return ttl }
            return name == cluster.bootstrapName ? cluster.bootstrap.ttl : cluster.ttl
        }

        /// Appends a step unless it changes nothing. `next` differs from the current state in no
        /// name but `touched` ones (comparing every stable name of every cluster at each of
        /// hundreds of steps made planning quadratic).
        mutating func add(_ kind: PlanStep.Kind, touching touched: [String], title: String, state next: ServingState,
                          gates: [GateCheck] = [], drains: [DrainAction] = []) {
            let changes = Generation.changes(from: state, to: next, among: Set(touched))
            guard !changes.isEmpty else { return }
            var step = PlanStep(
                index: steps.count, kind: kind, title: title, waitBefore: pendingWait.seconds, waitReasons: pendingWait.reasons,
                state: next, changes: changes, gates: gates, drains: drains,
                dwellSeconds: kind == .moveBrokers || kind == .setBootstrapWeights ? options.dwellSeconds : 0)
            if !drains.isEmpty {
                // The moved names, and the bootstrap when its answer held their old targets.
                let hold = cacheHold(for: answerNames(changes, from: state, to: next), before: state)
                if let seconds = options.drainAfterSeconds {
                    // The operator's override stands; shorter than caches may hold the old
                    // answer, it is said here and in the plan's warnings.
                    let short = seconds < hold.seconds
                    step.drainAfter = seconds
                    step.drainReasons = ["--drain-after \(seconds) s"]
                        + (short ? ["WARNING: shorter than caches may hold the old answer, \(hold.seconds) s: \(hold.reasons[0])"] : [])
                    if short { shortDrains[steps.count] = hold }
                } else {
                    (step.drainAfter, step.drainReasons) = hold
                }
            }
            steps.append(step)
            // Answers this step replaced were cached with the TTLs in force before it.
            let ttlName = verifiedNames.max { effectiveTTL($0, in: state) < effectiveTTL($1, in: state) }
            let ttl = ttlName.map { effectiveTTL($0, in: state) } ?? 0
            pendingWait = Planner.wait([
                (ttl, "TTL during the cutover is \(ttl) s (\(ttlName ?? "-"))"),
                (options.jvmCacheSeconds, "JVM caches resolved addresses for \(options.jvmCacheSeconds) s (networkaddress.cache.ttl)"),
                (options.resolverFloorSeconds, "resolver floor \(options.resolverFloorSeconds) s (resolvers keep answers at least this long)"),
            ])
            state = next
        }

        /// The names whose answers change from `state` to `next`: those whose setting
        /// `changes` lists, and those whose expected answer moves with them (the bootstrap
        /// name when a broker leaves or joins an implicit pool). As ``CutoverPlan/answerNames(of:)``.
        func answerNames(_ changes: [NameChange], from state: ServingState, to next: ServingState) -> [String] {
            let before = expectations(for: state), after = expectations(for: next)
            var names = Set(changes.map(\.name))
            for name in verifiedNames where before.filter({ $0.name == name }) != after.filter({ $0.name == name }) { names.insert(name) }
            return names.sorted()
        }

        /// How long after a step's answers are first served its old targets may be drained:
        /// every client that cached an old answer of `names` must have let go of it, so a
        /// client that reconnects goes to the new target, never to a stopped one (SPEC
        /// "Cutover controller"). `--drain-after` overrides it.
        func cacheHold(for names: [String], before state: ServingState) -> (seconds: UInt32, reasons: [String]) {
            let ttlName = names.max { effectiveTTL($0, in: state) < effectiveTTL($1, in: state) }
            let ttl = ttlName.map { effectiveTTL($0, in: state) } ?? 0
            let (seconds, reasons) = Planner.wait([
                (ttl, "the old answer of \(ttlName ?? "-") was served with TTL \(ttl) s"),
                (options.jvmCacheSeconds, "JVM clients cache the old address for \(options.jvmCacheSeconds) s (networkaddress.cache.ttl)"),
                (options.resolverFloorSeconds, "resolver floor \(options.resolverFloorSeconds) s"),
            ])
            return (seconds, reasons)
        }

        /// The broker's new target checked by the cluster's gate kind (Kafka metadata against
        /// the target being left, or TCP on the cluster port), then each gate command.
        func gates(for move: Move) -> [GateCheck] {
            guard let target = move.broker.targets[move.to] else { return [] }
            let leaving = move.broker.targets[move.from].map { [$0.description] } ?? []
            var gates = [GateCheck(check: targetCheck(target, broker: move.broker.id, leaving: leaving), name: move.name, broker: move.broker.id)]
            for command in options.gateCommands {
                // {run} and {generation} are filled in when the gate runs.
                let filled = Placeholders.fill(command, ["broker": String(move.broker.id), "target": target.description,
                                            "port": String(cluster.port), "cluster": cluster.name, "name": move.name])
                gates.append(GateCheck(check: .command(filled), name: move.name, broker: move.broker.id))
            }
            return gates
        }

        /// What a gate checks at `target`: Kafka metadata (`gate: kafka`, the default) or a
        /// TCP connection (`gate: tcp`).
        func targetCheck(_ target: Target, broker: Int?, leaving: [String]) -> GateCheck.Check {
            switch cluster.gate {
            case .tcp:
                return .tcpConnect(target: target.description, port: cluster.port)
            case .kafka:
                return .kafka(KafkaGateSpec(target: target.description, port: cluster.port, broker: broker, cluster: cluster.name,
                                            origin: cluster.origin, leaving: leaving.filter { $0 != target.description },
                                            maxUnderReplicated: options.maxUnderReplicated))
            }
        }

        func drain(for move: Move) -> DrainAction? {
            guard let command = options.drainCommand, let old = move.broker.targets[move.from],
                  let new = move.broker.targets[move.to] else { return nil }
            // {run} and {generation} are filled in when the drain runs.
            let filled = Placeholders.fill(command, ["broker": String(move.broker.id), "old_target": old.description,
                                        "new_target": new.description, "cluster": cluster.name, "name": move.name,
                                        "port": String(cluster.port)])
            return DrainAction(broker: move.broker.id, oldTarget: old.description, newTarget: new.description, command: filled)
        }

        /// Every target of the bootstrap pools whose weight grows, checked by the cluster's gate
        /// kind; a Kafka gate compares cluster ids with the targets of the pools losing weight.
        func weightGates(from before: ServingState, to after: ServingState) -> [GateCheck] {
            let old = before.weights[cluster.bootstrapName] ?? [:], new = after.weights[cluster.bootstrapName] ?? [:]
            var leaving: [String] = []
            for pool in cluster.bootstrap.pools where (new[pool.name] ?? 0) < (old[pool.name] ?? 0) {
                // Brokers move before the ramp, so an implicit pool losing weight is usually
                // empty by now: its brokers' targets there are still the ones being left.
                var targets = members(of: pool, in: before).map(\.target)
                if targets.isEmpty && pool.targets == nil { targets = cluster.brokers.compactMap { $0.targets[pool.name] } }
                for target in targets where !leaving.contains(target.description) { leaving.append(target.description) }
            }
            var gates: [GateCheck] = []
            for pool in cluster.bootstrap.pools where (new[pool.name] ?? 0) > (old[pool.name] ?? 0) {
                for member in members(of: pool, in: after) {
                    let gate = GateCheck(check: targetCheck(member.target, broker: member.broker, leaving: leaving),
                                         name: cluster.bootstrapName, broker: member.broker)
                    if !gates.contains(gate) { gates.append(gate) }
                }
            }
            return gates
        }

        /// A bootstrap pool's explicit targets, or the brokers living in it in `state`.
        func members(of pool: WeightedPool, in state: ServingState) -> [(broker: Int?, target: Target)] {
            if let targets = pool.targets { return targets.map { (nil, $0) } }
            return cluster.brokers.compactMap { broker in
                guard state.brokerPools[cluster.brokerName(broker.id)] == pool.name, let target = broker.targets[pool.name] else { return nil }
                return (broker.id, target)
            }
        }

        /// What the verified names answer in `state` (``PlanTargets/expectations(for:names:)``).
        func expectations(for state: ServingState) -> [AnswerExpectation] {
            targets.expectations(for: state, names: verifiedNames)
        }
    }
}
