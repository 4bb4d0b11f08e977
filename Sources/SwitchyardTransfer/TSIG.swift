import CCrypto
import SwitchyardCore

/// TSIG (RFC 8945): the record, MAC computation and verification. The HMAC itself is
/// OpenSSL's libcrypto (the library libldns signs with); this file only lays out the bytes
/// the RFC says are digested. libldns's own `ldns_pkt_tsig_verify_next` checks neither the
/// key name nor the time and `ldns_pkt_tsig_sign_next` cannot write the Error and Other Data
/// fields BADTIME needs, and both would re-encode every transfer message through `ldns_pkt`.
public enum TSIG {
    /// TSIG error codes (RFC 8945 section 3; the extended RCODE registry).
    public static let badSig: UInt16 = 16
    public static let badKey: UInt16 = 17
    public static let badTime: UInt16 = 18

    /// Seconds of clock skew accepted (RFC 8945 section 10 recommends 300).
    public static let defaultFudge: UInt16 = 300

    /// A parsed TSIG record and where it starts in its message.
    public struct Record: Sendable {
        public var keyName: DomainName
        public var algorithm: DomainName
        public var timeSigned: UInt64
        public var fudge: UInt16
        public var mac: [UInt8]
        public var originalID: UInt16
        public var error: UInt16
        public var otherData: [UInt8]
        /// Offset of the record's first byte (the message without it ends there).
        public var start: Int
    }

    public enum ParseResult {
        case unsigned
        case signed(Record)
        /// A TSIG record that is not last, or does not parse: FORMERR (RFC 8945 section 5.1).
        case malformed
    }

    /// Finds the TSIG record, which must be the last one of the additional section.
    public static func find(in message: UnsafeRawBufferPointer) -> ParseResult {
        guard message.count >= 12 else { return .malformed }
        let counts = (4..<8).map { Int(message[$0 * 2 - 4]) << 8 | Int(message[$0 * 2 - 3]) }
        var position = 12
        for _ in 0..<counts[0] {
            guard let end = WireName.skip(message, from: position), end + 4 <= message.count else { return .malformed }
            position = end + 4
        }
        let records = counts[1] + counts[2] + counts[3]
        var found: Record?
        for index in 0..<records {
            let start = position
            guard let (owner, nameEnd) = WireName.read(message, at: position), nameEnd + 10 <= message.count else { return .malformed }
            let type = be16(message, nameEnd)
            let rdlength = Int(be16(message, nameEnd + 8))
            let rdata = nameEnd + 10
            guard rdata + rdlength <= message.count else { return .malformed }
            if type == RRType.tsig.rawValue {
                guard index == records - 1, counts[3] > 0,
                      let record = parseRData(message, owner: owner, from: rdata, to: rdata + rdlength, start: start) else { return .malformed }
                found = record
            }
            position = rdata + rdlength
        }
        return found.map { .signed($0) } ?? .unsigned
    }

    private static func parseRData(_ m: UnsafeRawBufferPointer, owner: DomainName, from: Int, to end: Int, start: Int) -> Record? {
        guard let (algorithm, p) = WireName.read(m, at: from), p + 10 <= end else { return nil }
        let time = UInt64(be16(m, p)) << 32 | UInt64(be16(m, p + 2)) << 16 | UInt64(be16(m, p + 4))
        let fudge = be16(m, p + 6)
        let macSize = Int(be16(m, p + 8))
        guard p + 10 + macSize + 6 <= end else { return nil }
        let mac = Array(m[(p + 10)..<(p + 10 + macSize)])
        let q = p + 10 + macSize
        let otherLength = Int(be16(m, q + 4))
        guard q + 6 + otherLength == end else { return nil }
        return Record(keyName: owner, algorithm: algorithm, timeSigned: time, fudge: fudge, mac: mac,
                      originalID: be16(m, q), error: be16(m, q + 2), otherData: Array(m[(q + 6)..<end]), start: start)
    }

    /// HMAC of `data` under `key` with its algorithm.
    public static func hmac(_ key: TSIGKey, _ data: [UInt8]) -> [UInt8] {
        let digest: OpaquePointer?
        switch key.algorithm {
        case .hmacSHA1: digest = EVP_sha1()
        case .hmacSHA384: digest = EVP_sha384()
        case .hmacSHA512: digest = EVP_sha512()
        default: digest = EVP_sha256()
        }
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        key.secret.withUnsafeBytes { secret in
            data.withUnsafeBytes { bytes in
                _ = HMAC(digest, secret.baseAddress, Int32(secret.count),
                         bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    /// The TSIG variables (RFC 8945 section 4.3.3), or only the timers (section 4.3.1,
    /// every message of a multi-message answer after the first).
    static func variables(key: TSIGKey, time: UInt64, fudge: UInt16, error: UInt16, other: [UInt8], timersOnly: Bool) -> [UInt8] {
        var out: [UInt8] = []
        if !timersOnly {
            out += key.name.key
            out += [0, 255, 0, 0, 0, 0]  // class ANY, TTL 0
            out += key.algorithm.wireName.key
        }
        out += [UInt8(time >> 40 & 0xFF), UInt8(time >> 32 & 0xFF), UInt8(time >> 24 & 0xFF),
                UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF)]
        out += u16(fudge)
        if !timersOnly {
            out += u16(error) + u16(UInt16(other.count)) + other
        }
        return out
    }

    /// What is digested: the prior MAC (request MAC, or the previous message's), the
    /// message without its TSIG record and with the original ID, then the variables.
    static func digestInput(message: ArraySlice<UInt8>, arcountAdjust: Int, originalID: UInt16, priorMAC: [UInt8]?,
                            variables: [UInt8]) -> [UInt8] {
        var data: [UInt8] = []
        if let priorMAC { data += u16(UInt16(priorMAC.count)) + priorMAC }
        var body = Array(message)
        if body.count >= 12 {
            body[0] = UInt8(originalID >> 8); body[1] = UInt8(originalID & 0xFF)
            let arcount = Int(body[10]) << 8 | Int(body[11]) + arcountAdjust
            body[10] = UInt8(arcount >> 8 & 0xFF); body[11] = UInt8(arcount & 0xFF)
        }
        return data + body + variables
    }

    /// Checks the MAC of a signed message (RFC 8945 section 5.2.2). A truncated MAC is
    /// accepted down to max(10, half the hash) bytes (section 5.2.2.1).
    public static func verify(_ message: UnsafeRawBufferPointer, record: Record, key: TSIGKey, priorMAC: [UInt8]?, timersOnly: Bool = false) -> Bool {
        let minimum = max(10, key.algorithm.macLength / 2)
        guard record.mac.count >= minimum, record.mac.count <= key.algorithm.macLength else { return false }
        let vars = variables(key: key, time: record.timeSigned, fudge: record.fudge, error: record.error, other: record.otherData, timersOnly: timersOnly)
        let input = digestInput(message: Array(message[0..<record.start])[...], arcountAdjust: -1, originalID: record.originalID,
                                priorMAC: priorMAC, variables: vars)
        let expected = hmac(key, input)
        return expected.withUnsafeBytes { a in
            record.mac.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, record.mac.count) == 0 }
        }
    }

    /// Appends a TSIG record to `message` and counts it in ARCOUNT. With `key` the MAC is
    /// computed (`priorMAC` first when this answers a signed message); without one the MAC is
    /// empty (BADKEY and BADSIG answers, RFC 8945 section 5.3.2). Returns the MAC.
    @discardableResult
    public static func sign(_ message: inout [UInt8], key: TSIGKey?, keyName: DomainName, algorithm: DomainName,
                            time: UInt64, fudge: UInt16 = defaultFudge, originalID: UInt16, error: UInt16 = 0,
                            other: [UInt8] = [], priorMAC: [UInt8]?, timersOnly: Bool = false) -> [UInt8] {
        var mac: [UInt8] = []
        if let key {
            let vars = variables(key: key, time: time, fudge: fudge, error: error, other: other, timersOnly: timersOnly)
            mac = hmac(key, digestInput(message: message[...], arcountAdjust: 0, originalID: originalID, priorMAC: priorMAC, variables: vars))
        }
        var rdata = algorithm.wire
        rdata += [UInt8(time >> 40 & 0xFF), UInt8(time >> 32 & 0xFF), UInt8(time >> 24 & 0xFF),
                  UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF)]
        rdata += u16(fudge) + u16(UInt16(mac.count)) + mac + u16(originalID) + u16(error) + u16(UInt16(other.count)) + other
        message += keyName.wire + u16(RRType.tsig.rawValue) + [0, 255, 0, 0, 0, 0] + u16(UInt16(rdata.count)) + rdata
        let arcount = (Int(message[10]) << 8 | Int(message[11])) + 1
        message[10] = UInt8(arcount >> 8 & 0xFF); message[11] = UInt8(arcount & 0xFF)
        return mac
    }

    /// A 48-bit time as Other Data (BADTIME answers carry the server's clock).
    public static func time48(_ time: UInt64) -> [UInt8] {
        [UInt8(time >> 40 & 0xFF), UInt8(time >> 32 & 0xFF), UInt8(time >> 24 & 0xFF),
         UInt8(time >> 16 & 0xFF), UInt8(time >> 8 & 0xFF), UInt8(time & 0xFF)]
    }

    /// Bytes a TSIG record with `key` adds to a message.
    public static func size(_ key: TSIGKey?, keyName: DomainName, algorithm: DomainName) -> Int {
        keyName.wire.count + 10 + algorithm.wire.count + 16 + (key?.algorithm.macLength ?? 0) + 6
    }
}

@inline(__always) func u16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

@inline(__always) func be16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

/// Names inside received messages, compression pointers followed (loops refused).
enum WireName {
    static func skip(_ m: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var position = start
        while position < m.count {
            let length = Int(m[position])
            if length == 0 { return position + 1 }
            if length & 0xC0 == 0xC0 { return position + 2 <= m.count ? position + 2 : nil }
            guard length <= 63 else { return nil }
            position += 1 + length
        }
        return nil
    }

    static func read(_ m: UnsafeRawBufferPointer, at start: Int) -> (DomainName, Int)? {
        var wire: [UInt8] = [], position = start, end: Int?, hops = 0
        while position < m.count {
            let length = Int(m[position])
            if length & 0xC0 == 0xC0 {
                guard position + 1 < m.count, hops < 64 else { return nil }
                hops += 1
                if end == nil { end = position + 2 }
                position = (length & 0x3F) << 8 | Int(m[position + 1])
                continue
            }
            guard length <= 63, position + 1 + length <= m.count, wire.count + 1 + length <= 255 else { return nil }
            wire += m[position..<(position + 1 + length)]
            position += 1 + length
            if length == 0 {
                guard let name = DomainName(wire: wire) else { return nil }
                return (name, end ?? position)
            }
        }
        return nil
    }
}
