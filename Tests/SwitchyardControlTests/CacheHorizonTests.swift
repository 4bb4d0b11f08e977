import Foundation
import Testing
import SwitchyardControl
import SwitchyardInventory

/// Answers served before a plan's start state with a higher TTL (a TTL lowered by hand just
/// before the cutover) may still be cached: the plan waits for them before its first flip.
@Suite("Cache horizons")
struct CacheHorizonTests {
    static func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }

    static func generation(_ number: UInt64, at seconds: Double, ttls: [String: UInt32], base: ServingState) -> Generation {
        var state = base
        state.ttls = ttls
        return Generation(number: number, createdAt: at(seconds), actor: "cli:test", reason: "shift", state: state, changes: [], serials: [:])
    }

    /// broker-1 served with TTL 3600 by generation 1 until `loweredAt`, then by generation 2
    /// with the inventory's TTL (its override removed, as `shift --ttl` back to the default
    /// does), which is still live. Newest first, as the journal is read.
    static func loweredByHand(_ inventory: Inventory, loweredAt: Double) -> [Generation] {
        let base = Fixture.state(inventory)
        return [generation(2, at: loweredAt, ttls: [:], base: base),
                generation(1, at: loweredAt - 5_000, ttls: [Fixture.broker(1): 3600], base: base)]
    }

    static func context(_ inventory: Inventory, _ history: [Generation], now: Double) throws -> CacheContext {
        let cluster = try #require(inventory.cluster(named: "orders"))
        return CacheContext(now: at(now), horizons: CacheHorizons.compute(history: history, defaultTTLs: Planner.inventoryTTLs(of: cluster),
                                                                         now: at(now)))
    }

    @Test("a name's horizon is the latest end of a generation that served it plus that generation's TTL")
    func horizonsFromHistory() throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2, ttl: 60, bootstrapTTL: 30))
        let base = Fixture.state(inventory)
        // g1 (t=0): broker-1 at 3600; g2 (t=1000): broker-1 lowered to 5; g3 (t=1060): live.
        let history = [Self.generation(3, at: 1060, ttls: [Fixture.broker(1): 5], base: base),
                       Self.generation(2, at: 1000, ttls: [Fixture.broker(1): 5], base: base),
                       Self.generation(1, at: 0, ttls: [Fixture.broker(1): 3600], base: base)]
        let horizons = CacheHorizons.compute(history: history, defaultTTLs: Planner.inventoryTTLs(of: Fixture.orders(brokers: 2, ttl: 60, bootstrapTTL: 30)),
                                             now: Self.at(1060))
        // broker-1: g1's answer (TTL 3600) stopped being served at 1000, so caches keep it to
        // 4600; g2's (TTL 5, to 1065) ends earlier, and the live g3 is the plan's own business.
        #expect(horizons[Fixture.broker(1)] == CacheHorizon(name: Fixture.broker(1), until: Self.at(4600), ttl: 3600, generation: 1,
                                                             servedUntil: Self.at(1000)))
        // broker-2 (inventory TTL 60): g1's ended at 1000 + 60 = now, over; g2's lasts to 1120.
        #expect(horizons[Fixture.broker(2)]?.until == Self.at(1120))
        #expect(horizons[Fixture.broker(2)]?.generation == 2)
        #expect(horizons[Fixture.bootstrap]?.until == Self.at(1090))
        // The live generation alone leaves no horizon: its answers are still served.
        #expect(CacheHorizons.compute(history: Array(history.prefix(1)), defaultTTLs: [Fixture.broker(1): 60], now: Self.at(1060)).isEmpty)
        // Long after, nothing is left.
        #expect(CacheHorizons.compute(history: history, defaultTTLs: [Fixture.broker(1): 60], now: Self.at(5000)).isEmpty)
    }

    @Test("names whose TTL was not changed recently: the plan is the same as without horizons")
    func unchangedTTLs() throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2))
        let options = CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: "drain {old_target}")
        // Generation 1 served broker-1 with TTL 3600 until two hours ago: long over.
        let caches = try Self.context(inventory, Self.loweredByHand(inventory, loweredAt: 0), now: 7200)
        let with = try Planner.plan(options: options, inventory: inventory, state: Fixture.state(inventory), caches: caches)
        let without = try Planner.plan(options: options, inventory: inventory, state: Fixture.state(inventory))
        #expect(with == without)
        #expect(with.steps.allSatisfy { $0.waitUntil == nil && $0.drainNotBefore == nil })
    }

    @Test("a TTL lowered by hand a minute ago: the first flip waits for the old TTL's caches, and so does the drain")
    func loweredByHand() throws {
        // Every name already at the cutover TTL: no lowering step, so the old code flipped at once.
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2, ttl: 5, bootstrapTTL: 5))
        let options = CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: "drain {old_target}")
        let caches = try Self.context(inventory, Self.loweredByHand(inventory, loweredAt: 940), now: 1000)
        let plan = try Planner.plan(options: options, inventory: inventory, state: Fixture.state(inventory), caches: caches)

        #expect(plan.steps.map(\.kind) == [.moveBrokers, .moveBrokers, .setBootstrapWeights])
        // 940 + 3600 = 4540 = 01:15:40; 3540 s from now.
        #expect(plan.steps[0].waitBefore == 3540)
        #expect(plan.steps[0].waitUntil == Self.at(4540))
        #expect(plan.steps[0].waitReasons.first == "broker-1.orders.kafka.example. was answered with TTL 3600 s until 1 min 0 s ago "
                + "(generation 1): caches may hold that answer until 01:15:40 UTC")
        // Only the first flip waits for it; the drain of broker-1's VM never comes before it.
        #expect(plan.steps.dropFirst().allSatisfy { $0.waitUntil == nil })
        #expect(plan.steps[0].drainNotBefore == Self.at(4540))
        #expect(plan.steps[0].drainReasons?.last?.hasPrefix("not before 01:15:40 UTC: broker-1.orders.kafka.example.") == true)
        #expect(plan.steps[1].drainNotBefore == nil)
        let text = plan.render()
        #expect(text.contains("wait before: 3540 s, and not before 01:15:40 UTC"), "\(text)")
        #expect(text.contains("caches may hold that answer until 01:15:40 UTC"))
    }

    @Test("with a lowering step the wait before the first flip is the longer of old TTL and horizon, not their sum")
    func agreesWithLowering() throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2, ttl: 60, bootstrapTTL: 60))
        let caches = try Self.context(inventory, Self.loweredByHand(inventory, loweredAt: 940), now: 1000)
        let plan = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: inventory,
                                    state: Fixture.state(inventory), caches: caches)
        #expect(plan.steps.map(\.kind) == [.lowerTTL, .moveBrokers, .moveBrokers, .setBootstrapWeights, .restoreTTL])
        #expect(plan.steps[0].waitBefore == 0)
        #expect(plan.steps[1].waitBefore == 3540)
        // Both reasons, the horizon first; the old TTL's 60 s run down at the same time.
        #expect(plan.steps[1].waitReasons.count == 2)
        #expect(plan.steps[1].waitReasons[0].hasPrefix("broker-1.orders.kafka.example. was answered with TTL 3600 s"))
        #expect(plan.steps[1].waitReasons[1].hasPrefix("old TTL of") && plan.steps[1].waitReasons[1].hasSuffix(" is 60 s"))
        #expect(plan.steps[2].waitBefore == 30)
    }

    @Test("a rollback plan waits for the horizon too")
    func rollbackWaits() throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 2, ttl: 5, bootstrapTTL: 5))
        var moved = Fixture.state(inventory)
        moved.brokerPools[Fixture.broker(1)] = "pod"
        let history = [Self.generation(2, at: 940, ttls: [:], base: moved),
                       Self.generation(1, at: 0, ttls: [Fixture.broker(1): 3600], base: moved)]
        let caches = try Self.context(inventory, history, now: 1000)
        let plan = try Planner.rollback(from: moved, to: Fixture.state(inventory), inventory: inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: ""), caches: caches)
        #expect(plan.steps.first?.kind == .moveBrokers)
        #expect(plan.steps.first?.waitBefore == 3540)
        #expect(plan.steps.first?.waitUntil == Self.at(4540))
    }

    @Test("the run never flips before the horizon, also when paused and resumed while waiting")
    func runnerWaitsForHorizon() async throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 1, ttl: 5, bootstrapTTL: 5))
        let options = CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: "drain {old_target}")
        // The fake clock starts at 0: broker-1 was served with TTL 3600 until 60 s ago.
        let caches = try Self.context(inventory, Self.loweredByHand(inventory, loweredAt: -60), now: 0)
        let plan = try Planner.plan(options: options, inventory: inventory, state: Fixture.state(inventory), caches: caches)
        #expect(plan.steps[0].waitUntil == Self.at(3540))

        let fake = FakeEffects(state: Fixture.state(inventory))
        await fake.script { $0.pauseAtClock = 1000 }
        let begun = try CutoverRunner.begin(runID: "3", plan: plan, currentState: await fake.state, currentGeneration: 1)
        let paused = await CutoverRunner(effects: fake, sliceSeconds: 100).run(begun)
        #expect(paused.status == .paused)
        #expect(await fake.commits.isEmpty)

        await fake.script { $0.pauseAtClock = nil }
        let resumed = try CutoverRunner.resume(progress: paused, current: await fake.latest)
        let done = await CutoverRunner(effects: fake, sliceSeconds: 100).run(resumed)
        #expect(done.status == .completed)
        // The flip came at the horizon, not sooner, and not a whole wait after the resume.
        let flip = try #require(await fake.commits.first)
        #expect(flip.createdAt == Self.at(3540))
        #expect(try #require(await fake.drainClocks.first) >= 3540)
    }
}
