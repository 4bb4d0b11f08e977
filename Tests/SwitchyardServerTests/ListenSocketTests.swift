import Glibc
import Testing
@testable import SwitchyardServer

@Suite("Listening sockets")
struct ListenSocketTests {
    /// Answers leave with DF set and the interface MTU as the only limit (RFC 9715: never
    /// fragmented by us; a forged ICMP "fragmentation needed" cannot shrink them).
    @Test(arguments: ["127.0.0.1:0", "[::1]:0"])
    func udpSocketsSetDontFragmentAndIgnorePathMTU(_ text: String) throws {
        let address = try #require(ListenAddress(text))
        let fd = try address.bind(type: Int32(SOCK_DGRAM.rawValue))
        defer { close(fd) }
        var value: Int32 = -1
        var size = socklen_t(MemoryLayout<Int32>.size)
        let ipv4 = text.hasPrefix("127.")
        let level = ipv4 ? Int32(IPPROTO_IP) : Int32(IPPROTO_IPV6)
        #expect(getsockopt(fd, level, ipv4 ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER, &value, &size) == 0)
        #expect(value == (ipv4 ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE))
    }
}

@Suite("An address another process serves")
struct AddressInUseTests {
    /// Our own sockets set SO_REUSEPORT, which lets any socket of the same user that sets it
    /// too share the address: a second server would have joined silently.
    @Test func aListenerOfAnotherServerIsFound() throws {
        let any = try #require(ListenAddress("127.0.0.1:0"))
        let held = try any.bind(type: Int32(SOCK_STREAM.rawValue))
        defer { close(held) }
        #expect(listen(held, 8) == 0)
        var address = sockaddr_in(), length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(held, $0, &length) } }
        let taken = try #require(ListenAddress("127.0.0.1:\(UInt16(bigEndian: address.sin_port))"))
        #expect(throws: SystemError.self) { try taken.ensureNotInUse() }
        do {
            try taken.ensureNotInUse()
        } catch {
            #expect(error.errno == EADDRINUSE && error.description.contains("another `switchyard serve`"))
        }
    }

    @Test func aFreeAddressPasses() throws {
        try #require(ListenAddress("127.0.0.1:0")).ensureNotInUse()
    }
}
