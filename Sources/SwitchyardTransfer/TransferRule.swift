import SwitchyardCore

/// One `--allow-transfer PREFIX[,key=NAME]`: clients in the prefix may transfer, and when a
/// key is named, only with requests signed by that key.
public struct TransferRule: Sendable, CustomStringConvertible {
    public let prefix: AddressPrefix
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
        guard prefixParts.count <= 2, let address = IPAddress.bytes(prefixParts[0]) else {
            throw TransferRuleError("--allow-transfer \(text): `\(parts[0])` is not an address or prefix (e.g. 10.0.0.0/8, 127.0.0.1, ::1/128)")
        }
        guard let prefix = AddressPrefix(parts[0]) else {
            throw TransferRuleError("--allow-transfer \(text): prefix length must be 0...\(address.count * 8)")
        }
        self.prefix = prefix
        self.key = key
    }

    /// Whether `client` (4 or 16 address bytes) is inside the prefix. An IPv4-mapped IPv6
    /// client matches IPv4 prefixes.
    public func contains(_ client: [UInt8]) -> Bool { prefix.contains(client) }

    public var description: String { text }
}

public struct TransferRuleError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
