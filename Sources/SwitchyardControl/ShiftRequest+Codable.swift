import Foundation
import SwitchyardInventory

/// The JSON shape of ``ShiftRequest``, as the synthesized coding wrote it before (the CLI and
/// scripts send it), with range checks that name the field: weights 0–255, TTLs
/// 0–2147483647 (RFC 2181 §8), broker ids ≥ 1.
extension ShiftRequest {
    enum CodingKeys: String, CodingKey, CaseIterable { case broker, weights, ttl }
    enum BrokerKeys: String, CodingKey, CaseIterable { case cluster, id, pool }
    enum WeightsKeys: String, CodingKey, CaseIterable { case name, weights }
    enum TTLKeys: String, CodingKey, CaseIterable { case name, ttl }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let kinds = CodingKeys.allCases.map(\.rawValue)
        guard container.allKeys.count == 1, let only = container.allKeys.first,
              let kind = CodingKeys(rawValue: only.stringValue) else {
            let given = container.allKeys.map(\.stringValue).sorted()
            let found = given.isEmpty ? "an empty object" : "the keys \(given.joined(separator: ", "))"
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "expected an object with one of the keys \(kinds.joined(separator: ", ")), found \(found)"))
        }
        switch kind {
        case .broker:
            try decoder.rejectUnknownKeys(BrokerKeys.self, nestedIn: only)
            let fields = try container.nestedContainer(keyedBy: BrokerKeys.self, forKey: only)
            self = .broker(
                cluster: try fields.decode(String.self, forKey: .cluster),
                id: try fields.decodeWholeNumber(Int.self, forKey: .id, in: Int64(Broker.nodeIDs.lowerBound)...Int64(Broker.nodeIDs.upperBound),
                                                 what: "broker id (Kafka node id)"),
                pool: try fields.decode(String.self, forKey: .pool))
        case .weights:
            try decoder.rejectUnknownKeys(WeightsKeys.self, nestedIn: only)
            let fields = try container.nestedContainer(keyedBy: WeightsKeys.self, forKey: only)
            let pools = try fields.nestedContainer(keyedBy: AnyKey.self, forKey: .weights)
            var weights: [String: UInt8] = [:]
            for pool in pools.allKeys {
                weights[pool.stringValue] = try pools.decodeWholeNumber(UInt8.self, forKey: pool, in: 0...255, what: "weight")
            }
            self = .weights(name: try fields.decode(String.self, forKey: .name), weights: weights)
        case .ttl:
            try decoder.rejectUnknownKeys(TTLKeys.self, nestedIn: only)
            let fields = try container.nestedContainer(keyedBy: TTLKeys.self, forKey: only)
            self = .ttl(
                name: try fields.decode(String.self, forKey: .name),
                ttl: try fields.decodeWholeNumberIfPresent(UInt32.self, forKey: .ttl, in: 0...Int64(Shifts.maxTTL), what: "TTL"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .broker(let cluster, let id, let pool):
            var fields = container.nestedContainer(keyedBy: BrokerKeys.self, forKey: .broker)
            try fields.encode(cluster, forKey: .cluster)
            try fields.encode(id, forKey: .id)
            try fields.encode(pool, forKey: .pool)
        case .weights(let name, let weights):
            var fields = container.nestedContainer(keyedBy: WeightsKeys.self, forKey: .weights)
            try fields.encode(name, forKey: .name)
            try fields.encode(weights, forKey: .weights)
        case .ttl(let name, let ttl):
            var fields = container.nestedContainer(keyedBy: TTLKeys.self, forKey: .ttl)
            try fields.encode(name, forKey: .name)
            try fields.encodeIfPresent(ttl, forKey: .ttl)
        }
    }
}
