import CNetShim
import Glibc
import SwitchyardCore

/// TCP connect probes, for health checks and cutover gates.
public enum TCPProbe {
    enum Attempt {
        case connected(Int32), inProgress(Int32), failed
        /// No socket could be made (the process is out of file descriptors: EMFILE, ENFILE):
        /// nothing was learnt about the target.
        case noDescriptor(Int32)
    }

    /// Starts a non-blocking TCP connect.
    static func connect(_ target: StableTarget, port: UInt16) -> Attempt {
        let key = HealthKey(target: target, port: port)
        let family: Int32
        switch key.target {
        case .ipv4: family = AF_INET
        case .ipv6: family = AF_INET6
        case .hostname: return .failed
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno == EMFILE || errno == ENFILE ? .noDescriptor(errno) : .failed }
        let result: Int32
        switch key.target {
        case .ipv4(let bytes):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = key.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: bytes) }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .ipv6(let bytes):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = key.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: bytes) }
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        case .hostname:
            result = -1
        }
        if result == 0 { return .connected(fd) }
        if errno == EINPROGRESS { return .inProgress(fd) }
        close(fd)
        return .failed
    }

    /// Whether `target` accepts a TCP connection on `port` within `timeout` seconds.
    public static func check(_ target: StableTarget, port: UInt16, timeout: Double) -> Bool {
        switch connect(target, port: port) {
        case .connected(let fd): close(fd); return true
        case .failed, .noDescriptor: return false
        case .inProgress(let fd):
            defer { close(fd) }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return false }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
        }
    }
}
