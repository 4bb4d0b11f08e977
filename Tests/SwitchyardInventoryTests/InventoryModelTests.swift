import Foundation
import Testing
@testable import SwitchyardInventory

/// The repository root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("Inventory model")
struct InventoryModelTests {
    @Test("the example inventory loads into the expected model")
    func exampleInventory() throws {
        let path = repositoryRoot.appendingPathComponent("zones/kafka.example.yaml").path
        let inventory = try InventoryLoader.load(path: path, origin: "kafka.example.", zoneOwnerNames: [
            "kafka.example.", "ns1.kafka.example.", "ns2.kafka.example.", "www.kafka.example.",
        ]).get()

        let orders = Cluster(
            name: "orders", origin: "kafka.example.", port: 9092, ttl: 30, pools: ["vm", "pod"],
            brokers: [
                Broker(id: 1, targets: ["vm": .ipv4([127, 0, 1, 11]), "pod": .ipv4([127, 0, 2, 11])], livePool: "vm"),
                Broker(id: 2, targets: ["vm": .ipv4([127, 0, 1, 12]), "pod": .hostname("orders-2.pods.kafka.example.")], livePool: "vm"),
                Broker(id: 3, targets: ["vm": .ipv4([127, 0, 1, 13]), "pod": .ipv4([127, 0, 2, 13])], livePool: "vm"),
            ],
            bootstrap: WeightedSet(selection: .random, maxAnswers: 8, ttl: 30, pools: [
                WeightedPool(name: "vm", weight: 100, targets: nil),
                WeightedPool(name: "pod", weight: 0, targets: nil),
            ]),
            discovery: DiscoverySettings(type: "standard", zookeeper: "zk-1.example:2181,zk-2.example:2181/kafka-orders", brokerList: nil, local: true),
            health: nil, gate: .tcp)
        let podV6 = try #require(Target.parseIPv6("fd00:8:3::22"))
        let payments = Cluster(
            name: "payments", origin: "kafka.example.", port: 9093, ttl: 60, pools: ["vm", "pod"],
            brokers: [
                Broker(id: 1, targets: ["vm": .ipv4([10, 0, 3, 21]), "pod": .ipv4([10, 8, 3, 21])], livePool: "vm"),
                Broker(id: 2, targets: ["vm": .ipv4([10, 0, 3, 22]), "pod": .ipv6(podV6)], livePool: "vm"),
                Broker(id: 3, targets: ["vm": .ipv4([10, 0, 3, 23]), "pod": .ipv4([10, 8, 3, 23])], livePool: "pod"),
            ],
            bootstrap: WeightedSet(selection: .hashed, maxAnswers: 8, ttl: 30, pools: [
                WeightedPool(name: "vm", weight: 100, targets: nil),
                WeightedPool(name: "pod", weight: 0, targets: [.ipv4([10, 8, 3, 100])]),
            ]),
            discovery: DiscoverySettings(type: "standard", zookeeper: "zk-1.example:2181,zk-2.example:2181/kafka-payments", brokerList: nil, local: false),
            health: nil)
        let registryV6 = try #require(Target.parseIPv6("fd00:8:2::5"))
        let registry = WeightedName(
            name: "schema-registry.kafka.example.",
            set: WeightedSet(selection: .random, maxAnswers: 8, ttl: 60, pools: [
                WeightedPool(name: "vm", weight: 100, targets: [.ipv4([10, 0, 2, 5]), .ipv4([10, 0, 2, 6])]),
                WeightedPool(name: "pod", weight: 0, targets: [.ipv4([10, 8, 2, 5]), .ipv6(registryV6)]),
            ]),
            health: nil)

        var model = inventory
        model.declarations = [:]
        #expect(model == Inventory(origin: "kafka.example.", sourcePath: path, defaultTTL: 60, clusters: [orders, payments], names: [registry]))
        // Where each stable name is declared, for problems found in the zone it lands in.
        #expect(inventory.declarations["broker-2.orders.kafka.example."] == Inventory.Declaration(line: 9, field: "clusters.orders.brokers.2"))
        #expect(inventory.declarations["schema-registry.kafka.example."]?.field == "names.schema-registry")
        #expect(orders.brokerName(2) == "broker-2.orders.kafka.example.")
        #expect(orders.bootstrapName == "bootstrap.orders.kafka.example.")
        #expect(inventory.cluster(named: "payments")?.broker(3)?.liveTarget.description == "10.8.3.23")
    }

    @Test("defaults: TTLs, bootstrap pools and weights, selection, live pool")
    func defaults() throws {
        let yaml = """
        clusters:
          b:
            port: 9092
            pools: [pod, vm]
            live: vm
            brokers:
              2: { vm: kafka-2, pod: 10.8.0.2 }
              1: { vm: kafka-1.Example.Org. }
        """
        let inventory = try InventoryLoader.parse(text: yaml, path: "x.yaml", origin: "Kafka.Example").get()
        #expect(inventory.origin == "kafka.example.")
        #expect(inventory.defaultTTL == 60)
        let cluster = try #require(inventory.clusters.first)
        #expect(cluster.ttl == 60)
        #expect(cluster.brokers.map(\.id) == [1, 2])
        #expect(cluster.brokers.map(\.livePool) == ["vm", "vm"])
        #expect(cluster.brokers[0].targets["vm"] == .hostname("kafka-1.example.org."))
        #expect(cluster.brokers[1].targets["vm"] == .hostname("kafka-2.kafka.example."))
        #expect(cluster.bootstrap == WeightedSet(selection: .random, maxAnswers: 8, ttl: 60, pools: [
            WeightedPool(name: "pod", weight: 100, targets: nil), WeightedPool(name: "vm", weight: 0, targets: nil),
        ]))
        #expect(cluster.health == nil && cluster.discovery == nil)
        #expect(cluster.gate == .kafka)
    }

    @Test("gate: tcp for endpoints that don't speak Kafka")
    func gateKind() throws {
        let yaml = "clusters:\n  b:\n    port: 9092\n    pools: [vm]\n    gate: tcp\n    brokers:\n      1: { vm: 10.0.0.1 }\n"
        let inventory = try InventoryLoader.parse(text: yaml, path: "x.yaml", origin: "kafka.example.").get()
        #expect(inventory.clusters.first?.gate == .tcp)
    }

    @Test("every Kafka node id is a broker id, 0 and 2147483647 included")
    func nodeIDRange() throws {
        let yaml = """
        clusters:
          b:
            port: 9092
            pools: [vm]
            brokers:
              0: { vm: 10.0.0.1 }
              2147483647: { vm: 10.0.0.2 }
        """
        let cluster = try #require(InventoryLoader.parse(text: yaml, path: "x.yaml", origin: "k.example.").get().clusters.first)
        #expect(cluster.brokers.map(\.id) == [0, 2_147_483_647])
        #expect(cluster.brokerName(0) == "broker-0.b.k.example.")
        #expect(Broker.nodeID("0") == 0 && Broker.nodeID("2147483647") == 2_147_483_647)
        #expect(Broker.nodeID("2147483648") == nil && Broker.nodeID("-1") == nil && Broker.nodeID("") == nil && Broker.nodeID("+3") == nil)
    }

    @Test("an empty or comment-only inventory is refused: served, it would take every stable name of its zone away",
          arguments: ["", "\n\n", "# nothing yet\n", "  # indented comment\n\n# another\n"])
    func emptyInventory(text: String) throws {
        guard case .failure(let errors) = InventoryLoader.parse(text: text, path: "zones/a.example.yaml", origin: "a.example.") else {
            Issue.record("an empty inventory was accepted")
            return
        }
        let error = try #require(errors.errors.first)
        #expect(errors.errors.count == 1)
        #expect(error.path == "zones/a.example.yaml" && error.line == 1 && error.field == "(document)")
        #expect(error.message.contains("the inventory is empty") && error.message.contains("zone a.example."))
        #expect(error.message.contains("clusters: {}") && error.message.contains("delete the file"))
    }

    @Test("an inventory that declares nothing on purpose is valid, with a warning naming the file",
          arguments: ["clusters: {}\n", "ttl: 30\n", "clusters:\nnames: {}\n", "~\n"])
    func declaresNothing(text: String) throws {
        let inventory = try InventoryLoader.parse(text: text, path: "zones/a.example.yaml", origin: "a.example.").get()
        #expect(inventory.clusters.isEmpty && inventory.names.isEmpty)
        let warning = try #require(inventory.declaresNothingWarning)
        #expect(warning.hasPrefix("zones/a.example.yaml: declares no clusters and no names"), "\(warning)")
        #expect(warning.contains("zone a.example. serves no stable names"))
    }

    @Test("an inventory that declares something has no such warning")
    func declaresSomething() throws {
        let yaml = "names:\n  registry:\n    pools:\n      vm: { weight: 100, targets: [10.0.2.5] }\n      pod: { weight: 0, targets: [10.8.2.5] }\n"
        #expect(try InventoryLoader.parse(text: yaml, path: "x.yaml", origin: "a.example.").get().declaresNothingWarning == nil)
    }

    @Test("health durations and counts", arguments: [
        ("500ms", Duration.milliseconds(500)), ("5s", .seconds(5)), ("2m", .seconds(120)), ("1h", .seconds(3600)),
    ])
    func durations(text: String, expected: Duration) {
        #expect(InventoryReader.parseDuration(text) == expected)
    }

    @Test("bad durations", arguments: ["", "5", "s", "0s", "-1s", "1.5s", "5 s", "5sec", "1d"])
    func badDurations(text: String) {
        #expect(InventoryReader.parseDuration(text) == nil)
    }
}

@Suite("Targets")
struct TargetTests {
    @Test("parse and describe", arguments: [
        ("10.0.1.11", "10.0.1.11"),
        ("0.0.0.0", "0.0.0.0"),
        ("fd00::5", "fd00::5"),
        ("FD00:0:0:0:0:0:0:5", "fd00::5"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("::ffff:10.0.0.1", "::ffff:a00:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("orders-2.pods", "orders-2.pods.kafka.example."),
        ("Orders-2.Pods.kafka.example.", "orders-2.pods.kafka.example."),
        ("svc_1.cluster.local.", "svc_1.cluster.local."),
    ])
    func parses(text: String, description: String) throws {
        let target = try Target.parse(text, origin: "kafka.example.").get()
        #expect(target.description == description)
    }

    @Test("refuses", arguments: [
        "10.0.1", "10.0.1.256", "10.0.01.1", "1.2.3.4.5", "fd00::5::6", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "12345::",
        "-bad.example.", "bad..example.", "sp ace", "ex!ample.com.", String(repeating: "a", count: 64) + ".example.",
    ])
    func refuses(text: String) {
        #expect((try? Target.parse(text, origin: "kafka.example.").get()) == nil)
    }
}
