import Foundation
import Testing
import SwitchyardControl
import SwitchyardInventory

/// The Kafka gate's decisions from recorded metadata, and the gates the planner makes for a
/// cluster with `gate: kafka`.
@Suite("Kafka gate")
struct KafkaGateTests {
    static let spec = KafkaGateSpec(target: "10.8.1.13", port: 9092, broker: 3, cluster: "orders", origin: "kafka.example.",
                                    leaving: ["10.0.1.13"], maxUnderReplicated: 0)
    static let expected = ExpectedClusterID.seen("Xk3-orders", source: "10.0.1.13:9092")

    /// A healthy three-broker cluster `Xk3-orders`, every broker advertising its stable name,
    /// as broker 3's new target reports it.
    static func healthy() -> KafkaMetadata {
        KafkaMetadata(
            bootstrap: "10.8.1.13:9092",
            brokers: (1...3).map { .init(id: $0, host: "broker-\($0).orders.kafka.example", port: 9092) },
            controllerID: 1, clusterID: "Xk3-orders", answeringBrokerID: nil,
            partitions: (0..<3).map { .init(topic: "payments", id: $0, leader: $0 + 1, replicas: [1, 2, 3], isr: [1, 2, 3]) })
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var change: @Sendable (inout KafkaMetadata) -> Void
        var expected: ExpectedClusterID = KafkaGateTests.expected
        var maxUnderReplicated = 0
        var problems: [String]
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "healthy, same cluster: passes", change: { _ in }, problems: []),
        Case(label: "the node that answered is another broker", change: { $0.answeringBrokerID = 2 },
             problems: ["node id: expected 3 (broker-3), seen 2 answered at 10.8.1.13:9092"]),
        Case(label: "broker 3 missing from the metadata", change: { $0.brokers.removeAll { $0.id == 3 } },
             problems: ["node id: expected 3 (broker-3) in the metadata of 10.8.1.13:9092, seen brokers 1 at broker-1.orders.kafka.example:9092, 2 at broker-2.orders.kafka.example:9092"]),
        Case(label: "broker 3 advertises another broker's name", change: { $0.brokers[2].host = "broker-4.orders.kafka.example" },
             problems: ["advertised name: expected node 3 advertising broker-3.orders.kafka.example:9092, seen broker-4.orders.kafka.example:9092"]),
        Case(label: "broker 3 advertises its pod address, not the stable name", change: { $0.brokers[2].host = "10.8.1.13" },
             problems: ["advertised name: expected node 3 advertising broker-3.orders.kafka.example:9092, seen 10.8.1.13:9092"]),
        Case(label: "broker 3 advertises another port", change: { $0.brokers[2].port = 9093 },
             problems: ["advertised name: expected node 3 advertising broker-3.orders.kafka.example:9092, seen broker-3.orders.kafka.example:9093"]),
        Case(label: "letter case and a trailing dot of the advertised name do not matter",
             change: { $0.brokers[2].host = "Broker-3.Orders.kafka.example." }, problems: []),
        Case(label: "another cluster", change: { $0.clusterID = "Zz9-billing" },
             problems: ["cluster id: expected Xk3-orders (as at 10.0.1.13:9092, the target being left), seen Zz9-billing"]),
        Case(label: "no cluster id reported", change: { $0.clusterID = nil },
             problems: ["cluster id: expected Xk3-orders (as at 10.0.1.13:9092, the target being left), seen none reported"]),
        Case(label: "the target being left could not be read", change: { _ in },
             expected: .unknown(reason: "could not read it: metadata request to 10.0.1.13:9092: Local: Broker transport failure"),
             problems: ["cluster id: expected the cluster id of the target being left (could not read it: metadata request to 10.0.1.13:9092: Local: Broker transport failure), seen Xk3-orders"]),
        Case(label: "nothing left to compare with", change: { _ in }, expected: .nothingLeft, problems: []),
        Case(label: "an offline partition", change: { $0.partitions[1].leader = -1 },
             problems: ["offline partitions: expected 0, seen 1 (payments-1)"]),
        Case(label: "an under-replicated partition", change: { $0.partitions[0].isr = [1, 2] },
             problems: ["under-replicated partitions: expected at most 0 (--max-under-replicated), seen 1 (payments-0)"]),
        Case(label: "under-replicated within --max-under-replicated", change: { $0.partitions[0].isr = [1, 2]; $0.partitions[2].isr = [3] },
             maxUnderReplicated: 2, problems: []),
        Case(label: "over --max-under-replicated", change: { for i in 0..<3 { $0.partitions[i].isr = [1] } },
             maxUnderReplicated: 2,
             problems: ["under-replicated partitions: expected at most 2 (--max-under-replicated), seen 3 (payments-0, payments-1, payments-2)"]),
        Case(label: "everything wrong at once, in a fixed order",
             change: { $0.answeringBrokerID = 111; $0.clusterID = "other"; $0.partitions[0].leader = -1 },
             problems: ["node id: expected 3 (broker-3), seen 111 answered at 10.8.1.13:9092",
                        "cluster id: expected Xk3-orders (as at 10.0.1.13:9092, the target being left), seen other",
                        "offline partitions: expected 0, seen 1 (payments-0)"]),
    ]

    @Test("decisions from recorded metadata", arguments: cases)
    func decide(_ c: Case) {
        var metadata = Self.healthy()
        c.change(&metadata)
        var spec = Self.spec
        spec.maxUnderReplicated = c.maxUnderReplicated
        let problems = KafkaGateDecision.problems(spec, seen: metadata, expectedClusterID: c.expected)
        #expect(problems.map(\.description) == c.problems)
        let outcome = KafkaGateDecision.outcome(spec, seen: metadata, expectedClusterID: c.expected)
        #expect(outcome.passed == c.problems.isEmpty)
        if !c.problems.isEmpty { #expect(outcome.detail == c.problems.joined(separator: "; ")) }
    }

    @Test("a passing gate says what it saw")
    func passingDetail() {
        let outcome = KafkaGateDecision.outcome(Self.spec, seen: Self.healthy(), expectedClusterID: Self.expected)
        #expect(outcome == GateOutcome(passed: true, detail: "node 3 advertises broker-3.orders.kafka.example:9092, cluster id Xk3-orders, 3 partitions, 0 offline, 0 under-replicated"))
    }

    @Test("an explicit bootstrap target: every broker it lists must advertise its stable name")
    func explicitBootstrapTarget() {
        var spec = Self.spec
        spec.broker = nil
        var metadata = Self.healthy()
        #expect(KafkaGateDecision.problems(spec, seen: metadata, expectedClusterID: Self.expected).isEmpty)
        metadata.brokers[0].host = "kafka-0.internal"
        #expect(KafkaGateDecision.problems(spec, seen: metadata, expectedClusterID: Self.expected).map(\.description)
                == ["advertised name: expected node 1 advertising broker-1.orders.kafka.example:9092, seen kafka-0.internal:9092"])
        metadata.brokers = []
        #expect(KafkaGateDecision.problems(spec, seen: metadata, expectedClusterID: Self.expected).map(\.description)
                == ["brokers: expected at least one broker in the metadata of 10.8.1.13:9092, seen none"])
    }

    @Test("IPv6 listeners are bracketed")
    func ipv6() {
        #expect(KafkaMetadata.listener(host: "fd00:8::5", port: 9092) == "[fd00:8::5]:9092")
        #expect(KafkaMetadata.listener(host: "broker-1.orders.kafka.example.", port: 9092) == "broker-1.orders.kafka.example:9092")
    }

    // MARK: - Planner

    func plan(_ options: CutoverOptions, _ cluster: Cluster) throws -> CutoverPlan {
        try Planner.plan(options: options, inventory: Fixture.inventory(cluster), state: Fixture.state(Fixture.inventory(cluster)))
    }

    @Test("gate: kafka makes Kafka gates against the target being left; gate commands still follow")
    func plannerKafkaGates() throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod", ramp: [50, 100], gateCommands: ["check {broker}"], maxUnderReplicated: 1),
                         Fixture.orders(brokers: 2, gate: .kafka))
        let move = p.steps.first { $0.kind == .moveBrokers }!
        #expect(move.gates == [
            GateCheck(check: .kafka(KafkaGateSpec(target: Fixture.pod(1), port: 9092, broker: 1, cluster: "orders", origin: Fixture.origin,
                                                  leaving: [Fixture.vm(1)], maxUnderReplicated: 1)), name: Fixture.broker(1), broker: 1),
            GateCheck(check: .command("check 1"), name: Fixture.broker(1), broker: 1),
        ])
        #expect(move.gates[0].description == "broker 1: Kafka metadata at 10.8.1.11:9092 (node 1 as broker-1.orders.kafka.example:9092, "
                + "cluster id of 10.0.1.11:9092, no offline partitions, ≤ 1 under-replicated)")
        // Ramp steps gate every target of the pool gaining weight against the targets of the
        // pool losing it (by then empty of brokers: their vm targets are what is being left).
        let ramp = p.steps.first { $0.kind == .setBootstrapWeights }!
        #expect(ramp.gates.map(\.check) == [1, 2].map {
            .kafka(KafkaGateSpec(target: Fixture.pod($0), port: 9092, broker: $0, cluster: "orders", origin: Fixture.origin,
                                 leaving: [Fixture.vm(1), Fixture.vm(2)], maxUnderReplicated: 1))
        })
        #expect(p.kafkaTargets == ["10.8.1.11:9092", "10.0.1.11:9092", "10.8.1.12:9092", "10.0.1.12:9092"])
    }

    @Test("gate: tcp keeps the TCP connect gate")
    func plannerTCPGates() throws {
        let p = try plan(CutoverOptions(cluster: "orders", toPool: "pod"), Fixture.orders(brokers: 1, gate: .tcp))
        #expect(p.steps.first { $0.kind == .moveBrokers }!.gates == [
            GateCheck(check: .tcpConnect(target: Fixture.pod(1), port: 9092), name: Fixture.broker(1), broker: 1)])
        #expect(p.kafkaTargets.isEmpty)
    }

    @Test("a rollback gates the same way with the targets swapped")
    func rollbackSwapsTargets() throws {
        let cluster = Fixture.orders(brokers: 1, gate: .kafka)
        let inventory = Fixture.inventory(cluster)
        let forward = try Planner.plan(options: CutoverOptions(cluster: "orders", toPool: "pod"), inventory: inventory, state: Fixture.state(inventory))
        let back = try Planner.rollback(from: forward.finalState, to: Fixture.state(inventory), inventory: inventory,
                                        options: CutoverOptions(cluster: "orders", toPool: ""))
        let move = back.steps.first { $0.kind == .moveBrokers }!
        #expect(move.gates.map(\.check) == [.kafka(KafkaGateSpec(target: Fixture.vm(1), port: 9092, broker: 1, cluster: "orders",
                                                                 origin: Fixture.origin, leaving: [Fixture.pod(1)], maxUnderReplicated: 0))])
    }

    @Test("--max-under-replicated survives JSON and is range-checked")
    func optionDecoding() throws {
        let decoded = try AdminAPI.decoder().decode(CutoverOptions.self, from: Data(#"{"cluster":"orders","toPool":"pod","maxUnderReplicated":3}"#.utf8))
        #expect(decoded.maxUnderReplicated == 3)
        let absent = try AdminAPI.decoder().decode(CutoverOptions.self, from: Data(#"{"cluster":"orders","toPool":"pod"}"#.utf8))
        #expect(absent.maxUnderReplicated == 0)
        #expect(throws: (any Error).self) {
            try AdminAPI.decoder().decode(CutoverOptions.self, from: Data(#"{"cluster":"orders","toPool":"pod","maxUnderReplicated":-1}"#.utf8))
        }
    }
}
