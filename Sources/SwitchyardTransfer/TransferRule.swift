import Glibc
import SwitchyardCore

/// One `--allow-transfer PREFIX[,key=NAME]`: clients in the prefix may transfer, and when a
/// key is named, only with requests signed by that key.
public struct TransferRule: Sendable, CustomStringConvertible {
    public let address: [UInt8]
    public let prefixLength: Int
    public let key: DomainName?
    public let text: String

    /// `10.0.0.0/8`, `127.0.0.1`, `::1/128,key=xfr`. Throws a message naming what is wrong.
    public init(_ text: String, keyring: TSIGKeyring) throws(TransferRuleError) {
        self.text = text
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var key: DomainName?
        for option in parts.dropFirst() {
            guard option.hasPrefix("key="), option.count > 4 else {
                throw TransferRuleError("--allow-transfer \(text): unknown option `\(option)`; expected key=NAME")
            }
            let name = String(option.dropFirst(4))
            guard let found = keyring.key(named: name) else {
                throw TransferRuleError("--allow-transfer \(text): no key `\(name)` in --tsig-key-file" + (keyring.keys.isEmpty ? " (none given)" : " (it has \(keyring.keys.map(\.displayName).joined(separator: ", ")))"))
            }
            key = found.name
        }
        let prefixParts = parts[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard prefixParts.count <= 2, let bytes = Self.parseAddress(prefixParts[0]) else {
            throw TransferRuleError("--allow-transfer \(text): `\(parts[0])` is not an address or prefix (e.g. 10.0.0.0/8, 127.0.0.1, ::1/128)")
        }
        let length = prefixParts.count == 2 ? Int(prefixParts[1]) : bytes.count * 8
        guard let length, (0...(bytes.count * 8)).contains(length) else {
            throw TransferRuleError("--allow-transfer \(text): prefix length must be 0...\(bytes.count * 8)")
        }
        self.address = bytes
        self.prefixLength = length
        self.key = key
    }

    /// Whether `client` (4 or 16 address bytes) is inside the prefix. An IPv4-mapped IPv6
    /// client matches IPv4 prefixes.
    public func contains(_ client: [UInt8]) -> Bool {
        var client = client
        if client.count == 16 && address.count == 4 && client[0..<10].allSatisfy({ $0 == 0 }) && client[10] == 0xFF && client[11] == 0xFF {
            client = Array(client[12...])
        }
        guard client.count == address.count else { return false }
        var remaining = prefixLength
        for index in 0..<address.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if client[index] & mask != address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { text }

    static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

public struct TransferRuleError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
