import Testing
@testable import SwitchyardKafka
import SwitchyardControl

/// The Metadata v5 fallback's parser, from a response built byte by byte as a broker sends it,
/// and the bootstrap address splitter.
@Suite("Kafka wire metadata")
struct WireMetadataTests {
    /// Correlation id 1, then a Metadata v5 response: two brokers, cluster id, controller 2,
    /// one topic with an offline and an under-replicated partition, one topic with an error.
    static func response() -> [UInt8] {
        var w = WireWriter()
        w.int32(1)            // correlation id
        w.int32(0)            // throttle_time_ms
        w.int32(2)            // brokers
        for (id, host) in [(2, "broker-2.orders.kafka.example"), (1, "broker-1.orders.kafka.example")] {
            w.int32(Int32(id)); w.string(host); w.int32(9092); w.int16(-1)  // rack: null
        }
        w.string("Xk3-orders")  // cluster_id
        w.int32(2)              // controller_id
        w.int32(2)              // topics
        w.int16(0); w.string("payments"); w.int8(0); w.int32(2)
        for (index, leader, isr) in [(0, Int32(1), [Int32(1), 2]), (1, Int32(-1), [Int32(2)])] {
            w.int16(0); w.int32(Int32(index)); w.int32(leader)
            w.int32(2); w.int32(1); w.int32(2)                     // replicas
            w.int32(Int32(isr.count)); for node in isr { w.int32(node) }
            w.int32(0)                                             // offline replicas
        }
        w.int16(3); w.string("gone"); w.int8(0); w.int32(0)       // UNKNOWN_TOPIC_OR_PARTITION
        return w.bytes
    }

    @Test("a Metadata v5 response becomes KafkaMetadata")
    func parses() throws {
        let metadata = try #require(KafkaWireMetadata.parse(Self.response(), bootstrap: "10.8.1.12:9092"))
        #expect(metadata.brokers == [.init(id: 1, host: "broker-1.orders.kafka.example", port: 9092),
                                     .init(id: 2, host: "broker-2.orders.kafka.example", port: 9092)])
        #expect(metadata.clusterID == "Xk3-orders")
        #expect(metadata.controllerID == 2)
        #expect(metadata.partitions.map(\.id) == [0, 1])
        #expect(metadata.offlinePartitions.map(\.id) == [1])
        #expect(metadata.underReplicatedPartitions.isEmpty)
    }

    @Test("every truncation of a response is refused, never a crash")
    func truncated() {
        let full = Self.response()
        for length in 0..<full.count {
            #expect(KafkaWireMetadata.parse(Array(full.prefix(length)), bootstrap: "x:1") == nil)
        }
    }

    @Test("a count larger than the bytes left is refused before allocating")
    func hugeCount() {
        var w = WireWriter()
        w.int32(1); w.int32(0); w.int32(Int32.max)
        #expect(KafkaWireMetadata.parse(w.bytes, bootstrap: "x:1") == nil)
    }

    @Test("bootstrap addresses", arguments: [
        ("10.8.1.13:9092", "10.8.1.13", 9092), ("[fd00:8::5]:9093", "fd00:8::5", 9093),
        ("broker-1.orders.kafka.example:9092", "broker-1.orders.kafka.example", 9092),
    ])
    func splits(_ text: String, _ host: String, _ port: Int) throws {
        let parts = try #require(KafkaMetadataClient.split(text))
        #expect(parts.0 == host && parts.1 == port)
    }

    @Test("bad bootstrap addresses", arguments: ["10.8.1.13", "fd00::5:9092", ":9092", "host:0", "host:99999", "[fd00::5]"])
    func refuses(_ text: String) {
        #expect(KafkaMetadataClient.split(text) == nil)
    }

    @Test("an address where nothing listens fails with both errors, quickly")
    func refused() {
        guard case .failure(let error) = KafkaMetadataClient.fetch(bootstrap: "127.0.0.1:1", timeout: 2) else {
            Issue.record("expected a failure"); return
        }
        #expect(error.message.contains("Metadata v5 request to 127.0.0.1:1: Connection refused"))
    }
}

/// Which node an endpoint is, from its DescribeConfigs answer for the claimed broker id.
@Suite("Kafka node identity")
struct NodeIdentityTests {
    static func answer(error: Int16, message: String?) -> [UInt8] {
        var w = WireWriter()
        w.int32(1); w.int32(0); w.int32(1); w.int16(error)
        if let message { w.string(message) } else { w.int16(-1) }
        w.int8(4); w.string("3"); w.int32(0)
        return w.bytes
    }

    @Test("accepted: the claimed id; refused by a broker of another id: that id; anything else: unknown", arguments: [
        (Int16(0), Optional<String>.none, Optional(3)),
        (Int16(42), Optional("Unexpected broker id, expected 4 or empty string, but received 3"), Optional(4)),
        (Int16(42), Optional("something else"), Optional<Int>.none),
        (Int16(31), Optional("Cluster authorization failed."), Optional<Int>.none),
    ])
    func answers(_ error: Int16, _ message: String?, _ expected: Int?) {
        #expect(KafkaWireMetadata.parseNodeAnswer(Self.answer(error: error, message: message), claimed: 3) == expected)
    }

    @Test("a truncated answer tells nothing")
    func truncated() {
        let full = Self.answer(error: 0, message: nil)
        for length in 0..<10 { #expect(KafkaWireMetadata.parseNodeAnswer(Array(full.prefix(length)), claimed: 3) == nil) }
    }
}
