import Foundation
import Synchronization
import SwitchyardControl
import SwitchyardKafka

/// What Kafka gates last saw at each target (`host:port`), kept in memory by the server for
/// `status`, `cutover status` and plans, and as the cluster id of a target being left once it
/// is stopped (a drained VM no longer answers, its cluster id has not changed).
public final class KafkaSightings: Sendable {
    private let seen = Mutex<[String: AdminAPI.KafkaSighting]>([:])

    public init() {}

    func record(_ sighting: AdminAPI.KafkaSighting) {
        seen.withLock { all in
            // An unreadable target keeps what was last read there, with the error beside it.
            var updated = sighting
            if sighting.error != nil, let earlier = all[sighting.target], earlier.cluster == sighting.cluster {
                updated.nodeID = earlier.nodeID; updated.advertised = earlier.advertised; updated.clusterID = earlier.clusterID
            }
            all[sighting.target] = updated
        }
    }

    public func sighting(of target: String) -> AdminAPI.KafkaSighting? { seen.withLock { $0[target] } }

    /// Every sighting, by target; only those of `targets` when given, in that order.
    public func list(_ targets: [String]? = nil) -> [AdminAPI.KafkaSighting] {
        seen.withLock { all in
            guard let targets else { return all.values.sorted { $0.target < $1.target } }
            return targets.compactMap { all[$0] }
        }
    }
}

extension LiveCutoverEffects {
    /// Seconds to wait for one endpoint's metadata.
    static let kafkaTimeout = 5.0

    /// Reads the new target's metadata (every address of it, as clients get every one) and the
    /// cluster id of a target being left, then lets ``KafkaGateDecision`` decide.
    func checkKafkaGate(_ spec: KafkaGateSpec) -> GateOutcome {
        let expected = expectedClusterID(spec)
        var details: [String] = []
        let addresses = kafkaAddresses(spec.target, port: spec.port)
        for address in addresses {
            switch KafkaMetadataClient.fetch(bootstrap: address, timeout: Self.kafkaTimeout) {
            case .failure(let error):
                record(spec.cluster, address, error: error.description)
                return .failed("Kafka metadata: \(error)")
            case .success(var metadata):
                // Metadata lists the cluster's brokers but not which one answered; a Kafka
                // broker tells its own id through DescribeConfigs.
                if let broker = spec.broker, metadata.answeringBrokerID == nil {
                    metadata.answeringBrokerID = KafkaMetadataClient.nodeID(at: address, claimed: broker, timeout: Self.kafkaTimeout)
                }
                record(spec.cluster, address, metadata, broker: spec.broker)
                let outcome = KafkaGateDecision.outcome(spec, seen: metadata, expectedClusterID: expected)
                logger.info("kafka gate", metadata: ["run": "\(runID)", "target": "\(address)", "passed": "\(outcome.passed)",
                                                     "detail": "\(outcome.detail)"])
                // The gate names the target; an address is worth naming when it has several.
                guard outcome.passed else { return .failed(addresses.count > 1 ? "\(address): \(outcome.detail)" : outcome.detail) }
                details.append(outcome.detail)
            }
        }
        return GateOutcome(passed: true, detail: details.joined(separator: "; "))
    }

    /// The cluster id of the first target being left that answers, else the last one a gate
    /// saw there (a drained target is often stopped by now).
    private func expectedClusterID(_ spec: KafkaGateSpec) -> ExpectedClusterID {
        guard !spec.leaving.isEmpty else { return .nothingLeft }
        var errors: [String] = []
        for target in spec.leaving {
            for address in kafkaAddresses(target, port: spec.port) {
                switch KafkaMetadataClient.fetch(bootstrap: address, timeout: Self.kafkaTimeout) {
                case .success(let metadata):
                    record(spec.cluster, address, metadata, broker: spec.broker)
                    if let id = metadata.clusterID { return .seen(id, source: address) }
                    errors.append("\(address) reports no cluster id")
                case .failure(let error):
                    record(spec.cluster, address, error: error.description)
                    if let earlier = kafka.sighting(of: address), earlier.cluster == spec.cluster, let id = earlier.clusterID {
                        return .seen(id, source: "\(address), last seen \(ISO8601DateFormatter().string(from: earlier.at))")
                    }
                    errors.append(error.description)
                }
            }
        }
        return .unknown(reason: "could not read it: \(errors.joined(separator: "; "))")
    }

    /// `host:port` per address of an address target, or of a hostname this server answers;
    /// a hostname outside the served zones is handed to the client library as it is.
    private func kafkaAddresses(_ target: String, port: Int) -> [String] {
        let addresses = resolveThroughServer(target)
        guard !addresses.isEmpty else { return [KafkaMetadata.listener(host: target, port: port)] }
        return addresses.map { KafkaMetadata.listener(host: $0.description, port: port) }
    }

    private func record(_ cluster: String, _ address: String, _ metadata: KafkaMetadata, broker: Int?) {
        // The node the target serves: the gate's broker when listed, else the one that answered,
        // else the only one listed.
        let node = metadata.answeringBrokerID.flatMap { metadata.broker($0) } ?? broker.flatMap { metadata.broker($0) }
            ?? (metadata.brokers.count == 1 ? metadata.brokers.first : nil)
        kafka.record(AdminAPI.KafkaSighting(cluster: cluster, target: address, nodeID: node?.id, advertised: node?.advertised,
                                            clusterID: metadata.clusterID, at: Date()))
    }

    private func record(_ cluster: String, _ address: String, error: String) {
        kafka.record(AdminAPI.KafkaSighting(cluster: cluster, target: address, nodeID: nil, advertised: nil, clusterID: nil, at: Date(), error: error))
    }
}
