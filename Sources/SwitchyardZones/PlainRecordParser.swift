import Glibc
import SwitchyardCore

/// Parses the record shapes that make up nearly every large zone — `owner [ttl] [IN] type
/// rdata` with A, AAAA, NS, CNAME or PTR data and names of plain characters — straight from
/// the entry's bytes. libldns costs a C string, an origin RDF and several allocations per
/// record, most of a million-name load. Anything else (escapes, quotes, `@` in RDATA, other
/// classes or types, TTL units, bad data) returns nil and goes to libldns, which stays the
/// one judge of the full syntax and the source of every error message.
enum PlainRecordParser {
    /// Reused between records: the owner name being built and the previous owner, which
    /// a zone file usually repeats (several records per name).
    struct State {
        var previousOwner: DomainName?
        var scratch: [UInt8] = []
    }

    static func parse(_ text: UnsafeRawBufferPointer, inheritsOwner: Bool, origin: DomainName, defaultTTL: UInt32,
                      state: inout State) -> ResourceRecord? {
        var tokens = Tokens(text)
        let owner: DomainName
        if inheritsOwner {
            guard let previous = state.previousOwner else { return nil }
            owner = previous
        } else {
            guard let token = tokens.next() else { return nil }
            guard let name = name(token, origin: origin, reuse: state.previousOwner, scratch: &state.scratch) else { return nil }
            owner = name
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
        let rdata: [UInt8]
        switch type {
        case .a: guard let address = ipv4(data) else { return nil }; rdata = address
        case .aaaa: guard let address = ipv6(data) else { return nil }; rdata = address
        default:
            // `@` in RDATA: left to libldns, which decides what it means there.
            guard !(data.count == 1 && data[0] == UInt8(ascii: "@")),
                  let target = name(data, origin: origin, reuse: nil, scratch: &state.scratch) else { return nil }
            rdata = target.wire
        }
        return ResourceRecord(owner: owner, type: type, rrClass: .in, ttl: ttl ?? defaultTTL, rdata: rdata)
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

    /// A relative or absolute name of letters, digits, `-`, `_` and `*`; `@` for the origin.
    /// `reuse` is returned when it is the same name (no new storage).
    static func name(_ token: UnsafeRawBufferPointer, origin: DomainName, reuse: DomainName?, scratch: inout [UInt8]) -> DomainName? {
        if token.count == 1 && token[0] == UInt8(ascii: "@") { return origin }
        scratch.removeAll(keepingCapacity: true)
        var labelStart = 0
        var absolute = false
        scratch.append(0)
        for (index, byte) in token.enumerated() {
            if byte == UInt8(ascii: ".") {
                let length = scratch.count - labelStart - 1
                guard length > 0, length <= 63 else { return nil }
                scratch[labelStart] = UInt8(length)
                if index == token.count - 1 { absolute = true; break }
                labelStart = scratch.count
                scratch.append(0)
                continue
            }
            guard isPlainNameByte(byte) else { return nil }
            scratch.append(byte)
        }
        if absolute {
            scratch.append(0)
        } else {
            let length = scratch.count - labelStart - 1
            guard length > 0, length <= 63 else { return nil }
            scratch[labelStart] = UInt8(length)
            scratch.append(contentsOf: origin.wire)
        }
        guard scratch.count <= 255 else { return nil }
        if let reuse, reuse.wire == scratch { return reuse }
        // A copy of exactly the name's size: handing over `scratch` itself would leave every
        // name with the scratch buffer's spare capacity (and `scratch` reallocating each time).
        return DomainName(wire: Array(scratch[...]))
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
    static func ipv4(_ token: UnsafeRawBufferPointer) -> [UInt8]? {
        var parts: [UInt8] = []
        parts.reserveCapacity(4)
        var value = 0, digits = 0
        for byte in token {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts.count < 3 else { return nil }
                parts.append(UInt8(value)); value = 0; digits = 0
                continue
            }
            guard byte >= 0x30 && byte <= 0x39, !(digits == 1 && value == 0) else { return nil }
            value = value * 10 + Int(byte - 0x30); digits += 1
            guard value <= 255 else { return nil }
        }
        guard digits > 0, parts.count == 3 else { return nil }
        parts.append(UInt8(value))
        return parts
    }

    /// Through inet_pton, as libldns does: the same addresses are accepted.
    static func ipv6(_ token: UnsafeRawBufferPointer) -> [UInt8]? {
        guard token.count < 64 else { return nil }
        var text = [CChar](repeating: 0, count: token.count + 1)
        for (index, byte) in token.enumerated() { text[index] = CChar(bitPattern: byte) }
        var address = [UInt8](repeating: 0, count: 16)
        let ok = address.withUnsafeMutableBytes { inet_pton(AF_INET6, text, $0.baseAddress) }
        return ok == 1 ? address : nil
    }

    @inline(__always)
    private static func asciiUpper(_ byte: UInt8) -> UInt8 { byte &- 0x61 < 26 ? byte & ~0x20 : byte }
}
