/// Where a stable name points: an address (answered as A/AAAA) or a hostname (answered as a
/// CNAME, chased when inside a served zone).
public enum Target: Sendable, Hashable, CustomStringConvertible {
    /// Four bytes, network order.
    case ipv4([UInt8])
    /// Sixteen bytes, network order.
    case ipv6([UInt8])
    /// An absolute, lowercase name with the trailing dot.
    case hostname(String)

    /// Dotted quad, RFC 5952 text for IPv6, or the absolute hostname.
    public var description: String {
        switch self {
        case .ipv4(let bytes):
            return bytes.map(String.init).joined(separator: ".")
        case .ipv6(let bytes):
            return Target.formatIPv6(bytes)
        case .hostname(let name):
            return name
        }
    }

    /// Why a text is not a target.
    public enum ParseFailure: Error, Equatable, Sendable {
        case badIPv4
        case badIPv6
        case badHostname(String)
    }

    /// Parses an IPv4 address, an IPv6 address, or a hostname. A relative hostname (no trailing
    /// dot) is taken relative to `origin`, as in a zone file.
    public static func parse(_ text: String, origin: String) -> Result<Target, ParseFailure> {
        if text.contains(":") {
            guard let bytes = parseIPv6(text) else { return .failure(.badIPv6) }
            return .success(.ipv6(bytes))
        }
        // Only digits and dots can't be a hostname (RFC 3696 §2: a TLD is never all-numeric),
        // so it has to be an IPv4 address.
        if !text.isEmpty, text.allSatisfy({ $0 == "." || $0.isASCII && $0.isNumber }) {
            guard let bytes = parseIPv4(text) else { return .failure(.badIPv4) }
            return .success(.ipv4(bytes))
        }
        switch DomainName.absolute(text, origin: origin) {
        case .success(let name): return .success(.hostname(name))
        case .failure(let why): return .failure(.badHostname(why.description))
        }
    }

    /// Strict dotted quad: four decimal parts 0–255 without leading zeros (which some tools
    /// read as octal).
    public static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part == "0" || !part.hasPrefix("0"), let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// RFC 4291 §2.2 text forms: eight groups, `::` for one run of zero groups, and an optional
    /// dotted-quad tail. Zone indexes (`%eth0`) are refused: they mean nothing in DNS data.
    public static func parseIPv6(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, !text.contains("%") else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }

        func groups(_ part: String, allowIPv4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, allowIPv4Tail, piece.contains(".") {
                    guard let v4 = parseIPv4(String(piece)) else { return nil }
                    result.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    result.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                result.append(value)
            }
            return result
        }

        let all: [UInt16]
        if halves.count == 2 {
            guard let head = groups(halves[0], allowIPv4Tail: false),
                  let tail = groups(halves[1], allowIPv4Tail: true),
                  head.count + tail.count <= 7
            else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let only = groups(halves[0], allowIPv4Tail: true), only.count == 8 else { return nil }
            all = only
        }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// RFC 5952 §4: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as `::`.
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return "<bad ipv6>" }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// Domain-name text checks shared by targets and `names:` entries.
enum DomainName {
    /// RFC 1035 §2.3.4: 255 octets on the wire, i.e. 253 characters of text without the root dot.
    static let maxTextLength = 253

    /// Why a text is not a valid name, in words.
    struct Problem: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Makes `text` absolute and lowercase (relative names are relative to `origin`), checking
    /// each label: 1–63 characters of letters, digits, `-` and `_`, not starting or ending with `-`.
    static func absolute(_ text: String, origin: String) -> Result<String, Problem> {
        guard !text.isEmpty else { return .failure(Problem("empty name")) }
        if text == "@" { return .success(origin) }
        let lower = text.lowercased()
        let full = lower.hasSuffix(".") ? lower : lower + "." + origin
        let labels = full.dropLast().split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            if label.isEmpty { return .failure(Problem("empty label (two dots in a row)")) }
            if label.count > 63 { return .failure(Problem("label '\(label)' is longer than 63 characters")) }
            let allowed = label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            if !allowed { return .failure(Problem("label '\(label)' may hold only letters, digits, '-' and '_'")) }
            if label.hasPrefix("-") || label.hasSuffix("-") {
                return .failure(Problem("label '\(label)' must not start or end with '-'"))
            }
        }
        if full.count - 1 > maxTextLength { return .failure(Problem("name is longer than 253 characters")) }
        return .success(full)
    }

    /// `name` is `origin` or below it (both absolute, lowercase).
    static func isInside(_ name: String, origin: String) -> Bool {
        name == origin || name.hasSuffix("." + origin) || origin == "."
    }

    /// A DNS label usable for a cluster name: lowercase letters, digits and inner hyphens.
    static func isClusterLabel(_ text: String) -> Bool {
        guard (1...63).contains(text.count), !text.hasPrefix("-"), !text.hasSuffix("-") else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }
}
