import Testing
import SwitchyardControl
import SwitchyardInventory

@Suite("Shifts")
struct ShiftTests {
    let inventory = Fixture.inventory(Fixture.orders(noPod: [3]))
    var state: ServingState { Fixture.state(inventory) }

    @Test("a broker flips whole to a pool where it has a target")
    func brokerFlip() throws {
        let next = try Shifts.apply(.broker(cluster: "orders", id: 2, pool: "pod"), to: state, inventories: [inventory])
        #expect(next.brokerPools[Fixture.broker(2)] == "pod")
        var expected = state
        expected.brokerPools[Fixture.broker(2)] = "pod"
        #expect(next == expected)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var label: String
        var request: ShiftRequest
        /// Pieces the error must contain.
        var says: [String]
        var testDescription: String { label }
    }

    static let refusals: [Refusal] = [
        Refusal(label: "broker to a pool without its target", request: .broker(cluster: "orders", id: 3, pool: "pod"),
                says: ["broker 3 of cluster orders has no target in pool pod", "broker 3 has targets in vm"]),
        Refusal(label: "broker to an unknown pool", request: .broker(cluster: "orders", id: 1, pool: "k8s"),
                says: ["cluster orders has no pool k8s", "targets in vm and pod"]),
        Refusal(label: "unknown cluster", request: .broker(cluster: "billing", id: 1, pool: "pod"),
                says: ["no cluster named billing", "clusters are orders and payments"]),
        Refusal(label: "unknown broker", request: .broker(cluster: "orders", id: 9, pool: "pod"),
                says: ["cluster orders has no broker 9", "its brokers are 1, 2 and 3"]),
        Refusal(label: "partial weights on a broker", request: .weights(name: "broker-1.orders", weights: ["vm": 50, "pod": 50]),
                says: ["broker-1.orders.kafka.example. is a broker name", "exclusive", "vm=50", "shift orders broker-1 --to POOL"]),
        Refusal(label: "weights on an unknown pool", request: .weights(name: "bootstrap.orders", weights: ["k8s": 10]),
                says: ["bootstrap.orders.kafka.example. has no pool k8s", "its pools are vm and pod"]),
        Refusal(label: "unknown weighted name", request: .weights(name: "registry", weights: ["vm": 1]),
                says: ["no stable name registry", "bootstrap.orders.kafka.example., bootstrap.payments.kafka.example. and schema-registry.kafka.example."]),
        Refusal(label: "empty weights", request: .weights(name: "schema-registry", weights: [:]),
                says: ["no weights given for schema-registry.kafka.example."]),
        Refusal(label: "TTL too large", request: .ttl(name: "schema-registry", ttl: 0x8000_0000),
                says: ["larger than 2147483647"]),
    ]

    @Test("refused shifts say what was wrong and what exists", arguments: refusals)
    func refused(_ refusal: Refusal) {
        do {
            _ = try Shifts.apply(refusal.request, to: state, inventories: [inventory])
            Issue.record("\(refusal.label) was accepted")
        } catch {
            for piece in refusal.says { #expect(error.description.contains(piece), "\(error.description)") }
        }
    }

    @Test("a broker the inventory gives no pod target is refused")
    func brokerWithoutTarget() {
        let inv = Fixture.inventory(Fixture.orders(noPod: [3]))
        #expect(throws: ControlError.self) {
            try Shifts.apply(.broker(cluster: "orders", id: 3, pool: "pod"), to: Fixture.state(inv), inventories: [inv])
        }
    }

    @Test("weights on weighted names: relative or absolute names, unlisted pools keep theirs")
    func weights() throws {
        var next = try Shifts.apply(.weights(name: "bootstrap.orders", weights: ["vm": 75, "pod": 25]), to: state, inventories: [inventory])
        #expect(next.weights[Fixture.bootstrap] == ["vm": 75, "pod": 25])
        next = try Shifts.apply(.weights(name: Fixture.registry, weights: ["pod": 255]), to: next, inventories: [inventory])
        #expect(next.weights[Fixture.registry] == ["vm": 100, "pod": 255])
        // All zero is allowed: the server answers fail-open.
        next = try Shifts.apply(.weights(name: "schema-registry", weights: ["pod": 0, "vm": 0]), to: next, inventories: [inventory])
        #expect(next.weights[Fixture.registry] == ["vm": 0, "pod": 0])
    }

    @Test("a broker accepts weights only in the form of a flip")
    func brokerFlipByWeights() throws {
        let next = try Shifts.apply(.weights(name: "broker-1.orders", weights: ["vm": 0, "pod": 1]), to: state, inventories: [inventory])
        #expect(next.brokerPools[Fixture.broker(1)] == "pod")
    }

    @Test("TTL overrides are set and removed")
    func ttl() throws {
        let lowered = try Shifts.apply(.ttl(name: "broker-2.orders", ttl: 5), to: state, inventories: [inventory])
        #expect(lowered.ttls == [Fixture.broker(2): 5])
        let restored = try Shifts.apply(.ttl(name: Fixture.broker(2), ttl: nil), to: lowered, inventories: [inventory])
        #expect(restored == state)
    }

    @Test("--weights parsing", arguments: [
        ("vm=75,pod=25", ["vm": 75, "pod": 25] as [String: UInt8]?, ""),
        ("vm=0", ["vm": 0], ""),
        ("vm=256", nil, "not a number from 0 to 255"),
        ("vm=-1", nil, "not a number from 0 to 255"),
        ("vm", nil, "is not POOL=WEIGHT"),
        ("vm=1,vm=2", nil, "appears twice"),
    ])
    func parseWeights(_ text: String, _ expected: [String: UInt8]?, _ says: String) {
        do {
            let weights = try ShiftRequest.parseWeights(text)
            #expect(weights == expected)
        } catch {
            #expect(expected == nil)
            #expect(error.description.contains(says), "\(error.description)")
        }
    }
}
