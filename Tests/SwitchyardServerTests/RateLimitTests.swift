import Testing
@testable import SwitchyardServer
import SwitchyardCore

@Suite("Response-rate limiting")
struct RateLimitTests {
    func verdicts(_ table: inout BucketTable, _ address: [UInt8], at now: Double, count: Int, rate: Int, slip: Int) -> [ResponseRateLimiter.Verdict] {
        address.withUnsafeBytes { bytes in (0..<count).map { _ in table.admit(bytes, now: now, rate: rate, slip: slip) } }
    }

    @Test("a prefix gets `rate` responses at once, then every slip-th limited one truncated, the rest dropped")
    func burstThenSlip() {
        var table = BucketTable(size: 64)
        let got = verdicts(&table, [192, 0, 2, 1], at: 100, count: 10, rate: 4, slip: 2)
        #expect(got == [.send, .send, .send, .send, .drop, .slip, .drop, .slip, .drop, .slip])
        // Half a second later two tokens are back.
        #expect(verdicts(&table, [192, 0, 2, 77], at: 100.5, count: 3, rate: 4, slip: 0) == [.send, .send, .drop])
    }

    @Test("the bucket is per /24 (IPv4) and /56 (IPv6)")
    func prefixes() {
        var table = BucketTable(size: 64)
        _ = verdicts(&table, [198, 51, 100, 1], at: 0, count: 2, rate: 2, slip: 0)
        #expect(verdicts(&table, [198, 51, 100, 200], at: 0, count: 1, rate: 2, slip: 0) == [.drop])
        #expect(verdicts(&table, [198, 51, 101, 1], at: 0, count: 1, rate: 2, slip: 0) == [.send])
        let a: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x01] + Array(repeating: 0, count: 8) + [1]
        var b = a; b[6] = 0x01; b[7] = 0xFF; b[15] = 9       // same /56
        var c = a; c[6] = 0x02                              // another /56
        _ = verdicts(&table, a, at: 0, count: 2, rate: 2, slip: 0)
        #expect(verdicts(&table, b, at: 0, count: 1, rate: 2, slip: 0) == [.drop])
        #expect(verdicts(&table, c, at: 0, count: 1, rate: 2, slip: 0) == [.send])
    }

    @Test("whitelisted prefixes are never limited; rate 0 is off")
    func whitelist() throws {
        #expect(ResponseRateLimiter(RateLimitSettings(rate: 0)) == nil)
        let prefix = try #require(AddressPrefix("10.1.0.0/16"))
        let limiter = try #require(ResponseRateLimiter(RateLimitSettings(rate: 1, slip: 1, whitelist: [prefix])))
        let whitelisted: [UInt8] = [10, 1, 9, 9], other: [UInt8] = [10, 2, 0, 1]
        var got: [ResponseRateLimiter.Verdict] = []
        whitelisted.withUnsafeBytes { a in other.withUnsafeBytes { b in
            limiter.judge(count: 4, now: 0, client: { $0 < 2 ? a : b }) { _, verdict in got.append(verdict) }
        } }
        #expect(got == [.send, .send, .send, .slip])
        #expect(limiter.slipped == 1 && limiter.dropped == 0)
    }

    @Test("prefixes parse and print", arguments: [("192.0.2.0/24", "192.0.2.0/24"), ("2001:db8::/32", "2001:db8::/32"), ("::1", "::1/128")])
    func prefixText(_ text: String, _ printed: String) throws {
        #expect(try #require(AddressPrefix(text)).description == printed)
    }

    @Test("an IPv4-mapped IPv6 client is matched as its IPv4 address")
    func mappedClients() throws {
        let prefix = try #require(AddressPrefix("192.0.2.0/24"))
        #expect(prefix.contains([192, 0, 2, 9]))
        #expect(prefix.contains([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 2, 9]))
        #expect(!prefix.contains([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 192, 0, 3, 9]))
        #expect(!prefix.contains([UInt8](repeating: 0, count: 12) + [192, 0, 2, 9]))  // IPv4-compatible is not mapped
        #expect(!(try #require(AddressPrefix("::ffff:0:0/96"))).contains([192, 0, 2, 9]))
    }

    @Test("bad prefixes are refused", arguments: ["192.0.2.0/33", "nope/8", "10.0.0.0/x", ""])
    func badPrefix(_ text: String) {
        #expect(AddressPrefix(text) == nil)
    }

    @Test("a slipped response keeps header and question, with TC set and no records")
    func slipTruncates() {
        // ID 0xbeef, QR AA, 1 question, 1 answer: example. A, then an A record.
        var packet: [UInt8] = [0xbe, 0xef, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1]
        packet += [7] + Array("example".utf8) + [0, 0, 1, 0, 1]
        let question = packet.count
        packet += [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]
        let length = packet.withUnsafeMutableBytes { ResponseRateLimiter.slip($0.baseAddress!, length: $0.count) }
        #expect(length == question)
        #expect(packet[2] & 0x02 != 0)
        #expect(Array(packet[4..<12]) == [0, 1, 0, 0, 0, 0, 0, 0])
        var garbage: [UInt8] = [1, 2, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63]
        let cut = garbage.withUnsafeMutableBytes { ResponseRateLimiter.slip($0.baseAddress!, length: $0.count) }
        #expect(cut == 12 && garbage[5] == 0)
    }
}
