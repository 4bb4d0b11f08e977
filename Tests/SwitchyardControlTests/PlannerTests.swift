import Foundation
import Testing
import SwitchyardControl
import SwitchyardInventory

@Suite("Planner")
struct PlannerTests {
    func plan(_ options: CutoverOptions, _ cluster: Cluster = Fixture.orders(), state: ServingState? = nil) throws(ControlError) -> CutoverPlan {
        let inventory = Fixture.inventory(cluster)
        return try Planner.plan(options: options, inventory: inventory, state: state ?? Fixture.state(inventory))
    }

    struct WaitCase: Sendable, CustomTestStringConvertible {
        var label: String
        var oldTTL: UInt32
        var cutoverTTL: UInt32
        var jvm: UInt32
        var floor: UInt32
        var afterLowering: UInt32
        var afterLoweringReason: String
        var between: UInt32
        var betweenReason: String
        var testDescription: String { label }
    }

    static let waitCases: [WaitCase] = [
        WaitCase(label: "old TTL 60 vs cutover TTL 5, no JVM", oldTTL: 60, cutoverTTL: 5, jvm: 0, floor: 0,
                 afterLowering: 60, afterLoweringReason: "old TTL of bootstrap.orders.kafka.example. is 60 s",
                 between: 5, betweenReason: "TTL during the cutover is 5 s"),
        WaitCase(label: "JVM 30 s dominates", oldTTL: 60, cutoverTTL: 5, jvm: 30, floor: 0,
                 afterLowering: 60, afterLoweringReason: "old TTL of bootstrap.orders.kafka.example. is 60 s",
                 between: 30, betweenReason: "JVM caches resolved addresses for 30 s (networkaddress.cache.ttl)"),
        WaitCase(label: "resolver floor 45 s dominates", oldTTL: 60, cutoverTTL: 5, jvm: 30, floor: 45,
                 afterLowering: 60, afterLoweringReason: "old TTL of bootstrap.orders.kafka.example. is 60 s",
                 between: 45, betweenReason: "resolver floor 45 s"),
        WaitCase(label: "floor above the old TTL", oldTTL: 30, cutoverTTL: 5, jvm: 30, floor: 90,
                 afterLowering: 90, afterLoweringReason: "resolver floor 90 s",
                 between: 90, betweenReason: "resolver floor 90 s"),
        WaitCase(label: "cutover TTL dominates", oldTTL: 300, cutoverTTL: 40, jvm: 30, floor: 10,
                 afterLowering: 300, afterLoweringReason: "old TTL of bootstrap.orders.kafka.example. is 300 s",
                 between: 40, betweenReason: "TTL during the cutover is 40 s"),
    ]

    @Test("waits and their reasons", arguments: waitCases)
    func waits(_ c: WaitCase) throws {
        // Broker names keep TTL 20 so the bootstrap's old TTL is the highest.
        let cluster = Fixture.orders(brokers: 2, ttl: 20, bootstrapTTL: c.oldTTL)
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", cutoverTTL: c.cutoverTTL, jvmCacheSeconds: c.jvm,
                                        resolverFloorSeconds: c.floor), cluster)
        #expect(p.steps.map(\.kind) == [.lowerTTL, .moveBrokers, .moveBrokers, .setBootstrapWeights, .restoreTTL])
        #expect(p.steps[0].waitBefore == 0)
        #expect(p.steps[0].waitReasons.isEmpty)
        #expect(p.steps[1].waitBefore == c.afterLowering)
        #expect(p.steps[1].waitReasons.first?.hasPrefix(c.afterLoweringReason) == true, "\(p.steps[1].waitReasons)")
        for step in p.steps.dropFirst(2) {
            #expect(step.waitBefore == c.between)
            #expect(step.waitReasons.first?.hasPrefix(c.betweenReason) == true, "\(step.waitReasons)")
        }
        // Every non-zero factor is listed, the longest first.
        let expectedCount = [c.cutoverTTL, c.jvm, c.floor].filter { $0 > 0 }.count
        #expect(p.steps[2].waitReasons.count == expectedCount)
        // Only TTLs above the cutover TTL are lowered, and apart from the baseline.
        var lowered: [String: UInt32] = [:]
        for (name, ttl) in [(Fixture.broker(1), UInt32(20)), (Fixture.broker(2), 20), (Fixture.bootstrap, c.oldTTL)] where ttl > c.cutoverTTL {
            lowered[name] = c.cutoverTTL
        }
        #expect(p.steps[0].state.loweredTTLs == lowered)
        #expect(p.steps[0].state.ttls.isEmpty)
    }

    @Test("brokers move in batches", arguments: [
        (5, 2, [[1, 2], [3, 4], [5]]),
        (5, 1, [[1], [2], [3], [4], [5]]),
        (5, 5, [[1, 2, 3, 4, 5]]),
        (3, 10, [[1, 2, 3]]),
    ])
    func batches(_ brokers: Int, _ batch: Int, _ groups: [[Int]]) throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", batch: batch), Fixture.orders(brokers: brokers))
        let moves = p.steps.filter { $0.kind == .moveBrokers }
        #expect(moves.map { $0.changes.map(\.name) } == groups.map { $0.map(Fixture.broker) })
        var lived = Set<Int>()
        for (step, group) in zip(moves, groups) {
            lived.formUnion(group)
            for id in 1...brokers {
                #expect(step.state.brokerPools[Fixture.broker(id)] == (lived.contains(id) ? "pod" : "vm"))
            }
            #expect(step.title == "move \(group.map { "broker-\($0)" }.joined(separator: ", ")) to pod")
        }
    }

    @Test("bootstrap ramps after the brokers", arguments: [
        ([10, 50, 100] as [UInt8], [[90, 10], [50, 50], [0, 100]]),
        ([100], [[0, 100]]),
        ([25, 100], [[75, 25], [0, 100]]),
        ([1, 2, 3, 100], [[99, 1], [98, 2], [97, 3], [0, 100]]),
    ])
    func ramps(_ ramp: [UInt8], _ weights: [[UInt8]]) throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", ramp: ramp))
        let kinds = p.steps.map(\.kind)
        #expect(kinds == [.lowerTTL, .moveBrokers, .moveBrokers, .moveBrokers]
                + Array(repeating: .setBootstrapWeights, count: ramp.count) + [.restoreTTL])
        let ramps = p.steps.filter { $0.kind == .setBootstrapWeights }
        #expect(ramps.map { $0.state.weights[Fixture.bootstrap]! } == weights.map { ["vm": $0[0], "pod": $0[1]] })
        #expect(ramps.map(\.title).first == "bootstrap weights pod=\(weights[0][1]),vm=\(weights[0][0]) (ramp \(ramp[0])%)")
        // Brokers are all in pod before bootstrap gets any weight there.
        let firstRamp = try #require(ramps.first)
        #expect((1...3).allSatisfy { firstRamp.state.brokerPools[Fixture.broker($0)] == "pod" })
    }

    @Test("a ramp step gates on the targets of the pool that gains weight")
    func rampGates() throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", brokers: [1, 2], ramp: [50, 100]))
        let ramp = try #require(p.steps.first { $0.kind == .setBootstrapWeights })
        #expect(ramp.gates == [1, 2].map { GateCheck(check: .tcpConnect(target: Fixture.pod($0), port: 9092), name: Fixture.bootstrap, broker: $0) })
        // Bootstrap at 50/50: broker 3 still in vm, 1 and 2 in pod; every address may answer.
        #expect(p.verify(after: ramp.index).first == AnswerExpectation(name: Fixture.bootstrap, type: .a,
                                                      allowed: [Fixture.vm(3), Fixture.pod(1), Fixture.pod(2)].sorted(), rule: .subset))
    }

    @Test("move gates, drains and verify for each moved broker")
    func gatesDrainsVerify() throws {
        let cluster = Fixture.orders(brokers: 2, podHostname: [2])
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", batch: 2,
                                        gateCommands: ["kcheck --cluster {cluster} --node {broker} {target}:{port}"],
                                        drainCommand: "drain {cluster} {broker} {old_target} -> {new_target}"), cluster)
        let move = try #require(p.steps.first { $0.kind == .moveBrokers })
        #expect(move.gates == [
            GateCheck(check: .tcpConnect(target: Fixture.pod(1), port: 9092), name: Fixture.broker(1), broker: 1),
            GateCheck(check: .command("kcheck --cluster orders --node 1 10.8.1.11:9092"), name: Fixture.broker(1), broker: 1),
            GateCheck(check: .tcpConnect(target: "orders-2.pods.kafka.example.", port: 9092), name: Fixture.broker(2), broker: 2),
            GateCheck(check: .command("kcheck --cluster orders --node 2 orders-2.pods.kafka.example.:9092"), name: Fixture.broker(2), broker: 2),
        ])
        #expect(move.drains == [
            DrainAction(broker: 1, oldTarget: Fixture.vm(1), newTarget: Fixture.pod(1), command: "drain orders 1 10.0.1.11 -> 10.8.1.11"),
            DrainAction(broker: 2, oldTarget: Fixture.vm(2), newTarget: "orders-2.pods.kafka.example.",
                        command: "drain orders 2 10.0.1.12 -> orders-2.pods.kafka.example."),
        ])
        #expect(p.verify(after: move.index) == [
            // Bootstrap still weighs vm 100, but vm is empty now: the zero-weight pod pool answers.
            AnswerExpectation(name: Fixture.bootstrap, type: .a, allowed: [Fixture.pod(1), "orders-2.pods.kafka.example."], rule: .subset),
            AnswerExpectation(name: Fixture.broker(1), type: .a, allowed: [Fixture.pod(1)], rule: .exactly),
            AnswerExpectation(name: Fixture.broker(2), type: .cname, allowed: ["orders-2.pods.kafka.example."], rule: .exactly),
        ])
        #expect(p.startVerify.first == AnswerExpectation(name: Fixture.bootstrap, type: .a, allowed: [Fixture.vm(1), Fixture.vm(2)], rule: .subset))
        #expect(p.steps[0].gates.isEmpty && p.steps[0].drains.isEmpty)
    }

    @Test("--brokers moves only those; the last step removes exactly the cutover's TTL overrides")
    func subsetAndRestore() throws {
        var start = Fixture.state()
        start.ttls[Fixture.registry] = 600 // not the cutover's business
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", brokers: [3, 1]), state: start)
        #expect(p.steps.filter { $0.kind == .moveBrokers }.map { $0.changes.map(\.name) } == [[Fixture.broker(1)], [Fixture.broker(3)]])
        var expected = start
        expected.brokerPools[Fixture.broker(1)] = "pod"
        expected.brokerPools[Fixture.broker(3)] = "pod"
        expected.weights[Fixture.bootstrap] = ["vm": 0, "pod": 100]
        #expect(p.finalState == expected)
        #expect(p.steps[0].state.ttls == [Fixture.registry: 600])
        #expect(p.steps[0].state.loweredTTLs == [Fixture.broker(1): 5, Fixture.broker(3): 5, Fixture.bootstrap: 5])
        #expect(p.steps.last?.kind == .restoreTTL)
        #expect(p.finalState.loweredTTLs.isEmpty)
    }

    struct BadOptions: Sendable, CustomTestStringConvertible {
        var label: String
        var options: CutoverOptions
        var cluster: Cluster = Fixture.orders()
        var says: [String]
        var testDescription: String { label }
    }

    static let bad: [BadOptions] = [
        BadOptions(label: "unknown cluster", options: CutoverOptions(cluster: "billing", toPool: "pod"),
                   says: ["no cluster named billing in zones/kafka.example.yaml", "clusters are orders and payments"]),
        BadOptions(label: "unknown pool", options: CutoverOptions(cluster: "orders", toPool: "k8s"),
                   says: ["cluster orders has no pool k8s", "its pools are vm and pod"]),
        BadOptions(label: "unknown broker", options: CutoverOptions(cluster: "orders", toPool: "pod", brokers: [1, 8]),
                   says: ["cluster orders has no broker 8", "its brokers are 1, 2 and 3"]),
        BadOptions(label: "broker listed twice", options: CutoverOptions(cluster: "orders", toPool: "pod", brokers: [1, 1]),
                   says: ["--brokers lists 1 more than once"]),
        BadOptions(label: "broker without a target in the pool", options: CutoverOptions(cluster: "orders", toPool: "pod"),
                   cluster: Fixture.orders(noPod: [2]),
                   says: ["broker 2 (targets in vm) of cluster orders has no target in pool pod", "--brokers 1,3"]),
        BadOptions(label: "ramp not increasing", options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: [50, 10, 100]),
                   says: ["--ramp 50,10,100 is not increasing (10 after 50)"]),
        BadOptions(label: "ramp repeats", options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: [50, 50, 100]),
                   says: ["is not increasing"]),
        BadOptions(label: "ramp above 100", options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: [50, 101]),
                   says: ["--ramp 50,101: 101 is outside 1–100"]),
        BadOptions(label: "ramp at 0", options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: [0, 100]),
                   says: ["0 is outside 1–100"]),
        BadOptions(label: "ramp not ending at 100", options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: [10, 50]),
                   says: ["--ramp 10,50 ends at 50, not 100"]),
        BadOptions(label: "empty ramp", options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: []),
                   says: ["--ramp is empty"]),
        BadOptions(label: "batch 0", options: CutoverOptions(cluster: "orders", toPool: "pod", batch: 0),
                   says: ["--batch 0 moves no broker"]),
        BadOptions(label: "nothing to do", options: CutoverOptions(cluster: "orders", toPool: "vm"),
                   says: ["nothing to do", "already live in vm"]),
    ]

    @Test("refused plans", arguments: bad)
    func refused(_ c: BadOptions) {
        do {
            _ = try plan(c.options, c.cluster)
            Issue.record("\(c.label) was planned")
        } catch {
            for piece in c.says { #expect(error.description.contains(piece), "\(error.description)") }
        }
    }

    @Test("planning again after the cutover finds nothing to do")
    func nothingLeft() throws {
        let first = try plan(CutoverOptions(cluster: "orders", toPool: "pod"))
        #expect(throws: ControlError.self) {
            try plan(CutoverOptions(cluster: "orders", toPool: "pod"), state: first.finalState)
        }
    }

    @Test("a plan survives JSON (journal, admin API)")
    func codable() throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", ramp: [10, 100], gateCommands: ["x {broker}"],
                                        drainCommand: "d {broker}", invalidationHooks: ["rndc flushname {name}"]))
        let data = try JSONEncoder().encode(p)
        #expect(try JSONDecoder().decode(CutoverPlan.self, from: data) == p)
    }

    @Test("render prints numbered steps, waits with reasons, gates, verify and hooks")
    func render() throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", brokers: [1], ramp: [50, 100], resolverFloorSeconds: 10,
                                        invalidationHooks: ["unbound-control flush_zone kafka.example."]),
                         Fixture.orders(brokers: 1))
        let text = p.render()
        let expected = """
        Cutover of cluster orders (kafka.example.) to pool pod: brokers 1, batch 1, ramp 50,100
        5 steps, about 2 min 30 s of waiting; verify timeout 30 s per step

        Step 1/5: lower the TTLs of 2 names to 5 s
          wait before: none
          changes:
            bootstrap.orders.kafka.example.  pod=0,vm=100 -> pod=0,vm=100 lowered-ttl=5
            broker-1.orders.kafka.example.  live=vm -> live=vm lowered-ttl=5
          gates: none
          verify: 2 names, answering as before the step

        Step 2/5: move broker-1 to pod
          wait before: 60 s
            - old TTL of bootstrap.orders.kafka.example. is 60 s
            - resolver floor 10 s (resolvers keep answers at least this long)
          changes:
            broker-1.orders.kafka.example.  live=vm lowered-ttl=5 -> live=pod lowered-ttl=5
          gates:
            - broker 1: TCP connect to 10.8.1.11:9092
          verify: 2 names; the answers that change:
            - bootstrap.orders.kafka.example. A ⊆ {10.8.1.11}
            - broker-1.orders.kafka.example. A = 10.8.1.11

        """
        #expect(text.hasPrefix(expected), "\(text)")
        #expect(text.contains("""
        Step 3/5: bootstrap weights pod=50,vm=50 (ramp 50%)
          wait before: 30 s
            - JVM caches resolved addresses for 30 s (networkaddress.cache.ttl)
            - resolver floor 10 s (resolvers keep answers at least this long)
            - TTL during the cutover is 5 s (bootstrap.orders.kafka.example.)
        """))
        #expect(text.hasSuffix("""
        After each step, invalidate caches with:
          - unbound-control flush_zone kafka.example.

        """))
    }

    @Test("a drain waits max(old TTL, JVM cache, resolver floor) after the flip, or --drain-after")
    func drainWait() throws {
        let options = CutoverOptions(cluster: "orders", toPool: "pod", cutoverTTL: 5, jvmCacheSeconds: 30, resolverFloorSeconds: 12,
                                     drainCommand: "stop {old_target}")
        let p = try plan(options, Fixture.orders(brokers: 1))
        let move = try #require(p.steps.first { $0.kind == .moveBrokers })
        #expect(move.drains.map(\.command) == ["stop 10.0.1.11"])
        #expect(move.drainAfter == 30)
        #expect(move.drainReasons?.first == "JVM clients cache the old address for 30 s (networkaddress.cache.ttl)")
        #expect(move.drainReasons?.count == 3)
        #expect(p.render().contains("drain after: 30 s"))

        // A cutover TTL above the JVM cache is what clients may keep.
        let long = try plan(CutoverOptions(cluster: "orders", toPool: "pod", cutoverTTL: 50, jvmCacheSeconds: 30, drainCommand: "x"),
                            Fixture.orders(brokers: 1))
        #expect(long.steps.first { $0.kind == .moveBrokers }?.drainAfter == 50)

        var explicit = options
        explicit.drainAfterSeconds = 7
        let overridden = try plan(explicit, Fixture.orders(brokers: 1))
        #expect(overridden.steps.first { $0.kind == .moveBrokers }?.drainAfter == 7)
        #expect(overridden.steps.first { $0.kind == .moveBrokers }?.drainReasons?.first == "--drain-after 7 s")
    }

    @Test("--drain-after shorter than caches may hold the old answer: the plan warns, naming the step, the name and how long")
    func shortDrainAfterWarns() throws {
        var options = CutoverOptions(cluster: "orders", toPool: "pod", cutoverTTL: 5, jvmCacheSeconds: 30, resolverFloorSeconds: 12,
                                     drainCommand: "stop {old_target}")
        options.drainAfterSeconds = 7
        let p = try plan(options, Fixture.orders(brokers: 2))
        // The operator's override stands: the drain runs 7 s after the flip.
        #expect(p.steps.filter { $0.kind == .moveBrokers }.allSatisfy { $0.drainAfter == 7 })
        let warnings = try #require(p.warnings)
        #expect(warnings.count == 2)
        #expect(warnings[0] == "step 2/5 (move broker-1 to pod): --drain-after 7 s drains 10.0.1.11 (broker 1) 7 s after the step is first served, "
                + "but caches may hold the old answer of bootstrap.orders.kafka.example. and broker-1.orders.kafka.example. for 30 s "
                + "(JVM clients cache the old address for 30 s (networkaddress.cache.ttl)): a client may still connect to a drained target "
                + "until then. Leave out --drain-after to wait 30 s")
        #expect(warnings[1].hasPrefix("step 3/5 (move broker-2 to pod): --drain-after 7 s drains 10.0.1.12 (broker 2)"))
        let text = p.render()
        #expect(text.contains("  drain after: 7 s from when the step is first served\n    - --drain-after 7 s\n"
                              + "    - WARNING: shorter than caches may hold the old answer, 30 s: JVM clients cache"), "\(text)")
        // The admin API's reply carries them as warnings, as a shift's does.
        #expect(AdminAPI.PlanReply(plan: p).warnings == warnings)
        // Journaled with the run (the JSON written out by hand, not the synthesized one).
        let journaled = try JSONDecoder().decode(CutoverPlan.self, from: try JSONEncoder().encode(p))
        #expect(journaled.warnings == warnings)
        #expect(journaled == p)

        // Long enough, or no drain at all: nothing to warn about.
        options.drainAfterSeconds = 30
        #expect(try plan(options, Fixture.orders(brokers: 2)).warnings == nil)
        options.drainAfterSeconds = 7
        options.drainCommand = nil
        #expect(try plan(options, Fixture.orders(brokers: 2)).warnings == nil)
        // A rollback plan warns the same way.
        var moved = Fixture.state(Fixture.inventory(Fixture.orders(brokers: 2)))
        moved.brokerPools[Fixture.broker(1)] = "pod"
        options.drainCommand = "stop {old_target}"
        let back = try Planner.rollback(from: moved, to: Fixture.state(Fixture.inventory(Fixture.orders(brokers: 2))),
                                        inventory: Fixture.inventory(Fixture.orders(brokers: 2)), options: options)
        #expect(back.warnings?.first?.contains("--drain-after 7 s drains 10.8.1.11 (broker 1)") == true, "\(back.warnings ?? [])")
    }

    @Test("a drain waits for the bootstrap's TTL too when the moved broker leaves the bootstrap's answer")
    func drainWaitsForBootstrapTTL() throws {
        // Nothing is lowered (every TTL at or below the cutover TTL), and the bootstrap's TTL
        // is longer than the broker's and the JVM's: a client holding the bootstrap's answer
        // keeps 10.0.1.11 for 20 s after the flip.
        let options = CutoverOptions(cluster: "orders", toPool: "pod", cutoverTTL: 30, jvmCacheSeconds: 5, drainCommand: "stop {old_target}")
        let p = try plan(options, Fixture.orders(brokers: 2, ttl: 1, bootstrapTTL: 20))
        let move = try #require(p.steps.first { $0.kind == .moveBrokers })
        #expect(move.drainAfter == 20)
        #expect(move.drainReasons?.first == "the old answer of bootstrap.orders.kafka.example. was served with TTL 20 s")
        // With explicit bootstrap targets the broker's old target is never in that answer.
        var explicit = Fixture.orders(brokers: 2, ttl: 1, bootstrapTTL: 20)
        explicit.bootstrap.pools = [WeightedPool(name: "vm", weight: 100, targets: [Fixture.ipv4("10.0.9.1")]),
                                    WeightedPool(name: "pod", weight: 0, targets: [Fixture.ipv4("10.8.9.1")])]
        #expect(try plan(options, explicit).steps.first { $0.kind == .moveBrokers }?.drainAfter == 5)
    }

    @Test("TTLs lowered by a failed run are not the baseline: no second lowering, and the run restores the inventory's")
    func loweredTTLIsNotABaseline() throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2))
        var start = Fixture.state(inventory)
        // A failed run left every name at 5 s and broker 1 in pod.
        for name in [Fixture.broker(1), Fixture.broker(2), Fixture.bootstrap] { start.loweredTTLs[name] = 5 }
        start.brokerPools[Fixture.broker(1)] = "pod"
        let p = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: inventory, state: start)
        #expect(!p.steps.contains { $0.kind == .lowerTTL })
        #expect(p.notes == ["TTLs are not lowered: every affected name is already at or below the cutover TTL 5 s (highest 5 s)"])
        #expect(p.render().contains("TTLs are not lowered"))
        #expect(p.steps.first?.waitBefore == 0)
        #expect(p.finalState.loweredTTLs.isEmpty)
        #expect(p.finalState.ttls.isEmpty)
        #expect(p.steps.last?.kind == .restoreTTL)

        // A rollback restores the baseline too, and keeps an operator's TTL override.
        var current = p.finalState
        current.ttls[Fixture.bootstrap] = 120
        current.loweredTTLs[Fixture.broker(2)] = 5
        let back = try Planner.rollback(from: current, to: Fixture.state(inventory), inventory: inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: ""))
        #expect(back.finalState.loweredTTLs.isEmpty)
        #expect(back.finalState.brokerPools == Fixture.state(inventory).brokerPools)
    }

    @Test("a rollback plan gates the targets returned to and drains the ones left")
    func rollbackGatesAndDrains() throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2))
        let start = Fixture.state(inventory)
        let forward = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: inventory, state: start)
        let back = try Planner.rollback(from: forward.finalState, to: start, inventory: inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: "", drainCommand: "stop {old_target}"))
        #expect(back.purpose == .rollback)
        #expect(back.finalState == start)
        let moves = back.steps.filter { $0.kind == .moveBrokers }
        #expect(moves.flatMap(\.gates).map(\.description) == ["broker 1: TCP connect to 10.0.1.11:9092", "broker 2: TCP connect to 10.0.1.12:9092"])
        #expect(moves.flatMap(\.drains).map(\.command) == ["stop 10.8.1.11", "stop 10.8.1.12"])
        #expect(moves.allSatisfy { $0.drainAfter == 30 })
    }

    @Test("broker 0 is a node id like any other")
    func brokerZero() throws {
        #expect(try CutoverOptions.parseBrokers("0,3") == [0, 3])
        #expect(throws: ControlError.self) { try CutoverOptions.parseBrokers("-1") }
        #expect(throws: ControlError.self) { try CutoverOptions.parseBrokers("2147483648") }
    }
}
