import Glibc
import SwitchyardCore
import SwitchyardServer
import SwitchyardTransfer

/// A minimal UDP DNS client for the control plane: verifying what serving instances answer
/// and sending NOTIFY to secondaries. Never used on the answer path.
public enum DNSClient {
    /// Sends one query and waits up to `timeout` seconds for the response with its ID.
    public static func exchange(_ packet: [UInt8], with server: ListenAddress, timeout: Double) -> MessageReader? {
        exchangeRaw(packet, with: server, timeout: timeout).flatMap(MessageReader.init)
    }

    /// Like `exchange`, returning the response's bytes (what a TSIG check needs).
    public static func exchangeRaw(_ packet: [UInt8], with server: ListenAddress, timeout: Double) -> [UInt8]? {
        let domain = server.family == .ipv4 ? AF_INET : AF_INET6
        let fd = socket(domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let sent = server.withSockaddr { address, length in
            packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
        }
        guard sent == packet.count else { return nil }
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while true {
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0 else { return nil }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(remaining * 1000) + 1) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            let bytes = Array(buffer[0..<count])
            if let message = MessageReader(bytes), message.isResponse,
               message.id == UInt16(packet[0]) << 8 | UInt16(packet[1]) {
                return bytes
            }
        }
    }

    public static func query(_ name: DomainName, _ type: RRType, server: ListenAddress, timeout: Double = 1) -> MessageReader? {
        exchange(MessageReader.query(id: UInt16.random(in: 0...UInt16.max), name: name, type: type), with: server, timeout: timeout)
    }

    /// RFC 1996: tells a secondary that `zone` changed; retried until it answers.
    /// With `key`, the NOTIFY is signed with TSIG (RFC 8945), as secondaries that require a
    /// key for NOTIFY (NSD `allow-notify ... KEY`, Knot ACLs) expect.
    public static func notify(zone: DomainName, server: ListenAddress, key: TSIGKey? = nil, attempts: Int = 3, timeout: Double = 1) -> Bool {
        for _ in 0..<attempts {
            let id = UInt16.random(in: 0...UInt16.max)
            var packet = MessageReader.query(id: id, name: zone, type: .soa, opcode: 4)
            var requestMAC: [UInt8] = []
            if let key {
                requestMAC = TSIG.sign(&packet, key: key, keyName: key.name, algorithm: key.algorithm.wireName, time: UInt64(time(nil)),
                                       originalID: id, priorMAC: nil)
            }
            guard let bytes = exchangeRaw(packet, with: server, timeout: timeout),
                  let answer = MessageReader(bytes), answer.opcode == 4 else { continue }
            // RFC 8945 section 5.3: the answer to a signed request must be signed by the same
            // key; an unsigned or forged acknowledgement does not count.
            if let key, !acknowledgementVerifies(bytes, key: key, requestMAC: requestMAC) { return false }
            return answer.rcode == 0
        }
        return false
    }

    static func acknowledgementVerifies(_ bytes: [UInt8], key: TSIGKey, requestMAC: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard case .signed(let record) = TSIG.find(in: raw), record.error == 0,
                  record.keyName.key == key.name.key else { return false }
            return TSIG.verify(raw, record: record, key: key, priorMAC: requestMAC)
        }
    }
}
