import Glibc
import SwitchyardCore

/// An address to listen on: `127.0.0.1:5353` or `[::1]:5353`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public enum Family: Sendable, Equatable { case ipv4, ipv6 }
    public let family: Family
    public let host: String
    public let port: UInt16

    public init?(_ text: String) {
        let hostPart: Substring, portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
            family = .ipv6
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            family = .ipv4
        }
        guard let port = UInt16(portPart) else { return nil }
        self.host = String(hostPart)
        self.port = port
        var probe = in6_addr()
        let ok = host.withCString { inet_pton(family == .ipv4 ? AF_INET : AF_INET6, $0, &probe) }
        guard ok == 1 else { return nil }
    }

    public var description: String { family == .ipv4 ? "\(host):\(port)" : "[\(host)]:\(port)" }

    /// Calls `body` with this address as a sockaddr.
    public func withSockaddr<R, E: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R) throws(E) -> R {
        switch family {
        case .ipv4:
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            _ = host.withCString { inet_pton(AF_INET, $0, &address.sin_addr) }
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(E) -> R in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6:
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            _ = host.withCString { inet_pton(AF_INET6, $0, &address.sin6_addr) }
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (raw) throws(E) -> R in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Throws when another process already serves this address. Our sockets set SO_REUSEPORT
    /// (one per worker), and the kernel lets any process of the same user join such a group: a
    /// second `serve` on the same --listen (another --state, or one forgotten) started without a
    /// word and took part of the queries, answering from its own journal. Every `serve` listens
    /// on TCP at each address, so a TCP probe without SO_REUSEPORT (which cannot join the group)
    /// finds it: its bind fails while anything listens there. SO_REUSEADDR keeps connections in
    /// TIME_WAIT from a server just stopped from counting. UDP is not probed: without
    /// SO_REUSEADDR that probe would also trip over an mDNS responder's wildcard socket on 5353,
    /// which never stood in the way of a loopback address. Port 0 asks for any free port.
    func ensureNotInUse() throws(SystemError) {
        guard port != 0 else { return }
        let context = "\(description) (already served by another process, maybe another `switchyard serve`: "
            + "stop it or pick another --listen)"
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        let fd = try systemCall("socket", context) { socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(fd) }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        try systemCall("setsockopt(SO_REUSEADDR)", context) { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) }
        if family == .ipv6 {
            try systemCall("setsockopt(IPV6_V6ONLY)", context) { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) }
        }
        let bound = withSockaddr { address, length in Glibc.bind(fd, address, length) }
        let code = Glibc.errno
        if bound == -1 && code == EADDRINUSE {
            throw SystemError(call: "bind", context: context, errno: code)
        }
    }

    /// A bound socket of `type` (SOCK_DGRAM or SOCK_STREAM) with SO_REUSEPORT, so several
    /// workers can share one address and the kernel spreads queries between them.
    func bind(type: Int32) throws(SystemError) -> Int32 {
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        let fd = try systemCall("socket", description) { socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do {
            var one: Int32 = 1
            let size = socklen_t(MemoryLayout<Int32>.size)
            try systemCall("setsockopt(SO_REUSEADDR)", description) { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) }
            try systemCall("setsockopt(SO_REUSEPORT)", description) { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) }
            if type == Int32(SOCK_DGRAM.rawValue) {
                // Each queued datagram costs about 1 KiB of buffer (skb overhead), so the
                // default 208 KiB holds only a couple of hundred queries: a worker pausing
                // a few milliseconds (a snapshot swap, a reload, another process on its core)
                // would drop them. Best effort: the kernel caps it at net.core.rmem_max.
                var bytes: Int32 = 4 << 20
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, size)
                // Answers are never fragmented by this host (RFC 9715) and path-MTU news from
                // ICMP is ignored, so a forged "fragmentation needed" cannot shrink or block
                // them: DF is set, the size limit is the interface's (EDNS keeps them smaller).
                if family == .ipv4 {
                    var probe = IP_PMTUDISC_PROBE
                    _ = setsockopt(fd, Int32(IPPROTO_IP), IP_MTU_DISCOVER, &probe, size)
                } else {
                    var probe = IPV6_PMTUDISC_PROBE
                    _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MTU_DISCOVER, &probe, size)
                }
            }
            if family == .ipv6 {
                try systemCall("setsockopt(IPV6_V6ONLY)", description) { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) }
            }
            _ = try withSockaddr { address, length throws(SystemError) in
                try systemCall("bind", description) { Glibc.bind(fd, address, length) }
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }
}

extension ListenAddress {
    /// The 4 or 16 bytes of an IPv4 or IPv6 address in text, or nil for anything else.
    public static func addressBytes(_ text: String) -> [UInt8]? { IPAddress.bytes(text) }

    /// inet_ntop's spelling of 4 or 16 address bytes (`fd00:8::5`), the one every module uses.
    public static func addressText(_ bytes: [UInt8]) -> String { IPAddress.text(bytes) }
}
