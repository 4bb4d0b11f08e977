import Glibc
import SwitchyardCore
import SwitchyardServer
import SwitchyardTransfer

/// A minimal UDP DNS client for the control plane: verifying what serving instances answer
/// and sending NOTIFY to secondaries. Never used on the answer path.
public enum DNSClient {
    /// Sends one query and waits up to `timeout` seconds for the response with its ID.
    public static func exchange(_ packet: [UInt8], with server: ListenAddress, timeout: Double) -> MessageReader? {
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
            if let message = MessageReader(Array(buffer[0..<count])), message.isResponse,
               message.id == UInt16(packet[0]) << 8 | UInt16(packet[1]) {
                return message
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
            if let key {
                TSIG.sign(&packet, key: key, keyName: key.name, algorithm: key.algorithm.wireName, time: UInt64(time(nil)),
                          originalID: id, priorMAC: nil)
            }
            if let answer = exchange(packet, with: server, timeout: timeout), answer.opcode == 4 {
                return answer.rcode == 0
            }
        }
        return false
    }
}
