import Yams

extension InventoryReader {
    /// The text of a single value, or `nil` (reported) for a list, mapping or empty value.
    func scalar(_ node: Node, line: Int, field: String, expected: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node.mark?.line ?? line, field, "must be \(expected), not a list or mapping")
            return nil
        }
        if isNull(scalar) {
            report(scalar.mark?.line ?? line, field, "is empty: give \(expected)")
            return nil
        }
        return scalar.string
    }

    func scalar(_ entry: Entry, field: String, expected: String) -> String? {
        scalar(entry.value, line: entry.line, field: field, expected: expected)
    }

    /// A decimal integer within `range`; `what` completes "must be ...".
    func integer(_ entry: Entry, field: String, range: ClosedRange<Int>, what: String) -> Int? {
        guard let text = scalar(entry, field: field, expected: what) else { return nil }
        guard let value = Self.decimal(text), range.contains(value) else {
            report(entry.valueLine, field, "'\(text)' is not \(what)")
            return nil
        }
        return value
    }

    /// Plain decimal digits only: `0x10`, `1e3`, `+5` and `1_000` are refused as ambiguous.
    static func decimal(_ text: String) -> Int? {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    /// RFC 2181 §8: a TTL is 0 to 2^31 - 1 seconds.
    func ttl(_ entry: Entry, field: String) -> UInt32? {
        integer(entry, field: field, range: 0...2_147_483_647, what: "a TTL in seconds from 0 to 2147483647")
            .map { UInt32($0) }
    }

    func port(_ entry: Entry, field: String) -> Int? {
        integer(entry, field: field, range: 1...65535, what: "a port number from 1 to 65535")
    }

    func bool(_ entry: Entry, field: String) -> Bool? {
        guard let text = scalar(entry, field: field, expected: "true or false") else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            report(entry.valueLine, field, "'\(text)' is not a boolean: write true or false")
            return nil
        }
    }

    /// One of a fixed set of words.
    func choice<T: RawRepresentable & CaseIterable>(_ entry: Entry, field: String, as: T.Type) -> T? where T.RawValue == String {
        let words = T.allCases.map(\.rawValue).joined(separator: " or ")
        guard let text = scalar(entry, field: field, expected: words) else { return nil }
        guard let value = T(rawValue: text) else {
            report(entry.valueLine, field, "'\(text)' is not allowed: write \(words)")
            return nil
        }
        return value
    }

    /// Durations as `500ms`, `5s`, `1m` or `1h`: one positive integer and a unit.
    func duration(_ entry: Entry, field: String) -> Duration? {
        guard let text = scalar(entry, field: field, expected: "a duration such as 500ms, 5s or 1m") else { return nil }
        if let duration = Self.parseDuration(text) { return duration }
        report(entry.valueLine, field, "'\(text)' is not a duration: write a positive number and a unit, e.g. 500ms, 5s, 1m or 1h")
        return nil
    }

    static func parseDuration(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard let value = decimal(String(digits)), value > 0 else { return nil }
        switch text.dropFirst(digits.count) {
        case "ms": return .milliseconds(value)
        case "s": return .seconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        default: return nil
        }
    }

    /// The items of a list, each with its line; `nil` (reported) when not a list.
    func sequence(_ entry: Entry, field: String, expected: String) -> [(node: Node, line: Int)]? {
        guard case .sequence(let sequence) = entry.value else {
            report(entry.valueLine, field, "must be a list, e.g. \(expected)")
            return nil
        }
        return sequence.map { ($0, $0.mark?.line ?? entry.line) }
    }

    /// Parses a target, reporting what kind of value it failed to be.
    func target(_ text: String, line: Int, field: String) -> Target? {
        switch Target.parse(text, origin: origin) {
        case .success(let target):
            return target
        case .failure(.badIPv4):
            report(line, field, "'\(text)' is not an IPv4 address (four numbers 0-255, no leading zeros)")
        case .failure(.badIPv6):
            report(line, field, "'\(text)' is not an IPv6 address")
        case .failure(.badHostname(let why)):
            report(line, field, "'\(text)' is neither an IPv4 address, an IPv6 address nor a valid hostname (\(why))")
        }
        return nil
    }

    /// A pool or discovery-type word: `[a-z0-9_-]+`.
    static func isSimpleWord(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
