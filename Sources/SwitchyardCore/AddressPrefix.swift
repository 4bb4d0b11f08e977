import Glibc

/// IP addresses as 4 or 16 bytes, read and spelled by inet_pton and inet_ntop, so that every
/// module accepts the same addresses and writes each one the same way (RFC 5952 for IPv6).
public enum IPAddress {
    /// The bytes of an IPv4 or IPv6 address, or nil.
    public static func bytes(_ text: String) -> [UInt8]? {
        var storage = [UInt8](repeating: 0, count: 16)
        for (family, size) in [(AF_INET, 4), (AF_INET6, 16)] {
            let ok = storage.withUnsafeMutableBytes { bytes in text.withCString { inet_pton(family, $0, bytes.baseAddress) } }
            if ok == 1 { return Array(storage.prefix(size)) }
        }
        return nil
    }

    /// inet_ntop's spelling of 4 or 16 address bytes (`fd00:8::5`).
    public static func text(_ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 16 ? AF_INET6 : AF_INET
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) }
        return ok == nil ? bytes.map(String.init).joined(separator: ".")
            : String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address prefix such as `192.0.2.0/24` or `2001:db8::/32`: the response-rate limiter's
/// whitelist, the clients `--allow-transfer` lets in.
public struct AddressPrefix: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]
    public let length: Int

    /// Parses `ADDRESS/LENGTH` (or a bare address, a prefix of its full length).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress.bytes(String(parts[0])) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...address.count * 8).contains(given) else { return nil }
            length = given
        } else {
            length = address.count * 8
        }
        self.bytes = address
        self.length = length
    }

    public var description: String { IPAddress.text(bytes) + "/\(length)" }

    /// Whether `address` (4 or 16 bytes) is inside the prefix. An IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`, a v4 client on a dual-stack socket) is matched as its IPv4 address.
    public func contains(_ address: UnsafeRawBufferPointer) -> Bool {
        if address.count == 16 && bytes.count == 4 && Self.isIPv4Mapped(address) {
            return contains(UnsafeRawBufferPointer(rebasing: address[12...]))
        }
        guard address.count == bytes.count else { return false }
        var bits = length, index = 0
        while bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if address[index] & mask != bytes[index] & mask { return false }
            bits -= 8; index += 1
        }
        return true
    }

    public func contains(_ address: [UInt8]) -> Bool {
        address.withUnsafeBytes { contains($0) }
    }

    private static func isIPv4Mapped(_ address: UnsafeRawBufferPointer) -> Bool {
        address[0..<10].allSatisfy { $0 == 0 } && address[10] == 0xFF && address[11] == 0xFF
    }
}
