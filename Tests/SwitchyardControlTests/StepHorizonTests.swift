import Foundation
import Testing
import SwitchyardControl
import SwitchyardInventory

/// Each answer-changing step waits for the cache horizons of the names it changes, not for
/// those of every name the plan changes (`Planner+CacheHorizons.swift` has the argument).
@Suite("Cache horizons per step")
struct StepHorizonTests {
    static func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }
    static let drain = "drain {old_target}"

    /// `name` served with TTL `ttl` by generation 1 until `loweredAt`, then by generation 2
    /// (live) with the inventory's TTL; `base` is the state both serve.
    static func lowered(_ name: String, ttl: UInt32 = 3600, at loweredAt: Double, base: ServingState) -> [Generation] {
        var high = base
        high.ttls[name] = ttl
        return [Generation(number: 2, createdAt: at(loweredAt), actor: "cli:test", reason: "shift", state: base, changes: [], serials: [:]),
                Generation(number: 1, createdAt: at(loweredAt - 5_000), actor: "cli:test", reason: "shift", state: high, changes: [], serials: [:])]
    }

    static func context(_ cluster: Cluster, _ history: [Generation], now: Double) throws -> CacheContext {
        let defaults = Planner.inventoryTTLs(of: cluster)
        return CacheContext(now: at(now), horizons: CacheHorizons.compute(history: history, defaultTTLs: defaults, now: at(now)),
                            live: try #require(history.first), defaultTTLs: defaults)
    }

    /// Three brokers at TTL 5 (no lowering step), broker-3 served with TTL 3600 until 60 s
    /// before `now`: its caches hold until now + 3540.
    static func brokerThreeLowered(now: Double) throws -> (Inventory, CutoverPlan) {
        let cluster = Fixture.orders(brokers: 3, ttl: 5, bootstrapTTL: 5)
        let inventory = Fixture.inventory(cluster)
        let caches = try context(cluster, lowered(Fixture.broker(3), at: now - 60, base: Fixture.state(inventory)), now: now)
        let plan = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: drain), inventory: inventory,
                                    state: Fixture.state(inventory), caches: caches)
        return (inventory, plan)
    }

    @Test("a step moving broker-1 does not wait for broker-3's horizon; the step moving broker-3 does")
    func ownNamesOnly() throws {
        let (_, plan) = try Self.brokerThreeLowered(now: 1000)
        #expect(plan.steps.map(\.kind) == [.moveBrokers, .moveBrokers, .moveBrokers, .setBootstrapWeights])
        // broker-1 and broker-2 go at once and 30 s later (the JVM's cache between steps).
        #expect(plan.steps[0].waitBefore == 0 && plan.steps[0].waitUntil == nil)
        #expect(plan.steps[1].waitBefore == 30 && plan.steps[1].waitUntil == nil)
        #expect(plan.steps[0].drainNotBefore == nil && plan.steps[1].drainNotBefore == nil)
        // broker-3 waits its own wait and, as an instant, its horizon: 940 + 3600 = 01:15:40.
        #expect(plan.steps[2].waitBefore == 30)
        #expect(plan.steps[2].waitUntil == Self.at(4540))
        #expect(plan.steps[2].waitReasons.first == "broker-3.orders.kafka.example. was answered with TTL 3600 s until 1 min 0 s ago "
                + "(generation 1): caches may hold that answer until 01:15:40 UTC")
        #expect(plan.steps[2].drainNotBefore == Self.at(4540))
        // The ramp after it needs no instant of its own: it comes after broker-3's.
        #expect(plan.steps[3].waitUntil == nil)
        #expect(plan.answerNames(of: 2) == [Fixture.bootstrap, Fixture.broker(3)])
        let text = plan.render()
        #expect(text.contains("Step 1/4: move broker-1 to pod\n  wait before: none\n"), "\(text)")
        #expect(text.contains("Step 3/4: move broker-3 to pod\n  wait before: 30 s, and not before 01:15:40 UTC\n"
                              + "    - broker-3.orders.kafka.example. was answered with TTL 3600 s"), "\(text)")
        // The timeline: broker-3 at 3540 s from now, its drain 30 s later, the ramp then.
        #expect(plan.totalWaitSeconds == 3570)
        #expect(text.contains("4 steps, about 59 min 30 s of waiting"), "\(text)")
        // As journaled with the run (and shown by `cutover status`): the same instants and timeline.
        let journaled = try JSONDecoder().decode(CutoverPlan.self, from: try JSONEncoder().encode(plan))
        #expect(journaled == plan)
        #expect(journaled.totalWaitSeconds == 3570)
    }

    @Test("the runner flips broker-1 and broker-2 at once and broker-3 at its horizon, also after a pause")
    func runnerHoldsOnlyTheLaterStep() async throws {
        let (inventory, plan) = try Self.brokerThreeLowered(now: 0)
        let fake = FakeEffects(state: Fixture.state(inventory))
        await fake.script { $0.pauseAtClock = 1000 }
        let start = await fake.state
        let begun = try CutoverRunner.begin(runID: "9", plan: plan, currentState: start, currentGeneration: 1)
        let paused = await CutoverRunner(effects: fake, sliceSeconds: 100).run(begun)
        #expect(paused.status == .paused && paused.nextStep == 2)
        #expect(await fake.commits.map(\.createdAt) == [Self.at(0), Self.at(30)])
        await fake.script { $0.pauseAtClock = nil }
        let latest = await fake.latest
        let done = await CutoverRunner(effects: fake, sliceSeconds: 100).run(try CutoverRunner.resume(progress: paused, current: latest))
        #expect(done.status == .completed)
        let commits = await fake.commits.map(\.createdAt)
        #expect(commits.count == 4)
        #expect(commits[2] == Self.at(3540))
        // Broker 3's old target is drained after the flip and its JVM wait.
        #expect(await fake.drainClocks == [30, 60, 3570])
    }

    @Test("a horizon the waits before a step already cover adds no instant to it")
    func coveredByEarlierWaits() throws {
        let cluster = Fixture.orders(brokers: 3, ttl: 5, bootstrapTTL: 5)
        let inventory = Fixture.inventory(cluster)
        // broker-3 served with TTL 110 until 60 s ago: cached until now + 50; its step comes
        // 60 s after the first one at the earliest.
        let caches = try Self.context(cluster, Self.lowered(Fixture.broker(3), ttl: 110, at: 940, base: Fixture.state(inventory)), now: 1000)
        let plan = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: inventory,
                                    state: Fixture.state(inventory), caches: caches)
        #expect(plan.steps.allSatisfy { $0.waitUntil == nil })
        #expect(plan == (try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: inventory,
                                          state: Fixture.state(inventory))))
    }

    @Test("the bootstrap's horizon holds the first move when its answer changes with it (implicit pools)")
    func bootstrapImplicit() throws {
        let cluster = Fixture.orders(brokers: 2, ttl: 5, bootstrapTTL: 5)
        let inventory = Fixture.inventory(cluster)
        let caches = try Self.context(cluster, Self.lowered(Fixture.bootstrap, at: 940, base: Fixture.state(inventory)), now: 1000)
        let plan = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: Self.drain), inventory: inventory,
                                    state: Fixture.state(inventory), caches: caches)
        // Moving broker-1 takes 10.0.1.11 out of the bootstrap's vm pool: a client holding
        // the old bootstrap answer could still connect there after the drain.
        #expect(plan.answerNames(of: 0) == [Fixture.bootstrap, Fixture.broker(1)])
        #expect(plan.steps[0].waitUntil == Self.at(4540))
        #expect(plan.steps[0].waitReasons.first?.hasPrefix("bootstrap.orders.kafka.example. was answered with TTL 3600 s") == true)
        #expect(plan.steps[0].drainNotBefore == Self.at(4540))
        #expect(plan.steps.dropFirst().allSatisfy { $0.waitUntil == nil })
    }

    @Test("with explicit bootstrap targets a broker move leaves the bootstrap's answer alone; the ramp waits for its horizon")
    func bootstrapExplicit() throws {
        var cluster = Fixture.orders(brokers: 2, ttl: 5, bootstrapTTL: 5)
        cluster.bootstrap.pools = [WeightedPool(name: "vm", weight: 100, targets: [Fixture.ipv4("10.0.9.1")]),
                                   WeightedPool(name: "pod", weight: 0, targets: [Fixture.ipv4("10.8.9.1")])]
        let inventory = Fixture.inventory(cluster)
        let caches = try Self.context(cluster, Self.lowered(Fixture.bootstrap, at: 940, base: Fixture.state(inventory)), now: 1000)
        let plan = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: Self.drain), inventory: inventory,
                                    state: Fixture.state(inventory), caches: caches)
        #expect(plan.steps.map(\.kind) == [.moveBrokers, .moveBrokers, .setBootstrapWeights])
        #expect(plan.answerNames(of: 0) == [Fixture.broker(1)])
        #expect(plan.steps[0].waitUntil == nil && plan.steps[1].waitUntil == nil)
        #expect(plan.steps[0].drainNotBefore == nil)
        #expect(plan.steps[2].waitUntil == Self.at(4540))
    }

    @Test("a resumed run gives each step the horizons of its own names")
    func resumePerStep() async throws {
        let cluster = Fixture.orders(brokers: 3, ttl: 5, bootstrapTTL: 5)
        let inventory = Fixture.inventory(cluster)
        let plan = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: Self.drain), inventory: inventory,
                                    state: Fixture.state(inventory))
        let fake = FakeEffects(state: Fixture.state(inventory))
        await fake.script { $0.pauseAfterCommits = 1 }
        let start = await fake.state
        let paused = await CutoverRunner(effects: fake).run(try CutoverRunner.begin(runID: "5", plan: plan, currentState: start, currentGeneration: 1))
        #expect(paused.status == .paused && paused.nextStep == 1)
        // During the pause broker-3 was served with TTL 3600 and lowered again 10 s ago.
        let now = Double(await fake.clock)
        let served = await fake.state
        let latest = await fake.latest
        let caches = try Self.context(cluster, Self.lowered(Fixture.broker(3), at: now - 10, base: served), now: now)
        let resumed = Planner.resumed(try CutoverRunner.resume(progress: paused, current: latest), caches: caches)
        // broker-2 goes on without waiting for broker-3's caches; broker-3's step waits.
        #expect(resumed.plan.steps[1].waitUntil == nil)
        #expect(resumed.plan.steps[2].waitUntil == Self.at(now + 3590))
        #expect(resumed.plan.steps[2].waitReasons.first?.contains("broker-3.orders.kafka.example. was answered with TTL 3600 s until 10 s ago") == true)
        #expect(resumed.plan.steps[2].drainNotBefore == Self.at(now + 3590))
        #expect(resumed.plan.steps[1].drainNotBefore == nil)
        await fake.script { $0.pauseAfterCommits = nil }
        let done = await CutoverRunner(effects: fake, sliceSeconds: 100).run(resumed)
        #expect(done.status == .completed)
        let commits = await fake.commits.map(\.createdAt)
        #expect(commits[1] < Self.at(now + 100))
        #expect(commits[2] == Self.at(now + 3590))
    }

    @Test("a rollback plan gives each step the horizons of its own names")
    func rollbackPerStep() throws {
        let cluster = Fixture.orders(brokers: 3, ttl: 5, bootstrapTTL: 5)
        let inventory = Fixture.inventory(cluster)
        var moved = Fixture.state(inventory)
        for id in 1...3 { moved.brokerPools[Fixture.broker(id)] = "pod" }
        moved.weights[Fixture.bootstrap] = ["vm": 0, "pod": 100]
        let caches = try Self.context(cluster, Self.lowered(Fixture.broker(3), at: 940, base: moved), now: 1000)
        let plan = try Planner.rollback(from: moved, to: Fixture.state(inventory), inventory: inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: "", drainCommand: Self.drain), caches: caches)
        #expect(plan.steps.map(\.kind) == [.moveBrokers, .moveBrokers, .moveBrokers, .setBootstrapWeights])
        #expect(plan.steps[0].waitBefore == 0 && plan.steps[0].waitUntil == nil)
        #expect(plan.steps[1].waitUntil == nil)
        #expect(plan.steps[2].changes.map(\.name) == [Fixture.broker(3)])
        #expect(plan.steps[2].waitUntil == Self.at(4540))
        #expect(plan.steps[2].drainNotBefore == Self.at(4540))
    }
}
