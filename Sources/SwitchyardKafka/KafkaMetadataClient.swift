import CRdKafka
import Foundation
import SwitchyardControl

/// A failure to read an endpoint's metadata, with the librdkafka error and where it happened.
public struct KafkaClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done (`metadata request to 10.8.1.13:9092`).
    public var context: String
    /// librdkafka's message (`Local: Broker transport failure`).
    public var message: String
    public init(context: String, message: String) { self.context = context; self.message = message }
    public var description: String { "\(context): \(message)" }
}

/// Reads Kafka metadata from one bootstrap address with librdkafka, in plaintext.
///
/// Each call makes its own short-lived client: the metadata comes from the one address given
/// (the first request of a new client can only go to its bootstrap), never from a broker the
/// client learned about, and no state outlives the call. Every librdkafka object is
/// destroyed before returning, on every path.
public enum KafkaMetadataClient {
    /// Metadata of every topic as `bootstrap` (`host:port`, `[v6]:port`) reports it, with the
    /// cluster id and controller id, within about `timeout` seconds: through librdkafka, and
    /// when that fails, through one Metadata v5 request of our own (``KafkaWireMetadata``
    /// says why); ``KafkaMetadata/reader`` tells which.
    public static func fetch(bootstrap: String, timeout: Double) -> Result<KafkaMetadata, KafkaClientError> {
        guard let (host, port) = split(bootstrap) else {
            return .failure(KafkaClientError(context: "bootstrap \(bootstrap)", message: "expected HOST:PORT or [IPv6]:PORT"))
        }
        let first = max(1, timeout / 2)
        let library = fetchWithLibrdkafka(bootstrap: bootstrap, timeout: first)
        guard case .failure(let libraryError) = library else {
            return library.map { var metadata = $0; metadata.reader = "librdkafka \(version)"; return metadata }
        }
        switch KafkaWireMetadata.fetch(host: host, port: port, bootstrap: bootstrap, timeout: max(1, timeout - first)) {
        case .success(var metadata):
            metadata.reader = "Metadata v5 request (librdkafka \(version) failed: \(libraryError.message))"
            return .success(metadata)
        case .failure(let wireError):
            return .failure(KafkaClientError(context: libraryError.context, message: "\(libraryError.message); \(wireError)"))
        }
    }

    /// The node id of the endpoint at `bootstrap`, asked with a DescribeConfigs request for
    /// broker `claimed` (see ``KafkaWireMetadata/nodeID(host:port:claimed:timeout:)``); `nil`
    /// when the endpoint does not tell.
    public static func nodeID(at bootstrap: String, claimed: Int, timeout: Double) -> Int? {
        guard let (host, port) = split(bootstrap) else { return nil }
        return KafkaWireMetadata.nodeID(host: host, port: port, claimed: claimed, timeout: timeout)
    }

    /// librdkafka's version, e.g. `2.0.2`.
    public static var version: String { rd_kafka_version_str().map { String(cString: $0) } ?? "?" }

    /// `host:port` or `[v6]:port` into its parts.
    static func split(_ bootstrap: String) -> (String, Int)? {
        if bootstrap.hasPrefix("["), let close = bootstrap.firstIndex(of: "]") {
            let host = String(bootstrap[bootstrap.index(after: bootstrap.startIndex)..<close])
            let rest = bootstrap[bootstrap.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return (host, port)
        }
        guard let colon = bootstrap.lastIndex(of: ":"), let port = Int(bootstrap[bootstrap.index(after: colon)...]),
              (1...65535).contains(port), !bootstrap[..<colon].isEmpty, !bootstrap[..<colon].contains(":") else { return nil }
        return (String(bootstrap[..<colon]), port)
    }

    static func fetchWithLibrdkafka(bootstrap: String, timeout: Double) -> Result<KafkaMetadata, KafkaClientError> {
        let timeoutMs = Int32(max(100, min(timeout * 1000, 600_000)))
        var errorText = [CChar](repeating: 0, count: 512)
        guard let conf = rd_kafka_conf_new() else {
            return .failure(KafkaClientError(context: "librdkafka", message: "could not allocate a configuration"))
        }
        var settings: [(String, String)] = [
            ("bootstrap.servers", bootstrap),
            ("client.id", "switchyard-gate"),
            ("socket.timeout.ms", String(timeoutMs)),
            ("socket.connection.setup.timeout.ms", String(max(1000, timeoutMs))),
            // Only the bootstrap answers: no retries against learned brokers after the call.
            ("topic.metadata.refresh.interval.ms", "-1"),
            ("allow.auto.create.topics", "false"),
        ]
        // SWITCHYARD_KAFKA_DEBUG=broker,protocol shows librdkafka's own log on stderr.
        let debug = ProcessInfo.processInfo.environment["SWITCHYARD_KAFKA_DEBUG"].flatMap { $0.isEmpty ? nil : $0 }
        settings += debug.map { [("debug", $0)] } ?? [("log_level", "0")]
        for (key, value) in settings {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                return .failure(KafkaClientError(context: "librdkafka setting \(key)=\(value)", message: text(errorText)))
            }
        }
        // librdkafka logs connection failures to stderr by default; the gate reports its own.
        if debug == nil { rd_kafka_conf_set_log_cb(conf) { _, _, _, _ in } }
        // On success rd_kafka_new owns the configuration; on failure the caller still does.
        guard let client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            return .failure(KafkaClientError(context: "librdkafka client for \(bootstrap)", message: text(errorText)))
        }
        defer { rd_kafka_destroy(client) }

        var raw: UnsafePointer<rd_kafka_metadata>?
        let status = rd_kafka_metadata(client, 1, nil, &raw, timeoutMs)
        guard status == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata = raw else {
            if let raw { rd_kafka_metadata_destroy(raw) }
            return .failure(KafkaClientError(context: "metadata request to \(bootstrap)", message: describe(status)))
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result = convert(metadata.pointee, bootstrap: bootstrap)

        // Both come from the metadata just received; the short timeout only covers a client
        // that did not keep them.
        if let id = rd_kafka_clusterid(client, 500) {
            result.clusterID = String(cString: id)
            rd_kafka_mem_free(client, id)
        }
        let controller = rd_kafka_controllerid(client, 500)
        result.controllerID = controller >= 0 ? Int(controller) : nil
        return .success(result)
    }

    /// The pure value of librdkafka's metadata; counts and pointers are checked, never trusted.
    static func convert(_ raw: rd_kafka_metadata, bootstrap: String) -> KafkaMetadata {
        var brokers: [KafkaMetadata.Broker] = []
        if let list = raw.brokers, raw.broker_cnt > 0 {
            for index in 0..<Int(raw.broker_cnt) {
                let broker = list[index]
                brokers.append(.init(id: Int(broker.id), host: broker.host.map { String(cString: $0) } ?? "", port: Int(broker.port)))
            }
        }
        var partitions: [KafkaMetadata.Partition] = []
        if let topics = raw.topics, raw.topic_cnt > 0 {
            for topicIndex in 0..<Int(raw.topic_cnt) {
                let topic = topics[topicIndex]
                guard let namePointer = topic.topic, topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let name = String(cString: namePointer)
                guard let list = topic.partitions, topic.partition_cnt > 0 else { continue }
                for index in 0..<Int(topic.partition_cnt) {
                    let partition = list[index]
                    partitions.append(.init(topic: name, id: Int(partition.id), leader: Int(partition.leader),
                                            replicas: ids(partition.replicas, count: partition.replica_cnt),
                                            isr: ids(partition.isrs, count: partition.isr_cnt)))
                }
            }
        }
        let answering = raw.orig_broker_id >= 0 ? Int(raw.orig_broker_id) : nil
        return KafkaMetadata(bootstrap: bootstrap, brokers: brokers.sorted { $0.id < $1.id }, controllerID: nil, clusterID: nil,
                             answeringBrokerID: answering, partitions: partitions)
    }

    private static func ids(_ pointer: UnsafeMutablePointer<Int32>?, count: Int32) -> [Int] {
        guard let pointer, count > 0 else { return [] }
        return (0..<Int(count)).map { Int(pointer[$0]) }
    }

    private static func describe(_ status: rd_kafka_resp_err_t) -> String {
        guard let message = rd_kafka_err2str(status) else { return "error \(status.rawValue)" }
        return String(cString: message)
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
