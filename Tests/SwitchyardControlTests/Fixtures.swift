import SwitchyardControl
import SwitchyardInventory

/// Test inventories: cluster `orders` (pools vm, pod; brokers 1…n with vm 10.0.1.(10+i) and
/// pod 10.8.1.(10+i)), cluster `payments`, and the weighted name `schema-registry`.
enum Fixture {
    static let origin = "kafka.example."

    static func ipv4(_ text: String) -> Target { .ipv4(Target.parseIPv4(text)!) }

    static func vm(_ id: Int) -> String { "10.0.1.\(10 + id)" }
    static func pod(_ id: Int) -> String { "10.8.1.\(10 + id)" }

    static func broker(_ id: Int) -> String { "broker-\(id).orders.kafka.example." }
    static let bootstrap = "bootstrap.orders.kafka.example."
    static let registry = "schema-registry.kafka.example."

    static func orders(brokers count: Int = 3, ttl: UInt32 = 60, bootstrapTTL: UInt32 = 60,
                       podHostname: Set<Int> = [], noPod: Set<Int> = [], gate: Cluster.GateKind = .tcp) -> Cluster {
        let brokers = (1...count).map { id -> Broker in
            var targets: [String: Target] = ["vm": ipv4(vm(id))]
            if podHostname.contains(id) {
                targets["pod"] = .hostname("orders-\(id).pods.kafka.example.")
            } else if !noPod.contains(id) {
                targets["pod"] = ipv4(pod(id))
            }
            return Broker(id: id, targets: targets, livePool: "vm")
        }
        return Cluster(
            name: "orders", origin: origin, port: 9092, ttl: ttl, pools: ["vm", "pod"], brokers: brokers,
            bootstrap: WeightedSet(selection: .random, maxAnswers: 8, ttl: bootstrapTTL, pools: [
                WeightedPool(name: "vm", weight: 100, targets: nil),
                WeightedPool(name: "pod", weight: 0, targets: nil),
            ]),
            discovery: nil, health: HealthSettings(), gate: gate)
    }

    static let payments = Cluster(
        name: "payments", origin: origin, port: 9093, ttl: 60, pools: ["vm", "pod"],
        brokers: [Broker(id: 7, targets: ["vm": ipv4("10.0.3.7"), "pod": ipv4("10.8.3.7")], livePool: "vm")],
        bootstrap: WeightedSet(selection: .hashed, maxAnswers: 8, ttl: 30, pools: [
            WeightedPool(name: "vm", weight: 100, targets: nil),
            WeightedPool(name: "pod", weight: 0, targets: [ipv4("10.8.3.100")]),
        ]),
        discovery: nil, health: nil, gate: .tcp)

    static let schemaRegistry = WeightedName(
        name: registry,
        set: WeightedSet(selection: .random, maxAnswers: 8, ttl: 60, pools: [
            WeightedPool(name: "vm", weight: 100, targets: [ipv4("10.0.2.5"), ipv4("10.0.2.6")]),
            WeightedPool(name: "pod", weight: 0, targets: [ipv4("10.8.2.5")]),
        ]),
        health: nil)

    static func inventory(_ orders: Cluster = orders()) -> Inventory {
        Inventory(origin: origin, sourcePath: "zones/kafka.example.yaml", defaultTTL: 60,
                  clusters: [orders, payments], names: [schemaRegistry])
    }

    static func state(_ inventory: Inventory = inventory()) -> ServingState {
        ServingState.initial([inventory])
    }
}
