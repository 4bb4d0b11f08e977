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
        let defaults = Planner.inventoryTTLs(of: cluster)
        return CacheContext(now: at(now), horizons: CacheHorizons.compute(history: history, defaultTTLs: defaults, now: at(now)),
                            live: try #require(history.first), defaultTTLs: defaults)
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

        // A generation that stopped being served a moment ago with the TTL the names still
        // have (say, the last step of a cutover just done, before its rollback): its answers
        // are cached no longer than the live generation's, which the plan's waits cover.
        let noLowering = Fixture.inventory(Fixture.orders(brokers: 2, ttl: 5, bootstrapTTL: 5))
        let base = Fixture.state(noLowering)
        let justBefore = [Self.generation(2, at: 999, ttls: [:], base: base), Self.generation(1, at: 0, ttls: [:], base: base)]
        let recent = try Self.context(noLowering, justBefore, now: 1000)
        #expect(recent.horizons[Fixture.broker(1)]?.until == Self.at(1004))
        #expect(try Planner.plan(options: options, inventory: noLowering, state: base, caches: recent)
                == Planner.plan(options: options, inventory: noLowering, state: base))
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

extension CacheHorizonTests {
    @Test("a resumed run reads the journal again: a TTL raised and lowered by hand during the pause delays the flip")
    func resumeRereads() async throws {
        let inventory = Fixture.inventory(Fixture.orders(brokers: 1, ttl: 5, bootstrapTTL: 5))
        let options = CutoverOptions(cluster: "orders", toPool: "pod", drainCommand: "drain {old_target}")
        let plan = try Planner.plan(options: options, inventory: inventory, state: Fixture.state(inventory))
        // Every name at the cutover TTL already: the old code's plan flips at once.
        #expect(plan.steps[0].kind == .moveBrokers && plan.steps[0].waitBefore == 0)
        let fake = FakeEffects(state: Fixture.state(inventory))
        await fake.script { $0.pauseAfterCommits = 0 }
        let begun = try CutoverRunner.begin(runID: "4", plan: plan, currentState: await fake.state, currentGeneration: 1)
        let paused = await CutoverRunner(effects: fake).run(begun)
        #expect(paused.status == .paused && paused.nextStep == 0)

        // During the pause (fake clock 0): broker-1 served with TTL 3600 from -20 s to -10 s,
        // then back to its inventory TTL; the state is the run's start state again.
        let history = Self.loweredByHand(inventory, loweredAt: -10)
        let caches = try Self.context(inventory, history, now: 0)
        await fake.script { $0.pauseAfterCommits = nil }
        let resumed = Planner.resumed(try CutoverRunner.resume(progress: paused, current: await fake.latest), caches: caches)
        #expect(resumed.plan.steps[0].waitUntil == Self.at(3590))
        #expect(resumed.plan.steps[0].waitReasons.first?.contains("was answered with TTL 3600 s until 10 s ago") == true)
        #expect(resumed.plan.steps[0].drainNotBefore == Self.at(3590))
        let done = await CutoverRunner(effects: fake, sliceSeconds: 100).run(resumed)
        #expect(done.status == .completed)
        #expect(try #require(await fake.commits.first).createdAt == Self.at(3590))
        // Nothing recent: resuming changes nothing.
        let quiet = try Self.context(inventory, history, now: 7200)
        #expect(Planner.resumed(paused, caches: quiet) == paused)
    }
}

@Suite("Cache horizons: walking the journal")
struct CacheHorizonWalkTests {
    /// 600 generations, one a minute; broker-1 served with TTL 36 000 (10 h) by generation 5
    /// only, the inventory's 60 s otherwise. The walk must reach generation 5 across pages.
    static let inventory = Fixture.inventory(Fixture.orders(brokers: 1))
    static let journal: [Generation] = (1...600).map { number in
        var state = Fixture.state(inventory)
        if number == 5 { state.ttls[Fixture.broker(1)] = 36_000 }
        return Generation(number: UInt64(number), createdAt: Date(timeIntervalSince1970: Double(number) * 60), actor: "cli:test",
                          reason: "shift", state: state, changes: [], serials: [:])
    }

    @Test("the walk reads pages back until the history ends, and finds an old long TTL", arguments: [7, 100, 256, 1000])
    func acrossPages(_ pageSize: Int) throws {
        var reads: [UInt64] = []
        let now = Date(timeIntervalSince1970: 600 * 60 + 90)
        let horizons = CacheHorizons.walk(from: Self.journal[599], defaultTTLs: Planner.inventoryTTLs(of: Fixture.orders(brokers: 1)),
                                          now: now, pageSize: pageSize) { below in
            reads.append(below)
            return Array(Self.journal.filter { $0.number < below }.reversed().prefix(pageSize))
        }
        // Generation 5 stopped being served when 6 was committed (360 s) and keeps to 36 360 s.
        #expect(horizons[Fixture.broker(1)] == CacheHorizon(name: Fixture.broker(1), until: Date(timeIntervalSince1970: 36_360), ttl: 36_000,
                                                             generation: 5, servedUntil: Date(timeIntervalSince1970: 360)))
        // The live generation's predecessor (599, TTL 60, ended at 36 000 s) is over by now.
        #expect(horizons[Fixture.bootstrap] == nil)
        #expect(reads.count == (599 + pageSize - 1) / pageSize)
    }

    @Test("history older than the longest a cache holds an answer is not read")
    func stopsAtLongestCacheHold() {
        var reads = 0
        let now = Date(timeIntervalSince1970: 600 * 60 + TimeInterval(CacheHorizons.longestCacheHold))
        _ = CacheHorizons.walk(from: Self.journal[599], defaultTTLs: [Fixture.broker(1): 60], now: now, pageSize: 10) { below in
            reads += 1
            return Array(Self.journal.filter { $0.number < below }.reversed().prefix(10))
        }
        #expect(reads == 1)
    }

    @Test("a TTL beyond the longest a cache holds an answer counts as that long")
    func clampsHugeTTLs() {
        let served = Generation(number: 1, createdAt: Date(timeIntervalSince1970: 0), actor: "t", reason: "t",
                                state: ServingState(ttls: [Fixture.broker(1): Shifts.maxTTL]), changes: [], serials: [:])
        let live = Generation(number: 2, createdAt: Date(timeIntervalSince1970: 100), actor: "t", reason: "t",
                              state: ServingState(), changes: [], serials: [:])
        let horizons = CacheHorizons.compute(history: [live, served], defaultTTLs: [Fixture.broker(1): 60],
                                             now: Date(timeIntervalSince1970: 200))
        #expect(horizons[Fixture.broker(1)]?.until == Date(timeIntervalSince1970: 100 + TimeInterval(CacheHorizons.longestCacheHold)))
    }
}
