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
