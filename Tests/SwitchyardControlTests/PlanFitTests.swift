import Testing
import SwitchyardControl
import SwitchyardInventory

/// A running plan against an inventory that a SIGHUP changed (``CutoverPlan/checkStillFits(_:inventories:)``).
@Suite("A plan still fits the inventory")
struct PlanFitTests {
    static let plan = try! Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"),
                                        inventory: Fixture.inventory(), state: Fixture.state())

    @Test func theInventoryItWasMadeAgainstFitsEveryStep() throws {
        for step in Self.plan.steps {
            try Self.plan.checkStillFits(step.state, inventories: [Fixture.inventory()])
        }
        try Self.plan.checkStillFits(Self.plan.startState, inventories: [Fixture.inventory()])
    }

    @Test func aBrokerThatLeftTheInventoryStopsIt() {
        let smaller = Fixture.inventory(Fixture.orders(brokers: 2))
        #expect(throws: PlanOutdated("the inventory changed under this run: broker-3.orders.kafka.example. is no longer in it")) {
            try Self.plan.checkStillFits(Self.plan.steps[1].state, inventories: [smaller])
        }
    }

    @Test func aReaddressedTargetStopsIt() throws {
        var cluster = Fixture.orders()
        cluster.brokers[0].targets["pod"] = Fixture.ipv4("10.8.9.9")
        let step = try #require(Self.plan.steps.first { $0.title.contains("broker-1") })
        #expect(throws: PlanOutdated.self) {
            try Self.plan.checkStillFits(step.state, inventories: [Fixture.inventory(cluster)])
        }
        do {
            try Self.plan.checkStillFits(step.state, inventories: [Fixture.inventory(cluster)])
        } catch {
            #expect(error.problem == "the inventory changed under this run: the plan expects broker-1.orders.kafka.example. A = 10.8.1.11, the inventory now gives broker-1.orders.kafka.example. A = 10.8.9.9", "\(error)")
        }
    }

    @Test func aClusterThatLeftStopsIt() {
        let none = Inventory(origin: Fixture.origin, sourcePath: "zones/kafka.example.yaml", defaultTTL: 60, clusters: [], names: [])
        #expect(throws: PlanOutdated("the inventory changed under this run: cluster orders is no longer in the inventory of kafka.example.")) {
            try Self.plan.checkStillFits(Self.plan.steps[0].state, inventories: [none])
        }
    }

    @Test func aShiftOfOneOfItsNamesStopsIt() throws {
        var live = Self.plan.state(before: 1)
        try Self.plan.checkUntouched(live, before: 1)
        live.brokerPools[Fixture.broker(3)] = "pod"
        #expect(throws: PlanOutdated.self) { try Self.plan.checkUntouched(live, before: 1) }
        // A shift of a name the plan does not manage is no business of the run.
        var other = Self.plan.state(before: 1)
        other.weights[Fixture.registry] = ["vm": 0, "pod": 100]
        try Self.plan.checkUntouched(other, before: 1)
    }
}
