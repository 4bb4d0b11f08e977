import Testing
@testable import SwitchyardInventory

/// One bad inventory snippet and the single problem it must produce.
struct BadCase: CustomTestStringConvertible, Sendable {
    var label: String
    var yaml: String
    var line: Int
    var field: String
    /// A piece of the message that tells the user what to do.
    var says: String
    var zoneOwnerNames: Set<String> = []

    var testDescription: String { label }
}

/// A valid cluster preamble; snippets append to it. Lines 1–6.
private let orders = """
clusters:
  orders:
    port: 9092
    pools: [vm, pod]
    brokers:
      1: { vm: 10.0.1.11 }

"""

private let badCases: [BadCase] = [
    BadCase(label: "unknown top-level key", yaml: "ttl: 60\nclustres: {}\n", line: 2, field: "clustres", says: "allowed keys here are ttl, clusters, names"),
    BadCase(label: "unknown cluster key", yaml: orders.replacingOccurrences(of: "    port: 9092\n", with: "    port: 9092\n    prot: 1\n"),
            line: 4, field: "clusters.orders.prot", says: "unknown key 'prot'"),
    BadCase(label: "missing port", yaml: "clusters:\n  orders:\n    pools: [vm]\n    brokers:\n      1: { vm: 10.0.1.11 }\n",
            line: 2, field: "clusters.orders.port", says: "missing: add port:"),
    BadCase(label: "missing pools", yaml: "clusters:\n  orders:\n    port: 9092\n    brokers:\n      1: { vm: 10.0.1.11 }\n",
            line: 2, field: "clusters.orders.pools", says: "missing: add pools:"),
    BadCase(label: "missing brokers", yaml: "clusters:\n  orders:\n    port: 9092\n    pools: [vm]\n",
            line: 2, field: "clusters.orders.brokers", says: "missing: add brokers:"),
    BadCase(label: "port out of range", yaml: orders.replacingOccurrences(of: "9092", with: "70000"),
            line: 3, field: "clusters.orders.port", says: "port number from 1 to 65535"),
    BadCase(label: "broker id not a number", yaml: orders + "      two: { vm: 10.0.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.two", says: "an integer from 0 to 2147483647"),
    BadCase(label: "broker id negative", yaml: orders + "      -1: { vm: 10.0.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.-1", says: "an integer from 0 to 2147483647"),
    BadCase(label: "broker id above a Java int", yaml: orders + "      2147483648: { vm: 10.0.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.2147483648", says: "an integer from 0 to 2147483647"),
    BadCase(label: "broker id repeated as 01", yaml: orders + "      01: { vm: 10.0.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.01", says: "broker id 1 is already defined at line 6"),
    BadCase(label: "repeated broker key", yaml: orders + "      1: { vm: 10.0.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.1", says: "already defined at line 6"),
    BadCase(label: "broker pool not in pools", yaml: orders + "      2: { vm: 10.0.1.12, k8s: 10.8.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.2.k8s", says: "not a pool of cluster orders"),
    BadCase(label: "bad IPv4 target", yaml: orders + "      2: { vm: 10.0.1.300 }\n",
            line: 7, field: "clusters.orders.brokers.2.vm", says: "not an IPv4 address"),
    BadCase(label: "bad IPv6 target", yaml: orders + "      2: { vm: 10.0.1.12, pod: 'fd00::5::6' }\n",
            line: 7, field: "clusters.orders.brokers.2.pod", says: "not an IPv6 address"),
    BadCase(label: "bad hostname target", yaml: orders + "      2: { vm: 10.0.1.12, pod: 'bad_host!.example.' }\n",
            line: 7, field: "clusters.orders.brokers.2.pod", says: "neither an IPv4 address, an IPv6 address nor a valid hostname"),
    BadCase(label: "broker weight", yaml: orders + "      2: { vm: 10.0.1.12, weight: 50 }\n",
            line: 7, field: "clusters.orders.brokers.2.weight", says: "broker names are exclusive: use live: POOL"),
    BadCase(label: "broker pool with weight", yaml: orders + "      2: { vm: { target: 10.0.1.12, weight: 50 } }\n",
            line: 7, field: "clusters.orders.brokers.2.vm", says: "broker names are exclusive: use live: POOL"),
    BadCase(label: "broker with two targets in a pool", yaml: orders + "      2: { vm: [10.0.1.12, 10.0.1.13] }\n",
            line: 7, field: "clusters.orders.brokers.2.vm", says: "one target per pool"),
    BadCase(label: "live pool without target", yaml: orders + "      2: { pod: 10.8.1.12 }\n",
            line: 7, field: "clusters.orders.brokers.2", says: "lives in pool 'vm' (the cluster's default) but has no vm target"),
    BadCase(label: "live: names a pool without target", yaml: orders + "      2: { vm: 10.0.1.12,\n           live: pod }\n",
            line: 8, field: "clusters.orders.brokers.2.live", says: "has no target in pool 'pod'"),
    BadCase(label: "live: names an unknown pool", yaml: orders + "      2: { vm: 10.0.1.12, live: k8s }\n",
            line: 7, field: "clusters.orders.brokers.2.live", says: "'k8s' is not a pool"),
    BadCase(label: "cluster live not a pool", yaml: orders + "    live: k8s\n",
            line: 7, field: "clusters.orders.live", says: "'k8s' is not a pool"),
    BadCase(label: "duplicate pool in pools", yaml: orders.replacingOccurrences(of: "[vm, pod]", with: "[vm, pod,\n      vm]"),
            line: 5, field: "clusters.orders.pools.2", says: "listed twice"),
    BadCase(label: "duplicate cluster", yaml: orders + "  orders:\n    port: 9093\n",
            line: 7, field: "clusters.orders", says: "already defined at line 2"),
    BadCase(label: "bootstrap pool not in pools", yaml: orders + "    bootstrap:\n      pools:\n        k8s: { weight: 1 }\n",
            line: 9, field: "clusters.orders.bootstrap.pools.k8s", says: "not a pool of this cluster"),
    BadCase(label: "weight out of range", yaml: orders + "    bootstrap:\n      pools:\n        vm: { weight: 256 }\n",
            line: 9, field: "clusters.orders.bootstrap.pools.vm.weight", says: "0 to 255"),
    BadCase(label: "weight not an integer", yaml: orders + "    bootstrap:\n      pools:\n        vm: { weight: 0.5 }\n",
            line: 9, field: "clusters.orders.bootstrap.pools.vm.weight", says: "0 to 255"),
    BadCase(label: "max_answers zero", yaml: orders + "    bootstrap:\n      max_answers: 0\n",
            line: 8, field: "clusters.orders.bootstrap.max_answers", says: "at least 1"),
    BadCase(label: "bad selection", yaml: orders + "    bootstrap:\n      selection: roundrobin\n",
            line: 8, field: "clusters.orders.bootstrap.selection", says: "write random or hashed"),
    BadCase(label: "empty bootstrap targets", yaml: orders + "    bootstrap:\n      pools:\n        pod: { targets: [] }\n",
            line: 9, field: "clusters.orders.bootstrap.pools.pod.targets", says: "omit targets"),
    BadCase(label: "ttl too large", yaml: "ttl: 2147483648\n", line: 1, field: "ttl", says: "0 to 2147483647"),
    BadCase(label: "negative cluster ttl", yaml: orders + "    ttl: -1\n", line: 7, field: "clusters.orders.ttl", says: "0 to 2147483647"),
    BadCase(label: "bad on_all_down", yaml: orders + "    health: { on_all_down: maybe }\n",
            line: 7, field: "clusters.orders.health.on_all_down", says: "write open or closed"),
    BadCase(label: "bad gate kind", yaml: orders + "    gate: http\n",
            line: 7, field: "clusters.orders.gate", says: "'http' is not allowed: write kafka or tcp"),
    BadCase(label: "TLS is not yet supported", yaml: orders + "    tls: { ca: /etc/kafka/ca.pem }\n",
            line: 7, field: "clusters.orders.tls", says: "TLS and SASL are not yet supported: the Kafka gate connects in plaintext"),
    BadCase(label: "SASL is not yet supported", yaml: orders + "    sasl: { mechanism: PLAIN }\n",
            line: 7, field: "clusters.orders.sasl", says: "Remove sasl, and set gate: tcp"),
    BadCase(label: "security_protocol is not yet supported", yaml: orders + "    security_protocol: SASL_SSL\n",
            line: 7, field: "clusters.orders.security_protocol", says: "not yet supported"),
    BadCase(label: "bad duration", yaml: orders + "    health: { interval: 5 }\n",
            line: 7, field: "clusters.orders.health.interval", says: "500ms, 5s, 1m or 1h"),
    BadCase(label: "timeout over interval", yaml: orders + "    health: { interval: 1s, timeout: 2s }\n",
            line: 7, field: "clusters.orders.health.timeout", says: "must not be longer than interval"),
    BadCase(label: "unknown health key", yaml: orders + "    health: { http: true }\n",
            line: 7, field: "clusters.orders.health.http", says: "allowed keys here are tcp, port"),
    BadCase(label: "discovery without zookeeper", yaml: orders + "    discovery:\n      type: standard\n",
            line: 7, field: "clusters.orders.discovery.zookeeper", says: "kafka-utils requires zookeeper: add discovery.zookeeper"),
    BadCase(label: "discovery type not a file name", yaml: orders + "    discovery: { type: ../etc, zookeeper: zk:2181 }\n",
            line: 7, field: "clusters.orders.discovery.type", says: "simple file name"),
    BadCase(label: "discovery broker_list entry without port", yaml: orders + "    discovery:\n      type: standard\n      zookeeper: zk:2181\n      broker_list: [kafka-1.example]\n",
            line: 10, field: "clusters.orders.discovery.broker_list.0", says: "not host:port"),
    BadCase(label: "two local clusters of one type", yaml: orders
                + "    discovery: { type: standard, zookeeper: zk:2181, local: true }\n"
                + "  payments:\n    port: 9093\n    pools: [vm]\n    brokers:\n      1: { vm: 10.0.3.21 }\n"
                + "    discovery: { type: standard, zookeeper: zk:2181,\n                 local: true }\n",
            line: 14, field: "clusters.payments.discovery.local", says: "already the local cluster of discovery type 'standard'"),
    BadCase(label: "cluster name not a DNS label", yaml: "clusters:\n  Orders_1:\n    port: 9092\n    pools: [vm]\n    brokers:\n      1: { vm: 10.0.1.11 }\n",
            line: 2, field: "clusters.Orders_1", says: "lowercase DNS label"),
    BadCase(label: "name outside the origin", yaml: "names:\n  registry.other.example.:\n    pools:\n      vm: { targets: [10.0.2.5] }\n",
            line: 2, field: "names.registry.other.example.", says: "outside the zone kafka.example."),
    BadCase(label: "name without targets", yaml: "names:\n  registry:\n    pools:\n      vm: { weight: 100 }\n",
            line: 4, field: "names.registry.pools.vm.targets", says: "missing: add targets:"),
    BadCase(label: "name without pools", yaml: "names:\n  registry:\n    ttl: 30\n",
            line: 2, field: "names.registry.pools", says: "missing: add pools:"),
    BadCase(label: "name policy", yaml: "names:\n  registry:\n    policy: failover\n    pools:\n      vm: { targets: [10.0.2.5] }\n",
            line: 3, field: "names.registry.policy", says: "only weighted"),
    BadCase(label: "name health without port", yaml: "names:\n  registry:\n    pools:\n      vm: { targets: [10.0.2.5] }\n    health: { tcp: true }\n",
            line: 5, field: "names.registry.health.port", says: "needs port:"),
    BadCase(label: "names collide with each other", yaml: "names:\n  registry:\n    pools: { vm: { targets: [10.0.2.5] } }\n  registry.kafka.example.:\n    pools: { vm: { targets: [10.0.2.6] } }\n",
            line: 4, field: "names.registry.kafka.example.", says: "already declared as weighted name (names.registry, line 2)"),
    BadCase(label: "name collides with a bootstrap name", yaml: orders + "names:\n  bootstrap.orders:\n    pools: { vm: { targets: [10.0.2.6] } }\n",
            line: 8, field: "names.bootstrap.orders", says: "already declared as bootstrap name"),
    BadCase(label: "name collides with a broker name", yaml: orders + "names:\n  broker-1.orders.kafka.example.:\n    pools: { vm: { targets: [10.0.2.6] } }\n",
            line: 8, field: "names.broker-1.orders.kafka.example.", says: "already declared as broker name"),
    BadCase(label: "name collides with a zone record", yaml: "names:\n  www:\n    pools: { vm: { targets: [10.0.2.5] } }\n",
            line: 2, field: "names.www", says: "also an owner name in the zone file", zoneOwnerNames: ["www.kafka.example."]),
    BadCase(label: "broker name collides with a zone record", yaml: orders,
            line: 2, field: "clusters.orders.brokers.1", says: "broker name broker-1.orders.kafka.example. is also an owner name",
            zoneOwnerNames: ["broker-1.orders.kafka.example."]),
    BadCase(label: "YAML syntax error", yaml: "clusters:\n  orders: [\n", line: 3, field: "(yaml)", says: "fix the YAML syntax"),
]

@Suite("Inventory errors")
struct InventoryErrorTests {
    @Test("each bad snippet reports exactly one problem at its line and field", arguments: badCases)
    func reportsProblem(_ bad: BadCase) throws {
        let result = InventoryLoader.parse(text: bad.yaml, path: "zones/kafka.example.yaml", origin: "kafka.example.", zoneOwnerNames: bad.zoneOwnerNames)
        guard case .failure(let failure) = result else {
            Issue.record("expected a problem, got a valid inventory")
            return
        }
        #expect(failure.errors.count == 1, "\(failure)")
        let error = try #require(failure.errors.first)
        #expect(error.line == bad.line, "\(error)")
        #expect(error.field == bad.field, "\(error)")
        #expect(error.message.contains(bad.says), "\(error)")
        #expect(error.description.hasPrefix("zones/kafka.example.yaml:\(bad.line): \(bad.field): "))
    }

    @Test("every problem is reported, not just the first, in file order")
    func reportsAllProblems() {
        let yaml = """
        ttl: forever
        clusters:
          orders:
            port: 0
            pools: [vm, pod]
            brokers:
              1: { vm: 10.0.1.11, weight: 10 }
              2: { vm: 10.0.1.300 }
            health: { on_all_down: sometimes }
        names:
          elsewhere.example.:
            pools: { vm: { weight: 300, targets: [10.0.2.5] } }
        """
        let result = InventoryLoader.parse(text: yaml, path: "inv.yaml", origin: "kafka.example.")
        guard case .failure(let failure) = result else {
            Issue.record("expected problems")
            return
        }
        #expect(failure.errors.map(\.line) == [1, 4, 7, 8, 9, 11, 12])
        #expect(failure.errors.map(\.field) == [
            "ttl", "clusters.orders.port", "clusters.orders.brokers.1.weight", "clusters.orders.brokers.2.vm",
            "clusters.orders.health.on_all_down", "names.elsewhere.example.", "names.elsewhere.example..pools.vm.weight",
        ])
    }

    @Test("a missing file is reported with its path")
    func missingFile() {
        let result = InventoryLoader.load(path: "/nonexistent/x.yaml", origin: "x.", zoneOwnerNames: [])
        guard case .failure(let failure) = result else {
            Issue.record("expected a problem")
            return
        }
        #expect(failure.description == "/nonexistent/x.yaml:1: (file): the inventory file does not exist: check the path and its permissions")
    }
}
