import Foundation
import Glibc
import SwitchyardControl

/// One Kafka Metadata request, version 5, over a plain TCP connection: the fallback when
/// librdkafka cannot talk to an endpoint.
///
/// Why it exists: Debian 12's librdkafka 2.0.2 mis-skips tagged fields in ApiVersions v3
/// responses (it reads each tag's size as if it were a compact length), so it drops the
/// connection to brokers that send tagged fields there (tansu does; KRaft brokers with
/// features may). Metadata v5 is not a flexible version (no tagged fields), carries the
/// cluster id, the controller and every partition's leader, replicas and ISR, and is served
/// by Kafka 1.0 through 4.x (KIP-896 removed only v0–v3).
enum KafkaWireMetadata {
    static let apiKeyMetadata: Int16 = 3
    static let version: Int16 = 5
    /// A metadata response larger than this is refused rather than allocated.
    static let maxResponse = 64 << 20

    static func fetch(host: String, port: Int, bootstrap: String, timeout: Double) -> Result<KafkaMetadata, KafkaClientError> {
        let context = "Metadata v5 request to \(bootstrap)"
        var request = WireWriter()
        request.int16(apiKeyMetadata); request.int16(version); request.int32(1); request.string("switchyard-gate")
        request.int32(-1)  // topics: null = every topic
        request.int8(0)    // allow_auto_topic_creation: false
        switch exchange(host: host, port: port, request: request.bytes, timeout: timeout) {
        case .failure(let error):
            return .failure(KafkaClientError(context: context, message: error.message))
        case .success(let body):
            guard let metadata = parse(body, bootstrap: bootstrap) else {
                return .failure(KafkaClientError(context: context, message: "malformed Metadata v5 response (\(body.count) bytes)"))
            }
            return .success(metadata)
        }
    }

    static let apiKeyDescribeConfigs: Int16 = 32
    static let brokerResource: Int8 = 4
    static let invalidRequest: Int16 = 42

    /// Which node the endpoint at `host:port` is, asked as "your configs, broker `node`":
    /// Kafka brokers answer DescribeConfigs for a BROKER resource only under their own id and
    /// otherwise fail with INVALID_REQUEST "Unexpected broker id, expected M or empty string,
    /// but received N". So: `node` when the endpoint accepts it, M when it names another id,
    /// `nil` when it cannot tell (another error, e.g. not authorized; or an endpoint, like
    /// tansu, that answers for any id: then it returns `node`, and only the metadata speaks).
    static func nodeID(host: String, port: Int, claimed node: Int, timeout: Double) -> Int? {
        var request = WireWriter()
        request.int16(apiKeyDescribeConfigs); request.int16(1); request.int32(1); request.string("switchyard-gate")
        request.int32(1)                                   // one resource
        request.int8(brokerResource); request.string(String(node))
        request.int32(1); request.string("broker.id")      // one key, to keep the reply small
        request.int8(0)                                    // include_synonyms: false
        guard case .success(let body) = exchange(host: host, port: port, request: request.bytes, timeout: timeout) else { return nil }
        return parseNodeAnswer(body, claimed: node)
    }

    /// The start of a DescribeConfigs v1 response: correlation id, throttle, one result's
    /// error code and message.
    static func parseNodeAnswer(_ body: [UInt8], claimed node: Int) -> Int? {
        var reader = WireReader(body)
        guard reader.int32() == 1, reader.int32() != nil, let count = reader.count(), count >= 1,
              let error = reader.int16(), let message = reader.nullableString() else { return nil }
        if error == 0 { return node }
        guard error == invalidRequest, let text = message.value, let range = text.range(of: ", expected ") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
        return Int(digits)
    }

    /// Sends one framed request and returns the response after its size.
    private static func exchange(host: String, port: Int, request: [UInt8], timeout: Double) -> Result<[UInt8], ConnectError> {
        let fd: Int32
        switch connect(host: host, port: port, timeout: timeout) {
        case .failure(let error): return .failure(error)
        case .success(let socket): fd = socket
        }
        defer { close(fd) }
        var framed = WireWriter()
        framed.int32(Int32(request.count))
        framed.bytes += request
        guard sendAll(fd, framed.bytes) else { return .failure(ConnectError(message: "send failed: \(String(cString: strerror(errno)))")) }
        guard let sizeBytes = receive(fd, count: 4) else {
            return .failure(ConnectError(message: "no response (connection closed, or \(timeout) s passed)"))
        }
        var sizeReader = WireReader(sizeBytes)
        guard let size = sizeReader.int32(), size >= 4, Int(size) <= maxResponse, let body = receive(fd, count: Int(size)) else {
            return .failure(ConnectError(message: "bad or missing response frame"))
        }
        return .success(body)
    }

    /// The response body after the size: correlation id, then Metadata v5.
    static func parse(_ body: [UInt8], bootstrap: String) -> KafkaMetadata? {
        var reader = WireReader(body)
        guard reader.int32() == 1, reader.int32() != nil, let brokerCount = reader.count() else { return nil }
        var brokers: [KafkaMetadata.Broker] = []
        for _ in 0..<brokerCount {
            guard let id = reader.int32(), let host = reader.string(), let port = reader.int32(), reader.nullableString() != nil else { return nil }
            brokers.append(.init(id: Int(id), host: host, port: Int(port)))
        }
        guard let clusterID = reader.nullableString(), let controller = reader.int32(), let topicCount = reader.count() else { return nil }
        var partitions: [KafkaMetadata.Partition] = []
        for _ in 0..<topicCount {
            guard let topicError = reader.int16(), let name = reader.string(), reader.int8() != nil, let partitionCount = reader.count() else { return nil }
            for _ in 0..<partitionCount {
                guard reader.int16() != nil, let index = reader.int32(), let leader = reader.int32(),
                      let replicas = reader.int32Array(), let isr = reader.int32Array(), reader.int32Array() != nil else { return nil }
                if topicError == 0 {
                    partitions.append(.init(topic: name, id: Int(index), leader: Int(leader), replicas: replicas.map(Int.init), isr: isr.map(Int.init)))
                }
            }
        }
        return KafkaMetadata(bootstrap: bootstrap, brokers: brokers.sorted { $0.id < $1.id }, controllerID: controller >= 0 ? Int(controller) : nil,
                             clusterID: clusterID.value, answeringBrokerID: nil, partitions: partitions)
    }

    // MARK: - Socket

    struct ConnectError: Error { var message: String }

    private static func connect(host: String, port: Int, timeout: Double) -> Result<Int32, ConnectError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else { return .failure(ConnectError(message: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")) }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            entry = current.pointee.ai_next
            let fd = socket(current.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            if Glibc.connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                lastError = String(cString: strerror(errno)); close(fd); continue
            }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard poll(&poller, 1, Int32(timeout * 1000)) > 0, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else {
                lastError = error != 0 ? String(cString: strerror(error)) : "connect timed out after \(timeout) s"
                close(fd); continue
            }
            // Blocking from here, with the timeout on each send and receive.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~Int32(O_NONBLOCK))
            var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            return .success(fd)
        }
        return .failure(ConnectError(message: lastError))
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    private static func receive(_ fd: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        return buffer
    }
}

/// Big-endian Kafka primitives (non-flexible versions).
struct WireWriter {
    var bytes: [UInt8] = []
    mutating func int8(_ value: Int8) { bytes.append(UInt8(bitPattern: value)) }
    mutating func int16(_ value: Int16) { withUnsafeBytes(of: value.bigEndian) { bytes += $0 } }
    mutating func int32(_ value: Int32) { withUnsafeBytes(of: value.bigEndian) { bytes += $0 } }
    mutating func string(_ value: String) { int16(Int16(value.utf8.count)); bytes += value.utf8 }
}

struct WireReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// A nullable value: `value` nil for null.
    struct Nullable { var value: String? }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }
    mutating func int8() -> Int8? { take(1).map { Int8(bitPattern: $0.first!) } }
    mutating func int16() -> Int16? { take(2).map { $0.reduce(0) { $0 << 8 | Int16($1) } } }
    mutating func int32() -> Int32? { take(4).map { $0.reduce(0) { $0 << 8 | Int32($1) } } }
    mutating func string() -> String? {
        guard let length = int16(), length >= 0, let raw = take(Int(length)) else { return nil }
        return String(decoding: raw, as: UTF8.self)
    }
    mutating func nullableString() -> Nullable? {
        guard let length = int16() else { return nil }
        if length == -1 { return Nullable(value: nil) }
        guard length >= 0, let raw = take(Int(length)) else { return nil }
        return Nullable(value: String(decoding: raw, as: UTF8.self))
    }
    /// An array length; null arrays count as empty. Refuses counts the remaining bytes cannot hold.
    mutating func count() -> Int? {
        guard let n = int32() else { return nil }
        if n == -1 { return 0 }
        guard n >= 0, Int(n) <= bytes.count - offset else { return nil }
        return Int(n)
    }
    mutating func int32Array() -> [Int32]? {
        guard let n = count() else { return nil }
        var values: [Int32] = []
        for _ in 0..<n { guard let value = int32() else { return nil }; values.append(value) }
        return values
    }
}
