import Foundation

/// What one Kafka endpoint's metadata said: its cluster's brokers (node id and advertised
/// listener), controller, cluster id and partitions. Fetched by `SwitchyardKafka`; pure data,
/// so gate decisions are tested from recorded values (``KafkaGateDecision``).
public struct KafkaMetadata: Codable, Sendable, Equatable {
    public struct Broker: Codable, Sendable, Equatable {
        public var id: Int
        public var host: String
        public var port: Int
        public init(id: Int, host: String, port: Int) { self.id = id; self.host = host; self.port = port }

        /// `host:port` as the broker advertises it (`[host]:port` for an IPv6 address), the
        /// trailing dot of an absolute name dropped.
        public var advertised: String { KafkaMetadata.listener(host: host, port: port) }
    }

    public struct Partition: Codable, Sendable, Equatable {
        public var topic: String
        public var id: Int
        /// Node id of the leader; -1 when the partition is offline.
        public var leader: Int
        public var replicas: [Int]
        public var isr: [Int]
        public init(topic: String, id: Int, leader: Int, replicas: [Int], isr: [Int]) {
            self.topic = topic; self.id = id; self.leader = leader; self.replicas = replicas; self.isr = isr
        }

        public var isOffline: Bool { leader < 0 }
        /// Fewer in-sync replicas than replicas.
        public var isUnderReplicated: Bool { isr.count < replicas.count }
    }

    /// The address the metadata was fetched from (`10.8.1.13:9092`).
    public var bootstrap: String
    public var brokers: [Broker]
    /// `nil` when the endpoint did not say (old protocol versions).
    public var controllerID: Int?
    public var clusterID: String?
    /// The node id of the broker that answered, when the client could tell (it can when the
    /// answering broker's advertised listener is the address it connected to).
    public var answeringBrokerID: Int?
    public var partitions: [Partition]
    /// How the metadata was read (`librdkafka 2.0.2`, or the fallback request and why).
    public var reader: String?

    public init(bootstrap: String, brokers: [Broker], controllerID: Int?, clusterID: String?, answeringBrokerID: Int?, partitions: [Partition]) {
        self.bootstrap = bootstrap; self.brokers = brokers; self.controllerID = controllerID; self.clusterID = clusterID
        self.answeringBrokerID = answeringBrokerID; self.partitions = partitions
    }

    public func broker(_ id: Int) -> Broker? { brokers.first { $0.id == id } }

    public var offlinePartitions: [Partition] { partitions.filter(\.isOffline) }
    public var underReplicatedPartitions: [Partition] { partitions.filter { !$0.isOffline && $0.isUnderReplicated } }

    /// `host:port`, brackets around an IPv6 address, no trailing dot.
    public static func listener(host: String, port: Int) -> String {
        let bare = host.hasSuffix(".") ? String(host.dropLast()) : host
        return (bare.contains(":") ? "[\(bare)]" : bare) + ":\(port)"
    }
}

/// What a Kafka gate checks at one target before a step commits (SPEC "Cutover controller":
/// gates speak Kafka where the target does). Made by the planner for clusters with
/// `gate: kafka`; the live effect fetches metadata and asks ``KafkaGateDecision``.
public struct KafkaGateSpec: Codable, Sendable, Equatable {
    /// The new target (address or hostname) and the cluster port.
    public var target: String
    public var port: Int
    /// The node id the target must serve (a broker move, or a bootstrap member that is a
    /// broker); `nil` for an explicit bootstrap target such as a load balancer.
    public var broker: Int?
    public var cluster: String
    /// The zone origin, absolute (`kafka.example.`).
    public var origin: String
    /// The targets being left: the new target's cluster id must equal theirs.
    public var leaving: [String]
    /// At most this many under-replicated partitions (`--max-under-replicated`).
    public var maxUnderReplicated: Int

    public init(target: String, port: Int, broker: Int?, cluster: String, origin: String, leaving: [String], maxUnderReplicated: Int) {
        self.target = target; self.port = port; self.broker = broker; self.cluster = cluster; self.origin = origin
        self.leaving = leaving; self.maxUnderReplicated = maxUnderReplicated
    }

    /// `broker-N.<cluster>.<origin>:<port>` without the trailing dot: what broker N must
    /// advertise so a client that reconnects comes back through DNS.
    public func stableListener(_ id: Int) -> String {
        KafkaMetadata.listener(host: "broker-\(id).\(cluster).\(origin)", port: port)
    }

    /// `target:port` (`[fd00::5]:9092`).
    public var address: String { KafkaMetadata.listener(host: target, port: port) }
}

/// The cluster id a gate compares against: what the targets being left reported.
public enum ExpectedClusterID: Sendable, Equatable {
    /// Seen at `source` (a target being left, or the last sighting of one).
    case seen(String, source: String)
    /// No target is being left (nothing to compare with).
    case nothingLeft
    /// The targets being left could not be read and none was seen before.
    case unknown(reason: String)
}

/// One failed check of a Kafka gate: which check, what was expected, what was seen.
public struct KafkaGateProblem: Sendable, Equatable, CustomStringConvertible {
    public var check: String
    public var expected: String
    public var seen: String
    public init(check: String, expected: String, seen: String) { self.check = check; self.expected = expected; self.seen = seen }
    public var description: String { "\(check): expected \(expected), seen \(seen)" }
}

/// The pure decision of a Kafka gate from recorded metadata. No I/O: the live effect
/// fetches, this decides, so every rule is unit-tested without a broker.
public enum KafkaGateDecision {
    /// Every failed check, in a fixed order (node id, advertised name, cluster id, offline
    /// partitions, under-replicated partitions); empty when the gate passes.
    public static func problems(_ spec: KafkaGateSpec, seen metadata: KafkaMetadata, expectedClusterID: ExpectedClusterID) -> [KafkaGateProblem] {
        var problems: [KafkaGateProblem] = []
        let listed = metadata.brokers.map { "\($0.id) at \($0.advertised)" }.joined(separator: ", ")
        if let id = spec.broker {
            if let answering = metadata.answeringBrokerID, answering != id {
                problems.append(.init(check: "node id", expected: "\(id) (broker-\(id))", seen: "\(answering) answered at \(spec.address)"))
            }
            if let broker = metadata.broker(id) {
                if broker.advertised.lowercased() != spec.stableListener(id).lowercased() {
                    problems.append(.init(check: "advertised name", expected: "node \(id) advertising \(spec.stableListener(id))",
                                          seen: broker.advertised))
                }
            } else if metadata.answeringBrokerID == nil || metadata.answeringBrokerID == id {
                problems.append(.init(check: "node id", expected: "\(id) (broker-\(id)) in the metadata of \(spec.address)",
                                      seen: metadata.brokers.isEmpty ? "no brokers" : "brokers \(listed)"))
            }
        } else {
            // An explicit bootstrap target (a load balancer): every broker it lists must
            // advertise its stable name, or clients it bootstraps leave DNS behind.
            for broker in metadata.brokers where broker.advertised.lowercased() != spec.stableListener(broker.id).lowercased() {
                problems.append(.init(check: "advertised name", expected: "node \(broker.id) advertising \(spec.stableListener(broker.id))",
                                      seen: broker.advertised))
            }
            if metadata.brokers.isEmpty {
                problems.append(.init(check: "brokers", expected: "at least one broker in the metadata of \(spec.address)", seen: "none"))
            }
        }
        switch expectedClusterID {
        case .seen(let expected, let source):
            if metadata.clusterID != expected {
                problems.append(.init(check: "cluster id", expected: "\(expected) (as at \(source), the target being left)",
                                      seen: metadata.clusterID ?? "none reported"))
            }
        case .nothingLeft:
            if metadata.clusterID == nil {
                problems.append(.init(check: "cluster id", expected: "a cluster id", seen: "none reported"))
            }
        case .unknown(let reason):
            problems.append(.init(check: "cluster id", expected: "the cluster id of the target being left (\(reason))",
                                  seen: metadata.clusterID ?? "none reported"))
        }
        let offline = metadata.offlinePartitions
        if !offline.isEmpty {
            problems.append(.init(check: "offline partitions", expected: "0", seen: "\(offline.count) (\(sample(offline)))"))
        }
        let under = metadata.underReplicatedPartitions
        if under.count > spec.maxUnderReplicated {
            problems.append(.init(check: "under-replicated partitions", expected: "at most \(spec.maxUnderReplicated) (--max-under-replicated)",
                                  seen: "\(under.count) (\(sample(under)))"))
        }
        return problems
    }

    /// The gate's outcome: passed with what was seen, or failed naming every problem.
    public static func outcome(_ spec: KafkaGateSpec, seen metadata: KafkaMetadata, expectedClusterID: ExpectedClusterID) -> GateOutcome {
        let found = problems(spec, seen: metadata, expectedClusterID: expectedClusterID)
        guard found.isEmpty else { return .failed(found.map(\.description).joined(separator: "; ")) }
        var facts: [String] = []
        if let id = spec.broker, let broker = metadata.broker(id) { facts.append("node \(id) advertises \(broker.advertised)") }
        else { facts.append("\(metadata.brokers.count) broker\(metadata.brokers.count == 1 ? "" : "s") advertise their stable names") }
        facts.append("cluster id \(metadata.clusterID ?? "-")")
        facts.append("\(metadata.partitions.count) partitions, 0 offline, \(metadata.underReplicatedPartitions.count) under-replicated")
        return GateOutcome(passed: true, detail: facts.joined(separator: ", "))
    }

    /// The first few partitions of a list, as `topic-partition`.
    static func sample(_ partitions: [KafkaMetadata.Partition]) -> String {
        let shown = partitions.prefix(3).map { "\($0.topic)-\($0.id)" }
        return shown.joined(separator: ", ") + (partitions.count > 3 ? ", …" : "")
    }
}
