/// Reads DNS responses (for the verifier and NOTIFY): header fields and the answer
/// section, with compressed names expanded. Never traps on malformed input.
public struct MessageReader: Sendable {
    public struct Record: Sendable, Equatable {
        public var owner: DomainName
        public var type: RRType
        public var ttl: UInt32
        /// RDATA as sent; for CNAME/NS/PTR, `target` holds the expanded name.
        public var rdata: [UInt8]
        public var target: DomainName?
    }

    public let id: UInt16
    public let flags: UInt16
    public var rcode: UInt16 { flags & 0xF }
    public var opcode: UInt16 { (flags >> 11) & 0xF }
    public var isResponse: Bool { flags & 0x8000 != 0 }
    public let answers: [Record]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 12 else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
        id = u16(0); flags = u16(2)
        var offset = 12
        for _ in 0..<u16(4) {
            guard let (_, end) = MessageReader.name(bytes, at: offset), end + 4 <= bytes.count else { return nil }
            offset = end + 4
        }
        var answers: [Record] = []
        for _ in 0..<u16(6) {
            guard let (owner, end) = MessageReader.name(bytes, at: offset), end + 10 <= bytes.count else { return nil }
            let type = RRType(rawValue: u16(end))
            let ttl = UInt32(u16(end + 4)) << 16 | UInt32(u16(end + 6))
            let length = Int(u16(end + 8))
            guard end + 10 + length <= bytes.count else { return nil }
            let rdata = Array(bytes[(end + 10)..<(end + 10 + length)])
            var target: DomainName?
            if type == .cname || type == .ns || type == .ptr { target = MessageReader.name(bytes, at: end + 10)?.0 }
            answers.append(Record(owner: owner, type: type, ttl: ttl, rdata: rdata, target: target))
            offset = end + 10 + length
        }
        self.answers = answers
    }

    /// Expands the (possibly compressed) name at `start`; returns it and the offset after it.
    static func name(_ bytes: [UInt8], at start: Int) -> (DomainName, Int)? {
        var wire: [UInt8] = [], offset = start, end: Int?, hops = 0
        while offset < bytes.count {
            let length = Int(bytes[offset])
            if length & 0xC0 == 0xC0 {
                guard offset + 1 < bytes.count, hops < 64 else { return nil }
                if end == nil { end = offset + 2 }
                offset = (length & 0x3F) << 8 | Int(bytes[offset + 1]); hops += 1
                continue
            }
            guard length <= 63, offset + 1 + length <= bytes.count else { return nil }
            wire.append(contentsOf: bytes[offset...(offset + length)])
            if length == 0 {
                guard let name = DomainName(wire: wire) else { return nil }
                return (name, end ?? offset + 1)
            }
            offset += 1 + length
        }
        return nil
    }

    /// A query (or, with `opcode` 4, a NOTIFY per RFC 1996 section 3.7) for `name`/`type`.
    public static func query(id: UInt16, name: DomainName, type: RRType, opcode: UInt16 = 0, recursionDesired: Bool = false) -> [UInt8] {
        var flags = opcode << 11
        if opcode == 4 { flags |= 0x0400 }  // NOTIFY from the primary is authoritative
        if recursionDesired { flags |= 0x0100 }
        var packet: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0, 0, 0, 0, 0, 0]
        packet += name.wire
        packet += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        return packet
    }
}
