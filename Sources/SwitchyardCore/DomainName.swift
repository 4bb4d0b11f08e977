/// A domain name kept in uncompressed wire format (length-prefixed labels ending in the
/// root label). The original letter case is kept for output; `key` is the lowercase form
/// used for every comparison (RFC 4343).
public struct DomainName: Hashable, Sendable, CustomStringConvertible {
    /// Wire format, original case.
    public let wire: [UInt8]
    /// Wire format, ASCII lowercase: the identity of the name.
    public let key: [UInt8]

    public static let root = DomainName(validatedWire: [0])

    init(validatedWire wire: [UInt8]) {
        self.wire = wire
        // Most names are already lowercase: share the storage instead of copying it.
        self.key = wire.contains(where: { $0 &- 0x41 < 26 }) ? wire.map(asciiLowercase) : wire
    }

    /// Builds a name from uncompressed wire bytes; nil when they are not one valid name.
    public init?(wire: [UInt8]) {
        guard let end = DomainName.validate(wire[...]), end == wire.count else { return nil }
        self.init(validatedWire: wire)
    }

    /// Parses presentation format (`www.example.`). Relative names are made absolute with
    /// `origin`. Supports `\.` and `\DDD` escapes.
    public init?(_ text: String, origin: DomainName? = nil) {
        if text == "." { self = .root; return }
        if text == "@", let origin { self = origin; return }
        var wire: [UInt8] = []
        var label: [UInt8] = []
        var absolute = false
        var bytes = Array(text.utf8)[...]
        func closeLabel() -> Bool {
            guard !label.isEmpty, label.count <= 63 else { return false }
            wire.append(UInt8(label.count)); wire.append(contentsOf: label); label.removeAll()
            return true
        }
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "\\"):
                guard let next = bytes.popFirst() else { return nil }
                if next >= 0x30 && next <= 0x39 {
                    let digits = [next] + Array(bytes.prefix(2))
                    guard digits.count == 3, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
                    bytes = bytes.dropFirst(2)
                    let value = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                    guard value <= 255 else { return nil }
                    label.append(UInt8(value))
                } else {
                    label.append(next)
                }
            case UInt8(ascii: "."):
                guard closeLabel() else { return nil }
                if bytes.isEmpty { absolute = true }
            default:
                label.append(byte)
            }
        }
        if !label.isEmpty { guard closeLabel() else { return nil } }
        if absolute {
            wire.append(0)
        } else {
            guard let origin else { return nil }
            wire.append(contentsOf: origin.wire)
        }
        guard wire.count <= 255 else { return nil }
        self.init(validatedWire: wire)
    }

    /// Validates an uncompressed name at the start of `bytes`; returns the index just past it.
    static func validate(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let length = Int(bytes[index])
            if length == 0 { return index + 1 - bytes.startIndex <= 255 ? index + 1 : nil }
            guard length <= 63 else { return nil }
            index += 1 + length
        }
        return nil
    }

    public var labelCount: Int {
        var count = 0, index = 0
        while wire[index] != 0 { count += 1; index += 1 + Int(wire[index]) }
        return count
    }

    public var isRoot: Bool { wire.count == 1 }

    /// The name with its first label removed; nil for the root.
    public var parent: DomainName? {
        guard !isRoot else { return nil }
        return DomainName(validatedWire: Array(wire[(1 + Int(wire[0]))...]))
    }

    /// True when this name equals `other` or lies below it.
    public func isSubdomain(of other: DomainName) -> Bool {
        key.withUnsafeBytes { key in other.key.withUnsafeBytes { DomainName.isSubdomain(key, of: $0) } }
    }

    /// The same for two valid lowercase wire-format names held elsewhere (zone storage, a packet).
    static func isSubdomain(_ key: UnsafeRawBufferPointer, of other: UnsafeRawBufferPointer) -> Bool {
        guard key.count >= other.count else { return false }
        var index = 0
        while index < key.count {
            if key.count - index == other.count { return memoryEqual(key.baseAddress! + index, other.baseAddress!, other.count) }
            index += 1 + Int(key[index])
        }
        return false
    }

    /// Builds a name from wire bytes already known to be one valid name (zone storage).
    init(validWire bytes: UnsafeRawBufferPointer) { self.init(validatedWire: [UInt8](bytes)) }


    public static func == (lhs: DomainName, rhs: DomainName) -> Bool { lhs.key == rhs.key }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    /// Presentation format with a trailing dot; special bytes escaped.
    public var description: String {
        if isRoot { return "." }
        var text = ""
        var index = 0
        while wire[index] != 0 {
            let length = Int(wire[index])
            for byte in wire[(index + 1)...(index + length)] {
                switch byte {
                case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"),
                     UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                    text += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7E:
                    text += String(UnicodeScalar(byte))
                default:
                    let digits = String(byte)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            text += "."
            index += 1 + length
        }
        return text
    }
}

@inline(__always)
func asciiLowercase(_ byte: UInt8) -> UInt8 {
    byte &- 0x41 < 26 ? byte | 0x20 : byte
}

/// Copies `count` bytes, turning ASCII capitals into lowercase (RFC 4343) eight at a time:
/// per byte, bit 7 of (low seven bits + 0x3F) says ">= 'A'" and of (+ 0x25) says "> 'Z'";
/// neither sum carries into the next byte, and bytes >= 0x80 are left alone.
@inline(__always)
func copyLowercase(from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer, count: Int) {
    let high: UInt64 = 0x8080_8080_8080_8080
    var offset = 0
    while offset + 8 <= count {
        let word = source.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        let capital = (low &+ 0x3F3F_3F3F_3F3F_3F3F) & ~(low &+ 0x2525_2525_2525_2525) & ~word & high
        target.storeBytes(of: word | (capital >> 2), toByteOffset: offset, as: UInt64.self)
        offset += 8
    }
    while offset < count {
        target.storeBytes(of: asciiLowercase(source.load(fromByteOffset: offset, as: UInt8.self)), toByteOffset: offset, as: UInt8.self)
        offset += 1
    }
}
