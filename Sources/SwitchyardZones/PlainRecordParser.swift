import Glibc
import SwitchyardCore

/// Parses the record shapes that make up nearly every large zone — `owner [ttl] [IN] type
/// rdata` with A, AAAA, NS, CNAME or PTR data and names of plain characters — straight from
/// the entry's bytes. libldns costs a C string, an origin RDF and several allocations per
/// record, most of a million-name load. Anything else (escapes, quotes, `@` in RDATA, other
/// classes or types, TTL units, bad data) returns nil and goes to libldns, which stays the
/// one judge of the full syntax and the source of every error message.
enum PlainRecordParser {
    /// Reused between records, so that a record costs no allocation: the owner being built,
    /// the previous owner (an entry starting with a blank inherits it), and the RDATA.
    struct State {
        /// The previous record's owner in wire format; empty before the first record.
        var previousOwner: [UInt8] = []
        var owner: [UInt8] = []
        var rdata: [UInt8] = []
    }

    /// Parses one entry into `records`; returns the record's TTL, or nil (nothing added)
    /// when the entry is not of a plain shape. `state.previousOwner` is then this record's owner.
    static func parse(_ text: UnsafeRawBufferPointer, inheritsOwner: Bool, origin: DomainName, defaultTTL: UInt32, line: Int,
                      state: inout State, into records: inout ZoneRecords) -> UInt32? {
        var tokens = Tokens(text)
        if inheritsOwner {
            guard !state.previousOwner.isEmpty else { return nil }
        } else {
            guard let token = tokens.next(), name(token, origin: origin, into: &state.owner) else { return nil }
        }
        var ttl: UInt32?
        var sawClass = false
        var typeToken: UnsafeRawBufferPointer?
        // RFC 1035 section 5.1: TTL and class, each optional, in either order.
        while let token = tokens.next() {
            if let value = plainTTL(token) {
                guard ttl == nil else { return nil }
                ttl = value
            } else if token.count == 2 && token[0] | 0x20 == UInt8(ascii: "i") && token[1] | 0x20 == UInt8(ascii: "n") {
                guard !sawClass else { return nil }
                sawClass = true
            } else {
                typeToken = token
                break
            }
        }
        guard let typeToken, let type = type(typeToken), let data = tokens.next(), tokens.next() == nil else { return nil }
        switch type {
        case .a: guard ipv4(data, into: &state.rdata) else { return nil }
        case .aaaa: guard ipv6(data, into: &state.rdata) else { return nil }
        default:
            // `@` in RDATA: left to libldns, which decides what it means there.
            guard !(data.count == 1 && data[0] == UInt8(ascii: "@")),
                  name(data, origin: origin, into: &state.rdata) else { return nil }
        }
        if !inheritsOwner { swap(&state.owner, &state.previousOwner) }
        let recordTTL = ttl ?? defaultTTL
        let added = state.previousOwner.withUnsafeBytes { owner in
            state.rdata.withUnsafeBytes { rdata in
                records.append(owner: owner, type: type, rrClass: .in, ttl: recordTTL, rdata: rdata, line: line)
            }
        }
        return added ? recordTTL : nil
    }

    /// One entry parsed on its own (tests compare it with libldns).
    static func parse(_ text: UnsafeRawBufferPointer, inheritsOwner: Bool, origin: DomainName, defaultTTL: UInt32,
                      state: inout State) -> ResourceRecord? {
        var records = ZoneRecords()
        guard parse(text, inheritsOwner: inheritsOwner, origin: origin, defaultTTL: defaultTTL, line: 0,
                    state: &state, into: &records) != nil else { return nil }
        return records[0]
    }

    /// Blank-separated tokens of one entry.
    struct Tokens {
        let text: UnsafeRawBufferPointer
        var index = 0
        init(_ text: UnsafeRawBufferPointer) { self.text = text }

        mutating func next() -> UnsafeRawBufferPointer? {
            while index < text.count && (text[index] == 0x20 || text[index] == 0x09) { index += 1 }
            guard index < text.count else { return nil }
            let start = index
            while index < text.count && text[index] != 0x20 && text[index] != 0x09 { index += 1 }
            return UnsafeRawBufferPointer(rebasing: text[start..<index])
        }
    }

    /// Digits only, within RFC 2181's 31 bits; units (`1h`) are left to libldns.
    static func plainTTL(_ token: UnsafeRawBufferPointer) -> UInt32? {
        guard !token.isEmpty, token.count <= 10 else { return nil }
        var value: UInt64 = 0
        for byte in token {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + UInt64(byte - 0x30)
        }
        return value <= UInt64(Int32.max) ? UInt32(value) : nil
    }

    static func type(_ token: UnsafeRawBufferPointer) -> RRType? {
        var folded: UInt64 = 0
        guard token.count <= 5 else { return nil }
        for byte in token { folded = folded << 8 | UInt64(asciiUpper(byte)) }
        switch folded {
        case 0x41: return .a                        // A
        case 0x4141_4141: return .aaaa              // AAAA
        case 0x4E53: return .ns                     // NS
        case 0x43_4E41_4D45: return .cname          // CNAME
        case 0x50_5452: return .ptr                 // PTR
        default: return nil
        }
    }

    /// A relative or absolute name of letters, digits, `-`, `_` and `*`, or `@` for the
    /// origin, written into `wire`; false when the token is not such a name.
    static func name(_ token: UnsafeRawBufferPointer, origin: DomainName, into wire: inout [UInt8]) -> Bool {
        wire.removeAll(keepingCapacity: true)
        if token.count == 1 && token[0] == UInt8(ascii: "@") { wire.append(contentsOf: origin.wire); return true }
        var labelStart = 0
        var absolute = false
        wire.append(0)
        for (index, byte) in token.enumerated() {
            if byte == UInt8(ascii: ".") {
                let length = wire.count - labelStart - 1
                guard length > 0, length <= 63 else { return false }
                wire[labelStart] = UInt8(length)
                if index == token.count - 1 { absolute = true; break }
                labelStart = wire.count
                wire.append(0)
                continue
            }
            guard isPlainNameByte(byte) else { return false }
            wire.append(byte)
        }
        if absolute {
            wire.append(0)
        } else {
            let length = wire.count - labelStart - 1
            guard length > 0, length <= 63 else { return false }
            wire[labelStart] = UInt8(length)
            wire.append(contentsOf: origin.wire)
        }
        return wire.count <= 255
    }

    @inline(__always)
    static func isPlainNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "*"):
            return true
        default:
            return false
        }
    }

    /// Dotted quad, as inet_pton reads it (no leading zeros, each part ≤ 255).
    static func ipv4(_ token: UnsafeRawBufferPointer, into parts: inout [UInt8]) -> Bool {
        parts.removeAll(keepingCapacity: true)
        var value = 0, digits = 0
        for byte in token {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts.count < 3 else { return false }
                parts.append(UInt8(value)); value = 0; digits = 0
                continue
            }
            guard byte >= 0x30 && byte <= 0x39, !(digits == 1 && value == 0) else { return false }
            value = value * 10 + Int(byte - 0x30); digits += 1
            guard value <= 255 else { return false }
        }
        guard digits > 0, parts.count == 3 else { return false }
        parts.append(UInt8(value))
        return true
    }

    /// Through inet_pton, as libldns does: the same addresses are accepted.
    static func ipv6(_ token: UnsafeRawBufferPointer, into address: inout [UInt8]) -> Bool {
        guard token.count < 64 else { return false }
        address.removeAll(keepingCapacity: true)
        address.append(contentsOf: repeatElement(0, count: 16))
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: token.count + 1) { text in
            for (index, byte) in token.enumerated() { text[index] = CChar(bitPattern: byte) }
            text[token.count] = 0
            return address.withUnsafeMutableBytes { inet_pton(AF_INET6, text.baseAddress, $0.baseAddress) } == 1
        }
    }

    @inline(__always)
    private static func asciiUpper(_ byte: UInt8) -> UInt8 { byte &- 0x61 < 26 ? byte & ~0x20 : byte }
}
