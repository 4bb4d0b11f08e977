@testable import SwitchyardCore

/// Builds zones and queries in code, and reads responses back, for the core tests.
enum Fixture {
    static func name(_ text: String) -> DomainName { DomainName(text)! }

    static func a(_ text: String) -> [UInt8] { text.split(separator: ".").map { UInt8($0)! } }

    static func soaRData(serial: UInt32 = 1, minimum: UInt32 = 60) -> [UInt8] {
        var rdata = name("ns1.example.test.").wire + name("hostmaster.example.test.").wire
        for value in [serial, 3600, 600, 86400, minimum] {
            rdata += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        return rdata
    }

    static func txt(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }

    static func record(_ owner: String, _ type: RRType, _ rdata: [UInt8], ttl: UInt32 = 300, line: Int = 0) -> ResourceRecord {
        ResourceRecord(owner: name(owner), type: type, ttl: ttl, rdata: rdata, line: line)
    }

    /// The zone the lookup tests use.
    static let exampleRecords: [ResourceRecord] = [
        record("example.test.", .soa, soaRData(), ttl: 3600),
        record("example.test.", .ns, name("ns1.example.test.").wire),
        record("example.test.", .mx, [0, 10] + name("mail.example.test.").wire),
        record("ns1.example.test.", .a, a("192.0.2.1")),
        record("mail.example.test.", .a, a("192.0.2.25")),
        record("www.example.test.", .a, a("192.0.2.80")),
        record("www.example.test.", .aaaa, Array(repeating: 0, count: 15) + [1]),
        record("alias.example.test.", .cname, name("www.example.test.").wire),
        record("alias2.example.test.", .cname, name("alias.example.test.").wire),
        record("outside.example.test.", .cname, name("www.example.com.").wire),
        record("loop1.example.test.", .cname, name("loop2.example.test.").wire),
        record("loop2.example.test.", .cname, name("loop1.example.test.").wire),
        record("a.b.c.example.test.", .a, a("192.0.2.3")),
        record("*.wild.example.test.", .a, a("192.0.2.42")),
        record("host.wild.example.test.", .txt, txt("exists")),
        record("x.y.wild.example.test.", .a, a("192.0.2.43")),
        record("child.example.test.", .ns, name("ns1.child.example.test.").wire),
        record("child.example.test.", .ns, name("ns.elsewhere.test.").wire),
        record("ns1.child.example.test.", .a, a("192.0.2.53")),
        record("big.example.test.", .txt, txt(String(repeating: "x", count: 200))),
        record("big.example.test.", .txt, txt(String(repeating: "y", count: 200))),
        record("big.example.test.", .txt, txt(String(repeating: "z", count: 200))),
        record("unknown.example.test.", RRType(rawValue: 65000), [1, 2, 3, 4]),
    ]

    static func snapshot(_ records: [ResourceRecord] = exampleRecords) -> Snapshot {
        let zone = try! ZoneBuilder.build(origin: name("example.test."), records: records, source: "example.test.zone").get()
        return try! Snapshot(zones: [zone])
    }

    /// A query packet. `edns` adds an OPT record with that UDP size.
    static func query(_ qname: String, _ qtype: RRType, id: UInt16 = 0x1234, flags: UInt16 = 0x0100,
                      qdcount: UInt16 = 1, edns: UInt16? = nil, ednsVersion: UInt8 = 0) -> [UInt8] {
        var packet: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF),
                               0, UInt8(qdcount), 0, 0, 0, 0, 0, edns == nil ? 0 : 1]
        packet += DomainName(qname)!.wire
        packet += [UInt8(qtype.rawValue >> 8), UInt8(qtype.rawValue & 0xFF), 0, 1]
        if let edns {
            packet += [0, 0, 41, UInt8(edns >> 8), UInt8(edns & 0xFF), 0, ednsVersion, 0, 0, 0, 0]
        }
        return packet
    }

    static func respond(_ packet: [UInt8], transport: Transport = .udp, snapshot: Snapshot = shared,
                        responder: Responder = Responder()) -> Response? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 8)
        defer { buffer.deallocate() }
        let length = packet.withUnsafeBytes { responder.respond(to: $0, transport: transport, snapshot: snapshot, into: buffer) }
        guard length > 0 else { return nil }
        return Response(Array(buffer[0..<length]))
    }

    static let shared = snapshot()
}

/// A parsed response, enough to assert on.
struct Response {
    struct Record: Equatable {
        var owner: String
        var type: UInt16
        var ttl: UInt32
        var rdata: [UInt8]
    }
    let bytes: [UInt8]
    var id: UInt16 { u16(0) }
    var flags: UInt16 { u16(2) }
    var rcode: UInt16 { flags & 0xF }
    var aa: Bool { flags & 0x0400 != 0 }
    var tc: Bool { flags & 0x0200 != 0 }
    var qdcount: UInt16 { u16(4) }
    var answer: [Record] = []
    var authority: [Record] = []
    var additional: [Record] = []
    var questionName = ""

    init?(_ bytes: [UInt8]) {
        self.bytes = bytes
        guard bytes.count >= 12 else { return nil }
        var offset = 12
        for _ in 0..<u16(4) {
            guard let (name, end) = readName(offset) else { return nil }
            questionName = name
            offset = end + 4
        }
        func records(_ count: UInt16) -> [Record]? {
            var list: [Record] = []
            for _ in 0..<count {
                guard let (owner, end) = readName(offset), end + 10 <= bytes.count else { return nil }
                let length = Int(u16(end + 8))
                guard end + 10 + length <= bytes.count else { return nil }
                let ttl = UInt32(u16(end + 4)) << 16 | UInt32(u16(end + 6))
                list.append(Record(owner: owner, type: u16(end), ttl: ttl, rdata: Array(bytes[(end + 10)..<(end + 10 + length)])))
                offset = end + 10 + length
            }
            return list
        }
        guard let an = records(u16(6)), let ns = records(u16(8)), let ar = records(u16(10)), offset == bytes.count else { return nil }
        answer = an; authority = ns; additional = ar
    }

    func u16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }

    /// Reads a possibly compressed name; returns it in presentation form and the offset after it.
    func readName(_ start: Int) -> (String, Int)? {
        var labels: [String] = [], offset = start, end: Int? = nil, hops = 0
        while offset < bytes.count {
            let length = Int(bytes[offset])
            if length & 0xC0 == 0xC0 {
                guard offset + 1 < bytes.count, hops < 32 else { return nil }
                if end == nil { end = offset + 2 }
                offset = (length & 0x3F) << 8 | Int(bytes[offset + 1]); hops += 1
                continue
            }
            if length == 0 { return (labels.joined(separator: ".") + ".", end ?? offset + 1) }
            guard offset + 1 + length <= bytes.count else { return nil }
            labels.append(String(decoding: bytes[(offset + 1)...(offset + length)], as: UTF8.self))
            offset += 1 + length
        }
        return nil
    }

    var opt: Record? { additional.first { $0.type == 41 } }
}
