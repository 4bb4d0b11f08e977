import Foundation
import Testing
import SwitchyardControl
import SwitchyardInventory

/// Plans of a large cluster (300 brokers, moved one per step, beside a second cluster of 350):
/// what the journal stores and the CLI prints must grow with the brokers, not brokers × steps.
@Suite("Plans at scale")
struct PlanScaleTests {
    static let brokers = 300

    static func address(_ first: Int, _ id: Int) -> Target { Fixture.ipv4("10.\(first).\(id / 250).\(id % 250 + 1)") }

    static func cluster(_ name: String, brokers count: Int, vm: Int, pod: Int) -> Cluster {
        let brokers = (1...count).map { id in
            Broker(id: id, targets: ["vm": address(vm, id), "pod": id % 10 == 0 ? .hostname("\(name)-\(id).pods.kafka.example.") : address(pod, id)],
                   livePool: "vm")
        }
        return Cluster(
            name: name, origin: Fixture.origin, port: 9092, ttl: 60, pools: ["vm", "pod"], brokers: brokers,
            bootstrap: WeightedSet(selection: .random, maxAnswers: 8, ttl: 60, pools: [
                WeightedPool(name: "vm", weight: 100, targets: nil),
                WeightedPool(name: "pod", weight: 0, targets: nil),
            ]),
            discovery: nil, health: nil, gate: .tcp)
    }

    static let inventory = Inventory(origin: Fixture.origin, sourcePath: "zones/kafka.example.yaml", defaultTTL: 60,
                                     clusters: [cluster("orders", brokers: brokers, vm: 11, pod: 41), cluster("clicks", brokers: 350, vm: 12, pod: 42)],
                                     names: [Fixture.schemaRegistry])

    static let plan = try! Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod", ramp: [10, 50, 100], batch: 1),
                                        inventory: inventory, state: ServingState.initial([inventory]))

    static func encoded(_ plan: CutoverPlan) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(plan)
    }

    @Test("the JSON of a one-broker-per-step plan grows with the brokers, not brokers × steps")
    func jsonIsLinear() throws {
        #expect(Self.plan.steps.count == 1 + Self.brokers + 3 + 1)
        let size = try Self.encoded(Self.plan).count
        // Each step's whole state (650 broker names) and its 301 expectations made it ~20 MB.
        #expect(size < 3_000 * Self.brokers, "plan JSON is \(size) bytes")
        let decoded = try JSONDecoder().decode(CutoverPlan.self, from: try Self.encoded(Self.plan))
        #expect(decoded == Self.plan)
        #expect(decoded.steps.map(\.state) == Self.plan.steps.map(\.state))
    }

    @Test("every step still verifies every name of the plan, each in the step's state")
    func verifyCoversEveryName() throws {
        let names = Set(Self.plan.names)
        for index in [0, 1, 150, Self.brokers, Self.plan.steps.count - 1] {
            let expectations = Self.plan.verify(after: index)
            #expect(Set(expectations.map(\.name)) == names)
            let moved = Self.plan.steps[index].state.brokerPools["broker-150.orders.kafka.example."]
            let broker150 = expectations.first { $0.name == "broker-150.orders.kafka.example." }
            #expect(broker150?.allowed == [moved == "pod" ? "orders-150.pods.kafka.example." : "10.11.0.151"])
        }
        // After broker 1 moved: bootstrap (vm weight 100) answers the 299 brokers left in vm.
        let bootstrap = try #require(Self.plan.verify(after: 1).first { $0.name == "bootstrap.orders.kafka.example." })
        #expect(bootstrap.allowed.count == Self.brokers - 1 && !bootstrap.allowed.contains("10.11.0.2"))
        #expect(Self.plan.verify(before: 2) == Self.plan.verify(after: 1))
    }

    @Test("the printed plan lists per step what changes, at most a dozen lines of each")
    func renderIsReadable() {
        let text = Self.plan.render()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Every verify list in full was 301 lines per step: 90,000 lines.
        #expect(lines.count < 15 * Self.plan.steps.count, "\(lines.count) lines")
        #expect(text.contains("\nStep 3/305: move broker-2 to pod\n  wait before: 30 s\n"))
        #expect(text.contains("    … and 291 more names the same way"))
        #expect(text.contains("verify: 301 names; the answers that change:"))
        #expect(text.contains("- broker-2.orders.kafka.example. A = 10.41.0.3"))
    }

    @Test("a plan journaled with a state and expectations in every step decodes and verifies as it was")
    func journaledBeforeDecodes() throws {
        let small = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: Fixture.inventory(),
                                     state: Fixture.state())
        var json = try #require(try JSONSerialization.jsonObject(with: try Self.encoded(small)) as? [String: Any])
        var steps = try #require(json["steps"] as? [[String: Any]])
        let encoder = JSONEncoder()
        for index in steps.indices {
            steps[index]["state"] = try JSONSerialization.jsonObject(with: try encoder.encode(small.steps[index].state))
            steps[index]["verify"] = try JSONSerialization.jsonObject(with: try encoder.encode(small.verify(after: index)))
        }
        json["steps"] = steps
        json["targets"] = nil
        json["verifiedNames"] = nil
        let old = try JSONDecoder().decode(CutoverPlan.self, from: try JSONSerialization.data(withJSONObject: json))
        #expect(old.targets == nil)
        #expect(old.steps.map(\.state) == small.steps.map(\.state))
        for index in small.steps.indices { #expect(old.verify(after: index) == small.verify(after: index)) }
        try old.checkStillFits(old.steps[1].state, inventories: [Fixture.inventory()])
    }

    @Test("a live target readdressed anywhere in the cluster stops the next step, not only the step that moved it")
    func readdressedElsewhere() throws {
        var changed = Self.inventory
        changed.clusters[0].brokers[0].targets["pod"] = Fixture.ipv4("10.99.0.1")
        try Self.plan.checkStillFits(Self.plan.steps[2].state, inventories: [Self.inventory])
        // Committing step 3 (broker 2) finds broker 1, moved at step 2, readdressed.
        #expect(throws: PlanOutdated("the inventory changed under this run: the plan expects broker-1.orders.kafka.example. A = 10.41.0.2, "
                                     + "the inventory now gives broker-1.orders.kafka.example. A = 10.99.0.1")) {
            try Self.plan.checkStillFits(Self.plan.steps[2].state, inventories: [changed])
        }
        // A readdressed vm target changes the bootstrap's answers too; the message stays short.
        changed = Self.inventory
        changed.clusters[0].brokers[199].targets["vm"] = Fixture.ipv4("10.99.0.1")
        do {
            try Self.plan.checkStillFits(Self.plan.steps[2].state, inventories: [changed])
            Issue.record("a readdressed vm target went unnoticed")
        } catch {
            #expect(error.problem.hasPrefix("the inventory changed under this run: the plan expects bootstrap.orders.kafka.example. A ⊆ {"))
            #expect(error.problem.count < 400, "\(error.problem)")
        }
    }
}
